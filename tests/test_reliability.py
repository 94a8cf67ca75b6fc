"""Reliability (issue 9): faults, bad input, safety and reproducibility, each with a test that can fail.

* Interruption: a training run in a subprocess is SIGKILLed at a random point (twice), resumes from
  its last checkpoint and ends bitwise equal to an uninterrupted run; a store sweep killed half-way
  (also in the middle of a write) keeps every finished run and recomputes only the rest.
* Corruption and staleness: damaged manifests, planted files and altered checkpoints are reported by
  name; a run of another engine version is stale, also when training is switched off; a process that
  dies holding a run's lock does not block or corrupt the next one (two real processes).
* Bad input: the one config validator rejects each kind of bad value for each kind of field spec,
  naming ``Class.field = value`` and what is allowed; every field of every config class has a spec;
  the checks between fields name both sides; hypothesis explores the config space and the renderers
  (no NaN, no clipping, edges as documented).
* Safety: every ``torch.load`` uses ``weights_only=True``; pickles planted in checkpoints or in the
  results folder do not execute; a workload and a figure run inside a network namespace with no network.
* Reproducibility: the same seed in two processes gives identical numbers on the CPU.

The random kill points come from a seed printed in every failure message; set
``COMPDIFF_FAULT_SEED`` to replay one. Child processes re-import this module and run
:func:`_child` (one thread each, like the tests).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compdiff import config, data, experiments, paths, store
from compdiff.experiments import ConfigError

TESTS = Path(__file__).resolve().parent
ROOT = paths.ROOT
STEPS = 16  # training steps of the fault runs (batch 8: 128 images, ~1.5 s on one CPU thread)
SIZE = 8  # the micro preset at 8×8: attention at 4×4, a 1×1 bottleneck; every code path, cheaply
CHILD = os.environ.get("COMPDIFF_RELIABILITY_CHILD") == "1"  # set in the child processes
PROPERTY = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _fault_seed() -> int:
    return int(os.environ.get("COMPDIFF_FAULT_SEED") or int.from_bytes(os.urandom(4), "little"))


def _env(tmp: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0", COMPDIFF_RELIABILITY_CHILD="1",
               COMPDIFF_RESULTS=str(tmp / "results"), COMPDIFF_RUNS=str(tmp / "runs"))
    env.pop("COMPDIFF_NO_TRAIN", None)
    lib = Path(store.__file__).resolve().parents[1]  # the children use the library this process uses
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(lib), env.get("PYTHONPATH", "")])
    return env


def _child_cmd(*args) -> list[str]:
    return [sys.executable, "-c", "import sys, test_reliability as r; r._child(sys.argv[1:])", *map(str, args)]


def _popen(tmp: Path, *args) -> subprocess.Popen:
    return subprocess.Popen(_child_cmd(*args), cwd=ROOT, env=_env(tmp), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# ---------------------------------------------------------------------------------------------
# workloads shared by the tests and their child processes


def _train_data():
    ds = data.bump_dataset(1.0, n=4, d=2.0, frame=SIZE)  # 16 labels, 8×8 images
    return data.to_model_range(ds.images), ds.labels


def _spec():
    from compdiff.diffusion import DiffusionConfig
    from compdiff.train import RunSpec, TrainConfig
    from compdiff.unet import PRESETS

    # every resume-relevant state in play: cosine lr after warmup, clipping, EMA, loss averages
    # that straddle a checkpoint (log every 2 steps), a snapshot mid-run, last.pt every step
    return RunSpec(
        dataclasses.replace(PRESETS["micro"], image_size=SIZE), DiffusionConfig(T=100),
        TrainConfig(lr=2e-3, batch_size=8, images=8 * STEPS, lr_schedule="cosine", warmup_images=16,
                    grad_clip=1.0, ema_decay=0.9, bf16=False, seed=5, checkpoint_every_images=64,
                    resume_every_images=8, log_every_images=16),
    )


def _summary(res, out_dir: Path) -> dict:
    """What a run ends with: weights, loss curve, snapshots, and samples of its EMA model."""
    import torch

    from compdiff.diffusion import make_schedule, sample_ddim
    from compdiff.train import load_checkpoint

    spec = _spec()
    _, labels = _train_data()
    samples = sample_ddim(res.ema_model, make_schedule(spec.diffusion), labels[:4], steps=5, eta=1.0,
                          seed=11, device="cpu", shape=(1, SIZE, SIZE))
    return {
        "raw": {k: v.detach().cpu() for k, v in res.raw_model.state_dict().items()},
        "ema": {k: v.detach().cpu() for k, v in res.ema_model.state_dict().items()},
        "loss_curve": [[i, v] for i, v in res.loss_curve],
        "images_seen": res.images_seen,
        "samples": samples,
        "snapshots": {p.name: load_checkpoint(p)["raw"] for p in sorted(out_dir.glob("ckpt_*.pt"))},
        "torch_threads": torch.get_num_threads(),
    }


def _numbers() -> dict:
    """Seeded numbers of the non-training code paths: renders, percolation, sampling an untrained net."""
    import torch

    from compdiff import percolation
    from compdiff.diffusion import DiffusionConfig, make_schedule, sample_ddim
    from compdiff.train import _build_model
    from compdiff.unet import PRESETS

    lab = data.lattice(4, 3.0, start=7.0)
    cfg = experiments.percolation_config("smoke")
    net = _build_model(dataclasses.replace(PRESETS["micro"], image_size=SIZE), seed=2).eval()
    return {
        "renders": np.concatenate([data.render(k, lab, 1.3, canvas=44 if k != "bump" else None)
                                   for k in data.KINDS]).tolist(),
        "mask": data.subsample_mask(100, 0.3, seed=4).tolist(),
        "percolation": percolation.mass_ratio_curves(cfg.sigmas, cfg.keep_fractions, cfg.thresholds[0], L=8,
                                                     trials=cfg.trials, seed=cfg.seed).tolist(),
        "samples": sample_ddim(net, make_schedule(DiffusionConfig(T=20)), lab[:3], steps=4, eta=1.0,
                               seed=3, device="cpu", shape=(1, SIZE, SIZE)).flatten().tolist(),
        "untrained_weights": float(sum(p.detach().double().sum() for p in net.parameters())),
        "torch_threads": torch.get_num_threads(),
    }


def _assert_identical(a, b, where="") -> None:
    import torch

    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f"{where}: max |Δ| = {(a.double() - b.double()).abs().max().item():.3g}"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_identical(a[k], b[k], f"{where}.{k}")
    else:
        assert a == b, where


SWEEP_N = 6


def _sweep_config(k: int) -> dict:
    return {"sweep": "reliability", "k": k}


def _sweep_artifacts(k: int) -> dict:
    x = np.random.default_rng(k).standard_normal(100_000).astype(np.float32)
    return {"metrics": {"k": k, "mean": float(x.mean())}, "arrays": {"x": x}}


RACE_CFG = {"race": 1}


def _child(argv: list[str]) -> None:
    """Entry point of the child processes (see _child_cmd)."""
    mode, *args = argv
    if mode == "train":  # train (or resume) the fault run; print every checkpoint as it lands
        import torch

        from compdiff import train as T

        torch.set_num_threads(1)
        save = T._save_ckpt

        def announced(path, obj):
            save(path, obj)
            print(f"saved {Path(path).name} {obj['images_seen']}", flush=True)

        T._save_ckpt = announced
        out, summary = Path(args[0]), Path(args[1])
        x, y = _train_data()
        res = T.train(_spec(), x, y, out, device="cpu", progress=False)
        torch.save({"summary": _summary(res, out), "resumed_from_images": res.resumed_from_images,
                    "completed": res.completed}, summary)
    elif mode == "numbers":
        import torch

        torch.set_num_threads(1)
        Path(args[0]).write_text(json.dumps(_numbers()))
    elif mode == "sweep":  # a sweep over SWEEP_N store runs; a write pauses after its first file
        write_artifact = store._write_artifact

        def slow(tmp, name, value):
            fname = write_artifact(tmp, name, value)
            if name == "metrics":
                print(f"writing {value['k']}", flush=True)
                time.sleep(0.1)
            return fname

        store._write_artifact = slow
        for k in range(SWEEP_N):
            store.load_or_compute("sweep", _sweep_config(k), lambda k=k: _sweep_artifacts(k))
            print(f"done {k}", flush=True)
    elif mode == "hold":  # take the run's lock and compute forever
        def forever():
            print("computing", flush=True)
            time.sleep(120)
            return {"metrics": {"by": "holder"}}

        store.load_or_compute("race", RACE_CFG, forever)
    elif mode == "race":
        store.load_or_compute("race", RACE_CFG, lambda: {"metrics": {"by": "second"}})
        print("computed", flush=True)
    elif mode == "offline":  # the network test's workload
        import socket

        try:
            socket.create_connection(("1.1.1.1", 80), timeout=2).close()
            raise SystemExit("network reachable inside the namespace")
        except OSError:
            pass
        import torch

        from compdiff.train import train

        torch.set_num_threads(1)
        cfg = experiments.percolation_config("smoke")
        run = store.load_or_compute("offline", cfg, lambda: {"numbers": _numbers()})
        x, y = _train_data()
        spec = _spec()
        spec = dataclasses.replace(spec, train=dataclasses.replace(
            spec.train, images=16, warmup_images=0, checkpoint_every_images=None))
        res = train(spec, x, y, Path(args[0]), device="cpu", progress=False)
        print(f"offline ok {run.run_id} {res.images_seen}", flush=True)
    else:
        raise SystemExit(f"unknown child mode {mode!r}")


# ---------------------------------------------------------------------------------------------
# Interruption and reproducibility


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The fault run trained without interruption, in a child process."""
    import torch

    tmp = tmp_path_factory.mktemp("reference")
    r = subprocess.run(_child_cmd("train", tmp / "run", tmp / "summary.pt"), cwd=ROOT, env=_env(tmp),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return torch.load(tmp / "summary.pt", weights_only=True)["summary"]


def _kill_after(proc: subprocess.Popen, n_saves: int, rng: random.Random, why: str) -> None:
    """SIGKILL ``proc`` at a random moment within about a step after its n-th last.pt save."""
    times = []
    for line in proc.stdout:
        if line.startswith("saved last.pt"):
            times.append(time.perf_counter())
            if len(times) == n_saves:
                break
    else:
        proc.wait(10)
        pytest.fail(f"{why}: the child ended before save {n_saves}: {proc.stderr.read()[-3000:]}")
    step = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 0.05
    time.sleep(rng.uniform(0, step))  # mid-step, mid-save or between: wherever it lands
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, f"{why}: the child finished before the kill"


def _finish_in_child(tmp: Path, out: Path, why: str) -> dict:
    """Train (or resume) the fault run to the end in a new process; its summary and resume facts."""
    import torch

    r = subprocess.run(_child_cmd("train", out, tmp / "finish.pt"), cwd=ROOT, env=_env(tmp),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{why}: {r.stderr[-3000:]}"
    return torch.load(tmp / "finish.pt", weights_only=True)


def test_training_killed_twice_resumes_bitwise(tmp_path, reference):
    """SIGKILL a training run at a random point, resume it in a new process, kill it again, finish
    it in a third: weights, EMA, loss curve, snapshots and samples equal the uninterrupted run's bitwise."""
    from compdiff.train import load_checkpoint

    seed = _fault_seed()
    rng = random.Random(seed)
    why = f"COMPDIFF_FAULT_SEED={seed}"
    out = tmp_path / "run"
    resume_points = []
    for first, last in ((1, STEPS // 2 - 2), (1, None)):
        remaining = STEPS - (resume_points[-1] // 8 if resume_points else 0)
        proc = _popen(tmp_path, "train", out, tmp_path / "unused.pt")
        _kill_after(proc, rng.randint(first, last or max(1, remaining - 5)), rng, why)
        resume_points.append(load_checkpoint(out / "last.pt")["images_seen"])
    assert 0 < resume_points[0] < resume_points[1] < 8 * STEPS, (why, resume_points)

    # finish in a fresh process too: in a process that has run other tests first, the allocator
    # hands out differently aligned buffers and MKL/oneDNN may then round differently
    summary = _finish_in_child(tmp_path, out, why)
    assert summary["resumed_from_images"] == resume_points[-1] and summary["completed"], why
    _assert_identical(reference, summary["summary"], why)


def test_same_seed_same_numbers_in_two_processes(tmp_path, reference):
    """Training in two fresh processes agrees exactly; sampling, rendering and percolation in a child
    process and in this one too."""
    summary = _finish_in_child(tmp_path, tmp_path / "run", "training in two processes")
    _assert_identical(reference, summary["summary"], "training in two processes")
    r = subprocess.run(_child_cmd("numbers", tmp_path / "n.json"), cwd=ROOT, env=_env(tmp_path),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    child, here = json.loads((tmp_path / "n.json").read_text()), json.loads(json.dumps(_numbers()))
    assert child.keys() == here.keys()
    differ = {k: (np.abs(np.subtract(child[k], here[k], dtype=float)).max() if np.shape(child[k]) == np.shape(here[k])
                  else "shape") for k in child if child[k] != here[k]}
    assert not differ, f"child and parent differ (max |Δ| per key): {differ}"


def test_sweep_killed_half_way_keeps_finished_runs(tmp_store):
    seed = _fault_seed()
    rng = random.Random(seed)
    why = f"COMPDIFF_FAULT_SEED={seed}"
    proc = _popen(tmp_store.parent, "sweep")
    target, done = rng.randint(1, SWEEP_N - 2), set()
    for line in proc.stdout:
        if line.startswith("done"):
            done.add(int(line.split()[1]))
        if line.strip() == f"writing {target}":
            break
    time.sleep(rng.uniform(0, 0.15))  # mostly mid-write (the child pauses 0.1 s inside it)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL and done == set(range(target)), (why, done)

    present = set()
    for k in range(SWEEP_N):
        run = store.lookup("sweep", _sweep_config(k))  # never a half run: None or verified
        if run is not None:
            present.add(k)
            np.testing.assert_array_equal(run.arrays("arrays")["x"], _sweep_artifacts(k)["arrays"]["x"])
    assert done <= present <= done | {target}, (why, present)
    assert len(store.list_runs("sweep")) == len(present)

    computed = []
    for k in range(SWEEP_N):
        store.load_or_compute("sweep", _sweep_config(k), lambda k=k: computed.append(k) or _sweep_artifacts(k))
    assert sorted(computed) == sorted(set(range(SWEEP_N)) - present), why
    assert not list((tmp_store / "sweep").glob(".tmp-*")), "a killed writer's temporary folder was left"
    assert len(store.list_runs("sweep")) == SWEEP_N


def test_lock_holder_killed_next_process_computes(tmp_store):
    """Two real processes ask for one run; the first dies holding the lock; the second waits for
    it, says so, then computes the run once and cleanly."""
    holder = _popen(tmp_store.parent, "hold")
    assert holder.stdout.readline().strip() == "computing", holder.stderr.read()[-2000:]
    second = _popen(tmp_store.parent, "race")
    try:
        lines = [second.stderr.readline() for _ in range(1)]
        while "waiting" not in lines[-1] and lines[-1] and len(lines) < 50:
            lines.append(second.stderr.readline())
        assert "waiting for another process computing race/" in lines[-1], lines
        time.sleep(0.3)
        assert second.poll() is None, "the second process did not wait for the lock"
        assert store.lookup("race", RACE_CFG) is None
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0 and out.strip() == "computed", err[-2000:]
    run = store.lookup("race", RACE_CFG)
    assert run.json("metrics") == {"by": "second"} and len(store.list_runs("race")) == 1
    assert not list((tmp_store / "race").glob(".tmp-*"))


# ---------------------------------------------------------------------------------------------
# Corruption and staleness (tests/test_store.py covers damaged artifacts and config.json, the
# engine-version staleness and the two-process compute-once race; these extend it)


def _artifacts():
    return {"metrics": {"acc": 0.5}, "arrays": {"x": np.arange(6.0)}}


@pytest.mark.parametrize("damage", ["truncate", "not_json", "no_files", "other_run_id", "bad_entry"])
def test_damaged_manifest_is_reported_by_name(tmp_store, damage):
    run = store.write("exp", RACE_CFG, _artifacts())
    mpath = run.path / "manifest.json"
    m = json.loads(mpath.read_text())
    if damage == "truncate":
        mpath.write_bytes(mpath.read_bytes()[:40])
    elif damage == "not_json":
        mpath.write_text("")
    elif damage == "no_files":  # a manifest that lists nothing used to verify nothing, silently
        mpath.write_text(json.dumps({**m, "files": {}}))
    elif damage == "other_run_id":
        mpath.write_text(json.dumps({**m, "run_id": "0" * 16}))
    else:
        mpath.write_text(json.dumps({**m, "files": {**m["files"], "metrics.json": {"sha": "x"}}}))
    with pytest.raises(store.CorruptArtifactError, match="manifest.json"):
        store.lookup("exp", RACE_CFG)
    with pytest.raises(store.CorruptArtifactError, match="manifest.json"):
        store.load_or_compute("exp", RACE_CFG, _artifacts)


def test_planted_file_is_reported_and_never_read(tmp_store):
    run = store.write("exp", RACE_CFG, _artifacts())
    (run.path / ".DS_Store").write_bytes(b"desktop litter")  # dotfiles are ignored
    assert store.lookup("exp", RACE_CFG) is not None
    with pytest.raises(FileNotFoundError, match="no artifact 'extra.json'; it has: arrays.npz, config.json"):
        run.json("extra")
    (run.path / "extra.json").write_text("{}")
    with pytest.raises(store.CorruptArtifactError, match="extra.json: not in the manifest"):
        store.lookup("exp", RACE_CFG)
    with pytest.raises(FileNotFoundError, match="no artifact 'extra.json'"):
        run.json("extra")  # a Run opened before the plant still reads only what its manifest lists


def test_corrupt_or_stale_run_is_an_error_when_training_is_off(tmp_store, monkeypatch):
    """The book build (COMPDIFF_NO_TRAIN=1) must not report a damaged or stale run as merely missing."""
    run = store.write("exp", RACE_CFG, _artifacts())
    monkeypatch.setenv("COMPDIFF_NO_TRAIN", "1")
    monkeypatch.setattr(store, "ENGINE_VERSION", "2")
    stale = rf"{run.run_id}: made by engine version 1, this library is engine version 2"
    with pytest.raises(store.StaleResultError, match=stale):
        store.load_or_compute("exp", RACE_CFG, _artifacts)
    monkeypatch.setattr(store, "ENGINE_VERSION", "1")
    # an engine version edited in place (the manifest is not checksummed) is stale, not reused
    mpath = run.path / "manifest.json"
    mpath.write_text(json.dumps({**json.loads(mpath.read_text()), "engine_version": "0"}))
    with pytest.raises(store.StaleResultError, match="engine version 0"):
        store.load_or_compute("exp", RACE_CFG, _artifacts)
    shutil.rmtree(run.path)
    with pytest.raises(store.MissingResultError):
        store.load_or_compute("exp", RACE_CFG, _artifacts)


def test_store_errors_reach_the_command_line_as_one_line(tmp_store, monkeypatch, capsys):
    from compdiff import cli

    monkeypatch.setenv("COMPDIFF_NO_TRAIN", "1")
    assert cli.main(["train", "basic", "--profile", "smoke", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: MissingResultError: no stored run basic/") and "Traceback" not in err


@pytest.fixture
def checkpoint(tmp_path):
    from compdiff.train import train

    spec = _spec()
    spec = dataclasses.replace(spec, train=dataclasses.replace(
        spec.train, images=8, warmup_images=0, checkpoint_every_images=None))
    x, y = _train_data()
    train(spec, x, y, tmp_path / "ck", device="cpu", progress=False)
    return tmp_path / "ck" / "last.pt", spec


def test_altered_checkpoint_is_refused_by_name(checkpoint):
    """torch.load does not check the zip's CRC-32s: one flipped byte in a tensor used to load silently."""
    import zipfile

    from compdiff.train import CheckpointError, load_checkpoint, load_model, train

    last, spec = checkpoint
    with zipfile.ZipFile(last) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(last.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.file_size // 2] ^= 0x01
    last.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=rf"last.pt is corrupt: CRC mismatch in its record {info.filename}"):
        load_checkpoint(last)
    with pytest.raises(CheckpointError, match="last.pt"):
        load_model(last, which="raw", device="cpu")
    x, y = _train_data()
    with pytest.raises(CheckpointError, match="last.pt"):
        train(spec, x, y, last.parent, device="cpu", progress=False)


# ---------------------------------------------------------------------------------------------
# Safety


class _Payload:
    """Unpickling this runs ``touch MARKER``: the attack a pickle-based loader lets through."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickles_in_checkpoints_never_execute(checkpoint, tmp_path):
    import torch

    from compdiff.train import CKPT_FORMAT, CheckpointError, load_checkpoint, train

    last, spec = checkpoint
    marker = tmp_path / "pwned"
    torch.save({"format": CKPT_FORMAT, "kind": "resume", "raw": _Payload(marker)}, last)
    with pytest.raises(CheckpointError, match="last.pt cannot be read"):
        load_checkpoint(last)
    x, y = _train_data()
    with pytest.raises(CheckpointError, match="last.pt"):
        train(spec, x, y, last.parent, device="cpu", progress=False)
    assert not marker.exists()


def test_results_folder_never_executes_code(tmp_store, tmp_path):
    import io

    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    np.save(buf, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    npz = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(npz, "w") as z:  # an npz whose array is a pickle, with a consistent manifest
        z.writestr("x.npy", buf.getvalue())
    run = store.write("exp", RACE_CFG, {"metrics": {"acc": 1.0}, "arrays.npz": npz.getvalue()})
    with pytest.raises(ValueError, match="allow_pickle=False"):
        store.lookup("exp", RACE_CFG).arrays("arrays")
    for name in ("__init__.py", "sitecustomize.py", "conftest.py"):  # code beside the runs
        (tmp_store / name).write_text(f"open({str(marker)!r}, 'w')\n")
        (run.path.parent / name).write_text(f"open({str(marker)!r}, 'w')\n")
    store.lookup("exp", RACE_CFG).json("metrics")
    store.list_runs()
    assert not marker.exists()


def _calls(tree: ast.AST, dotted: str):
    mod, fn = dotted.rsplit(".", 1)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == fn
                and isinstance(node.func.value, ast.Name) and node.func.value.id == mod):
            yield node


def _kw(call: ast.Call, name: str):
    return next((ast.literal_eval(k.value) for k in call.keywords if k.arg == name), "absent")


_UNPICKLERS = {"pickle", "cloudpickle", "dill", "marshal", "shelve", "joblib", "runpy"}


def test_every_load_is_safe_and_nothing_unpickles():
    """Library and notebooks: torch.load(weights_only=True), np.load(allow_pickle=False), no pickle."""
    sources = {p: p.read_text() for p in sorted((ROOT / "lib" / "compdiff").glob("*.py"))}
    for nb in sorted(p for p in (ROOT / "notebooks").glob("fig*.ipynb") if ".failed." not in p.name):
        cells = json.loads(nb.read_text())["cells"]
        sources[nb] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    n_torch_loads = 0
    for path, src in sources.items():
        tree = ast.parse(src)
        for call in _calls(tree, "torch.load"):
            n_torch_loads += 1
            assert _kw(call, "weights_only") is True, f"{path}:{call.lineno}: torch.load without weights_only=True"
        for call in _calls(tree, "np.load"):
            assert _kw(call, "allow_pickle") is False, f"{path}:{call.lineno}: np.load without allow_pickle=False"
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad = _UNPICKLERS & {n.split(".")[0] for n in names}
            assert not bad, f"{path}: imports {bad}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec"):
                # the one eval: assumptions.py evaluates expressions written in its own source
                assert path.name == "assumptions.py", f"{path}:{node.lineno}: {node.func.id}()"
    assert n_torch_loads >= 2  # train.load_checkpoint and runs.py: the scan sees them


def _netns_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no `unshare` here: cannot make a network namespace")
    for flags in ("-rn", "-n"):
        if subprocess.run([unshare, flags, "true"], capture_output=True).returncode == 0:
            return [unshare, flags]
    pytest.skip("neither `unshare -rn` (user namespaces) nor `unshare -n` (root) works here")


def test_runs_without_network(tmp_path):
    """A workload (render, percolation into the store, train two steps, sample) in a network
    namespace with no network (the child checks that 1.1.1.1 is unreachable)."""
    prefix = _netns_prefix()
    r = subprocess.run(prefix + _child_cmd("offline", tmp_path / "run"), cwd=ROOT, env=_env(tmp_path),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "offline ok" in r.stdout, r.stdout[-2000:] + r.stderr[-3000:]


@pytest.mark.slow  # papermill starts a kernel: ~10 s on a quiet CPU
def test_figure_runs_without_network(tmp_path):
    """A figure (papermill; its kernel talks over loopback, which we bring up, nothing else) in a
    namespace with no network."""
    prefix = _netns_prefix()
    ip = shutil.which("ip")
    if ip is None or subprocess.run(prefix + [ip, "link", "set", "lo", "up"], capture_output=True).returncode:
        pytest.skip("cannot bring loopback up in the namespace: the figure run needs it for its kernel")
    out = tmp_path / "fig13.ipynb"
    script = (f"{ip} link set lo up && {sys.executable} -m compdiff figure fig13 --profile smoke "
              f"--device cpu --quiet --output {out}")
    r = subprocess.run(prefix + ["sh", "-c", script], cwd=ROOT, env=_env(tmp_path), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and out.exists(), r.stderr[-3000:]
    assert "Traceback" not in out.read_text()


# ---------------------------------------------------------------------------------------------
# Bad input: the one config validator (compdiff.config), each kind of field spec against each kind
# of bad value; every field of every config under a spec; the checks between fields

NAN, INF = float("nan"), float("inf")
_INT = dict(kind="int", min=1)
_UNIT = dict(kind="real", lo=0, hi=1, lo_open=True)
_INT_OR_TUPLE = dict(either=(config.spec(**_INT), config.spec(item=config.spec(**_INT), min_len=0)), optional=True)
# (spec, bad values, what the message says after "x = <value!r> ")
_REJECTS = [
    (_INT, [0, -1, 2.5, NAN, "3", True, None], "must be an integer ≥ 1"),
    (dict(kind="int", min=2, multiple_of=2), [0, 7, 4.0], "must be an integer ≥ 2 and a multiple of 2"),
    (_UNIT, [0, 1.5, NAN, INF, -INF, "0.5", True, None], "must be a finite number in (0, 1]"),
    (dict(kind="real", lo=0, lo_open=True), [0.0, -1, NAN], "must be a finite number > 0"),
    (dict(kind="real", hi=1, hi_open=True), [1, 2.0], "must be a finite number < 1"),
    (dict(kind="real"), [NAN, INF, "1", False, None, (1.0,)], "must be a finite number"),
    (dict(kind="bool"), ["yes", 1, 0, None], "must be True or False"),
    (dict(choices=("ddim", "ddpm")), ["euler", "DDIM", None, 1], "is not allowed; allowed: 'ddim', 'ddpm'"),
    (dict(choices=("auto", True, False)), ["yes", 1, 0, None], "is not allowed; allowed: 'auto', True, False"),
    (dict(choices=(16, 24, 32)), [20, "16", None], "is not allowed; allowed: 16, 24, 32"),
    (dict(item=config.spec(**_UNIT)), [None, "x", 0.5, (), {}],
     "must be a tuple of at least 1 value(s), each a finite number in (0, 1]"),
    (dict(item=config.spec(kind="real"), length=2), [(1.0,), (1.0, 2.0, 3.0)], "must be a tuple of 2 values, each a finite number"),
    (dict(config=experiments.EvalConfig), [None, "x", 3, experiments.DataConfig()], "must be an EvalConfig"),
    (dict(kind="int", min=1, optional=True), [0, "1", NAN], "must be an integer ≥ 1 or None"),
    (dict(choices=("a",), optional=True), ["b", 0], "is not allowed; allowed: 'a', None"),
    (_INT_OR_TUPLE, ["x", 2.5, {}], "must be an integer ≥ 1 or a tuple, each an integer ≥ 1 or None"),
]


@pytest.mark.parametrize("kw,value,tail", [pytest.param(kw, v, tail, id=f"{kw.get('kind', next(iter(kw)))}={v!r}")
                                           for kw, bad, tail in _REJECTS for v in bad])
def test_each_kind_of_spec_rejects_each_kind_of_bad_value_by_name(kw, value, tail):
    with pytest.raises(ConfigError) as e:
        config.check("x", value, **kw)
    assert str(e.value) == f"x = {value!r} {tail}"


@pytest.mark.parametrize("kw,value,message", [
    (dict(item=config.spec(**_UNIT)), (0.5, 1.5), "x[1] = 1.5 must be a finite number in (0, 1]"),
    (dict(item=config.spec(**_UNIT)), [0.5, NAN], "x[1] = nan must be a finite number in (0, 1]"),
    (dict(item=config.spec(choices=(16, 24))), (16, 20), "x[1] = 20 is not allowed; allowed: 16, 24"),
    (_INT_OR_TUPLE, (64, -8), "x[1] = -8 must be an integer ≥ 1"),
    (_INT_OR_TUPLE, 0, "x = 0 must be an integer ≥ 1"),
])
def test_a_bad_item_is_named_by_its_index(kw, value, message):
    with pytest.raises(ConfigError) as e:
        config.check("x", value, **kw)
    assert str(e.value) == message


@pytest.mark.parametrize("kw,value,stored", [
    (_INT, np.int64(3), 3),  # numpy scalars are stored as Python ones (equal: the same run id)
    (dict(kind="real", lo=0), np.float64(0.5), 0.5),
    (dict(kind="real", lo=0), 2, 2),  # an int stays an int: 2 and 2.0 are different run ids
    (_UNIT, 1, 1),
    (dict(kind="bool"), False, False),
    (dict(choices=("auto", True, False)), True, True),
    (dict(item=config.spec(**_UNIT)), [0.5, 1], (0.5, 1)),  # a list (e.g. from JSON) becomes a tuple
    (dict(item=config.spec(**_INT), min_len=0), (), ()),
    (dict(kind="int", min=1, optional=True), None, None),
    (_INT_OR_TUPLE, None, None),
    (_INT_OR_TUPLE, 64, 64),
    (_INT_OR_TUPLE, [64, 128], (64, 128)),
])
def test_each_kind_of_spec_accepts_its_values(kw, value, stored):
    out = config.check("x", value, **kw)
    assert out == stored and type(out) is type(stored)


@pytest.mark.parametrize("make,message", [
    (lambda: experiments.EvalConfig(sampler="euler"), "EvalConfig.sampler = 'euler' is not allowed; allowed: 'ddim', 'ddpm'"),
    (lambda: experiments.EvalConfig(eta=1.5), "EvalConfig.eta = 1.5 must be a finite number in [0, 1]"),
    (lambda: experiments.PercolationConfig(keep_fractions=(0.5, 0.0)),
     "PercolationConfig.keep_fractions[1] = 0.0 must be a finite number in (0, 1]"),
    (lambda: experiments.DataConfig(example_mu=(1.0,)),
     "DataConfig.example_mu = (1.0,) must be a tuple of 2 values, each a finite number"),
    (lambda: experiments.ComposeGrid(hole_widths=(40.0,)), "ComposeGrid.hole_widths[0] = 40.0 must be a finite number in (0, 32]"),
    (lambda: dataclasses.replace(experiments.basic_config("smoke"), unet=None), "BumpRunConfig.unet = None must be a UNetConfig"),
    (lambda: dataclasses.replace(experiments.basic_config("smoke"), eval=None), "BumpRunConfig.eval = None must be an EvalConfig"),
    (lambda: config.TrainConfig(bf16="yes"), "TrainConfig.bf16 = 'yes' is not allowed; allowed: 'auto', True, False"),
    (lambda: config.TrainConfig(ema_decay=1.0), "TrainConfig.ema_decay = 1.0 must be a finite number in (0, 1) or None"),
    (lambda: config.UNetConfig(channel_mults=(1, 0, 2)), "UNetConfig.channel_mults[1] = 0 must be an integer ≥ 1"),
    (lambda: config.DiffusionConfig(T=10.5), "DiffusionConfig.T = 10.5 must be an integer ≥ 1"),
])
def test_validate_names_the_class_field_value_and_what_is_allowed(make, message):
    with pytest.raises(ConfigError) as e:
        make()
    assert str(e.value) == message
    assert experiments.ConfigError is config.ConfigError and issubclass(ConfigError, ValueError)


def test_validate_reads_only_the_metadata_and_refuses_a_field_without_one():
    @dataclasses.dataclass
    class Probe:
        k: int = dataclasses.field(default=1, metadata=config.spec(kind="int", min=1))
        ks: tuple = dataclasses.field(default=(1,), metadata=config.spec(item=config.spec(kind="int", min=1)))

    p = Probe(ks=[2, np.int64(3)])
    config.validate(p)
    assert p.ks == (2, 3) and [type(k) for k in p.ks] == [int, int]
    with pytest.raises(ConfigError, match=r"^Probe\.k = 0 must be an integer ≥ 1$"):
        config.validate(Probe(k=0))

    @dataclasses.dataclass
    class Bare:
        k: int = 1

    with pytest.raises(TypeError, match="Bare.k has no spec"):
        config.validate(Bare())
    for bad in (dict(kind="float"), dict(kind="int", tag=config.INFERRED), dict(kind="int", tag="GUESSED"),
                dict(kind="tuple"), dict(kind="config")):
        with pytest.raises(TypeError):
            config.spec(**bad)


def _config_classes_in_the_library() -> set:
    """The names of the classes of lib/compdiff named like a config (…Config, …Grid) or deriving from
    Config; their modules are imported (which registers them)."""
    names = set()
    for path in Path(config.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name != "Config" and (
                    node.name.endswith(("Config", "Grid")) or any(getattr(b, "id", "") == "Config" for b in node.bases)):
                importlib.import_module(f"compdiff.{path.stem}")
                names.add(node.name)
    return names


def test_every_field_of_every_config_class_has_a_spec():
    """Every config class is a Config (so its __post_init__ validates it), and every one of its fields
    declares a spec, which its default passes: a new field or class cannot skip validation."""
    named = _config_classes_in_the_library()
    assert named <= set(config.CONFIGS), named - set(config.CONFIGS)
    assert {"DataConfig", "PercolationConfig", "EvalConfig", "BumpRunConfig", "RepresentationConfig", "TorusRunConfig",
            "ComposeRunConfig", "ComposeGrid", "EfficiencyGrid", "UNetConfig", "DiffusionConfig", "TrainConfig",
            "RunSpec"} <= set(config.CONFIGS)
    for name, cls in config.CONFIGS.items():
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, name
        assert cls.__post_init__ is config.Config.__post_init__, f"{name} overrides __post_init__"
        for f in dataclasses.fields(cls):
            s = config.as_spec(f)  # TypeError: no spec
            if s.tag in (config.INFERRED, config.UNKNOWN):
                assert s.why, f"{name}.{f.name}"
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                config.check_value(s, f"{name}.{f.name}", config.field_default(f))


def test_configs_import_without_torch(tmp_path):
    """Describing a run (every config, the validator, the assumptions page's rows) never imports torch."""
    code = ("import sys; from compdiff import assumptions, config, experiments; "
            "experiments.compose_sweep('paper'); experiments.periodic_config('cpu'); "
            "[r.value() for r in assumptions.rows() if isinstance(r, assumptions.FieldRow)]; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_every_assumption_field_is_one_row_of_the_assumptions_page():
    from compdiff import assumptions

    rows = assumptions.rows()
    shown = [q for r in rows if isinstance(r, assumptions.FieldRow) for q in r.fields]
    assert len(shown) == len(set(shown))
    tagged = {f"{c.__name__}.{f.name}" for c in config.CONFIGS.values() for f in dataclasses.fields(c)
              if f.name in c.__dict__.get("__annotations__", {})
              and config.as_spec(f).tag in (config.INFERRED, config.UNKNOWN)}
    assert set(shown) == tagged
    assert all(r.topic and r.why and r.figures and r.tag in (config.INFERRED, config.UNKNOWN) for r in rows)


def test_cross_field_checks_name_both_sides():
    base = experiments.basic_config("smoke")
    with pytest.raises(ConfigError, match="eval.weights = 'ema' needs train.ema_decay"):
        dataclasses.replace(base, train=dataclasses.replace(base.train, ema_decay=None))
    with pytest.raises(ConfigError, match=r"eval.steps = 200 must be ≤ diffusion.T = 100"):
        dataclasses.replace(base, eval=dataclasses.replace(base.eval, steps=200))
    with pytest.raises(ConfigError, match="n = 9 labels of spacing d = 4 span 32 px"):
        dataclasses.replace(base, n=9)
    assert dataclasses.replace(base, n=8, periodic=True).periodic  # 8 × 4 = 32 fits the torus
    with pytest.raises(ConfigError, match="unet.image_size = 16 must be 32"):
        dataclasses.replace(base, unet=dataclasses.replace(base.unet, image_size=16))
    with pytest.raises(ConfigError, match="cross_lo = 20.0 must be ≤ cross_hi = 19.0"):
        experiments.DataConfig(cross_lo=20.0)


@pytest.mark.parametrize("make,message", [
    (lambda: experiments.DataConfig(canvas=45), "DataConfig.canvas = 45 must be ≥ frame = 32 with an even difference"),
    (lambda: config.DiffusionConfig(beta_start=0.03), "DiffusionConfig.beta_end = 0.02 must be ≥ beta_start = 0.03"),
    (lambda: config.TrainConfig(images=640, warmup_images=704), "TrainConfig.warmup_images = 704 must be ≤ images = 640"),
    (lambda: config.TrainConfig(images=640, warmup_images=64, lr_schedule="wsd", decay_images=640),
     "TrainConfig.decay_images = 640 must be ≤ images − warmup_images = 576"),
    (lambda: config.TrainConfig(lr_schedule="wsd"), "TrainConfig.decay_images = 0 must be > 0 with lr_schedule = 'wsd'"),
    (lambda: config.TrainConfig(batch_size=16, images=100), "TrainConfig.images = 100 must be a multiple of batch_size = 16"),
    (lambda: config.TrainConfig(checkpoint_every_images=(64, 307_264)),
     "TrainConfig.checkpoint_every_images = (64, 307264) has [307264]: points must be multiples of batch_size = 64, "
     "at most images = 307200"),
    (lambda: config.UNetConfig(image_size=30), "UNetConfig.image_size = 30 must be divisible by 2**len(channel_mults) = 8"),
    (lambda: config.UNetConfig(attention_resolutions=(5,)), "UNetConfig.attention_resolutions has [5], which the net never visits"),
    (lambda: config.UNetConfig(num_heads=3), "UNetConfig.num_heads = 3 must divide the channels of every attended block"),
    (lambda: config.UNetConfig(norm_groups=3), "UNetConfig.norm_groups = 3 must divide every GroupNorm width"),
    (lambda: experiments.ComposeRunConfig(dataset="bump_lesion", **experiments.compose_base("smoke", 0)),
     "ComposeRunConfig.lesion_width = 0.0 must be a finite number in (0, 32]"),
])
def test_engine_and_data_cross_field_checks(make, message):
    """The checks between fields run after every field passed its own, and name the fields they relate."""
    with pytest.raises(ConfigError) as e:
        make()
    assert str(e.value).startswith(message), str(e.value)


def test_command_line_rejects_bad_parameters(monkeypatch, capsys):
    from compdiff import cli

    for extra, match in ((["profile=huge"], "unknown profile 'huge'"), (["seed=-1"], "seed = -1"),
                         (["device='tpu'"], "unknown device 'tpu'"), (["typo=1"], "unknown parameter")):
        with pytest.raises(ConfigError, match=match):
            cli.resolve_parameters("fig13", "smoke", "cpu", 0, extra)
    ran = []
    monkeypatch.setattr(cli, "run_figure", lambda key, **kw: ran.append(key))
    assert cli.main(["figures", "--profile", "smoke", "--only", "fig13", "fig99"]) == 2
    assert cli.main(["figures", "--profile", "smoke", "--seed", "-2"]) == 2
    assert cli.main(["train", "basic", "--profile", "smoke", "--device", "tpu"]) == 2
    assert cli.main(["train", "nope", "--profile", "smoke", "--device", "cpu"]) == 2
    assert ran == [], "a figure ran before the bad input was noticed"
    err = capsys.readouterr().err
    for text in ("unknown figure 'fig99'", "seed = -2", "unknown device 'tpu'", "unknown experiment 'nope'"):
        assert text in err


# ---------------------------------------------------------------------------------------------
# Property-based tests: the config space and the renderers

_any_float = st.one_of(st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False), st.floats(1e-4, 10.0),
                       st.integers(-3, 40), st.booleans())


@PROPERTY
@given(kw=st.fixed_dictionaries({
    "sigmas": st.lists(_any_float, max_size=3).map(tuple), "keep_fractions": st.lists(_any_float, max_size=3).map(tuple),
    "thresholds": st.lists(_any_float, max_size=2).map(tuple), "L": st.integers(-1, 8), "d": _any_float,
    "trials": st.integers(-1, 3), "seed": st.one_of(st.integers(-2, 5), _any_float),
    "overlap": st.sampled_from(["analytic", "pixel", "ANALYTIC"]), "denominator": st.sampled_from(["kept", "all", "x"]),
}))
@example(kw=dict(sigmas=(1e-4,), keep_fractions=(0.5,), thresholds=(0.5,), L=3, d=1.0, trials=1, seed=0,
                 overlap="pixel", denominator="kept"))  # was accepted, then failed inside the renderer
def test_percolation_config_space(kw):
    """Any PercolationConfig is refused by name, or simulates to finite mass ratios in [0, 1]."""
    from compdiff import percolation

    try:
        cfg = experiments.PercolationConfig(**kw)
    except ConfigError as e:
        assert any(f"PercolationConfig.{k}" in str(e) for k in kw), str(e)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exp(−d²/4σ²) may underflow: 0, as meant
        m = percolation.mass_ratio_curves(cfg.sigmas, cfg.keep_fractions, cfg.thresholds[0], L=cfg.L, d=cfg.d,
                                          trials=cfg.trials, seed=cfg.seed, denominator=cfg.denominator,
                                          overlap=cfg.overlap)
    assert m.shape == (len(cfg.sigmas), len(cfg.keep_fractions)) and np.isfinite(m).all()
    assert ((m >= 0) & (m <= 1)).all()


@PROPERTY
@given(b=st.integers(-1, 32), k=st.integers(-1, 12), lr=_any_float, warm=st.integers(-8, 200),
       sched=st.sampled_from(["constant", "cosine", "step"]),
       ck=st.one_of(st.none(), st.integers(-8, 200), st.lists(st.integers(-8, 200), max_size=3).map(tuple)))
def test_train_config_space(b, k, lr, warm, sched, ck):
    """Any TrainConfig is refused by name, or has a learning rate in (0, lr] at every step and
    snapshot points that are whole steps within the budget."""
    from compdiff.train import TrainConfig, lr_at

    kw = dict(batch_size=b, images=b * k if isinstance(b, int) else k, lr=lr, warmup_images=warm,
              lr_schedule=sched, checkpoint_every_images=ck, log_every_images=b, resume_every_images=None)
    try:
        cfg = TrainConfig(**kw)
    except ValueError as e:
        assert any(f"TrainConfig.{k}" in str(e) for k in kw), str(e)
        return
    rates = [lr_at(cfg, i) for i in range(0, cfg.images, cfg.batch_size)]
    assert all(0 < r <= cfg.lr for r in rates), rates
    pts = cfg.checkpoint_points()
    assert cfg.images in pts and all(p % cfg.batch_size == 0 and 0 < p <= cfg.images for p in pts)


@PROPERTY
@given(T=st.integers(-1, 300), schedule=st.sampled_from(["linear", "cosine", "quadratic"]),
       beta_start=_any_float, beta_end=_any_float, cosine_s=st.one_of(st.floats(0, 1.0), _any_float))
def test_diffusion_config_space(T, schedule, beta_start, beta_end, cosine_s):
    """Any DiffusionConfig is refused by name, or gives a schedule with betas in (0, 1) and a strictly
    decreasing ᾱ in (0, 1): no NaN in the posterior variance."""
    import torch

    from compdiff.diffusion import DiffusionConfig, make_schedule

    kw = dict(T=T, schedule=schedule, beta_start=beta_start, beta_end=beta_end, cosine_s=cosine_s)
    try:
        cfg = DiffusionConfig(**kw)
    except ValueError as e:
        assert any(f"DiffusionConfig.{k}" in str(e) for k in kw), str(e)
        return
    s = make_schedule(cfg)
    assert ((s.betas > 0) & (s.betas < 1)).all(), (cfg, s.betas.min().item())
    assert ((s.alpha_bars > 0) & (s.alpha_bars < 1)).all()
    assert (s.alpha_bars[1:] < s.alpha_bars[:-1]).all()
    assert all(torch.isfinite(getattr(s, n)).all() for n in s._FIELDS)


@settings(PROPERTY, max_examples=15)
@given(size=st.sampled_from([4, 8, 16]), base=st.integers(0, 8), mults=st.lists(st.integers(0, 2), max_size=3),
       attn=st.lists(st.sampled_from([1, 2, 3, 4, 8, 16]), max_size=2), heads=st.integers(0, 4),
       emb=st.integers(0, 12), groups=st.integers(0, 4), cond_mlp=st.booleans())
def test_unet_config_space(size, base, mults, attn, heads, emb, groups, cond_mlp):
    """Any UNetConfig is refused by name, or builds a net whose output is finite and x-shaped."""
    import torch

    from compdiff.train import _build_model
    from compdiff.unet import UNetConfig

    kw = dict(image_size=size, base_channels=base, channel_mults=tuple(mults), attention_resolutions=tuple(attn),
              num_heads=heads, emb_dim_per_var=emb, norm_groups=groups, cond_mlp=cond_mlp,
              bottleneck_mult=1, cond_mlp_dim=8)
    try:
        cfg = UNetConfig(**kw)
    except ValueError as e:
        assert any(f"UNetConfig.{k}" in str(e) for k in kw), str(e)
        return
    net = _build_model(cfg, seed=0).eval()
    x = torch.randn(2, 1, size, size)
    with torch.no_grad():
        y = net(x, torch.tensor([0, 99]), torch.tensor([[0.0, 1.0], [3.5, -2.0]]))
    assert y.shape == x.shape and torch.isfinite(y).all()


_coord = st.floats(-1e4, 1e4)
_sigma = st.floats(data.SIGMA_MIN, data.SIGMA_MAX)


def _g(u, mu, sigma, frame=None):
    delta = u - mu
    if frame is not None:
        delta = np.mod(delta + frame / 2, frame) - frame / 2
    return np.exp(-(delta**2) / (2 * sigma**2))


@PROPERTY
@given(mx=_coord, my=_coord, sigma=_sigma, frame=st.integers(1, 24), periodic=st.booleans())
def test_bump_renderer_is_the_exact_gaussian(mx, my, sigma, frame, periodic):
    """No NaN, values in [0, 1], and exactly the documented Gaussian at the pixel centres (nothing
    clipped or renormalised)."""
    img = data.render_bumps([mx], [my], sigma, frame=frame, periodic=periodic)[0]
    assert img.dtype == np.float32 and img.shape == (frame, frame) and np.isfinite(img).all()
    assert img.min() >= 0 and img.max() <= 1
    u = np.arange(frame, dtype=np.float64)
    per = frame if periodic else None
    np.testing.assert_allclose(img, np.outer(_g(u, my, sigma, per), _g(u, mx, sigma, per)), rtol=2e-6, atol=1e-38)
    if periodic:  # the torus: μ and μ + N are one label
        np.testing.assert_allclose(data.render_bumps([mx + frame], [my - frame], sigma, frame=frame, periodic=True)[0],
                                   img, rtol=1e-4, atol=1e-6)


@PROPERTY
@given(mx=_coord, my=_coord, sigma=_sigma, frame=st.integers(1, 24), margin=st.integers(0, 8),
       kind=st.sampled_from(["sos", "mixed"]))
def test_sos_and_mixed_renderers(mx, my, sigma, frame, margin, kind):
    canvas = frame + 2 * margin
    img = data.render(kind, np.array([[mx, my]]), sigma, frame=frame, canvas=canvas)[0]
    assert img.dtype == np.float32 and np.isfinite(img).all() and img.min() >= 0 and img.max() <= 1
    u = margin + np.arange(frame, dtype=np.float64)
    gx, gy = _g(u, mx, sigma), _g(u, my, sigma)
    if kind == "sos":
        expected = (gx[None, :] + gy[:, None]) / data.SOS_NORMALISATION
    else:
        vx = margin - 1e-9 <= mx <= margin + frame - 1 + 1e-9
        vy = margin - 1e-9 <= my <= margin + frame - 1 + 1e-9
        expected = np.outer(gy if vy else np.ones(frame), gx if vx else np.ones(frame)) * (vx or vy)
    np.testing.assert_allclose(img, expected, rtol=2e-6, atol=1e-38)


def test_renderer_edges_are_as_documented():
    with pytest.raises(ValueError, match=r"sigma = 0.0001 must lie in \[SIGMA_MIN, SIGMA_MAX\] = \[0.001, 1e\+06\]"):
        data.render_bumps([1.0], [1.0], 1e-4)  # 1e-200 used to give NaN at a pixel centre
    with pytest.raises(ValueError, match="sigma = 1e"):
        data.render_bumps([1.0], [1.0], 1e300)  # used to raise OverflowError from σ²
    img = data.render_bumps([3.0, 3.5], [4.0, 4.0], data.SIGMA_MIN, frame=8)
    assert img[0].sum() == 1.0 and img[0, 4, 3] == 1.0  # on a centre: one lit pixel
    assert img[1].max() == 0.0  # between centres: blank (narrower than a pixel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (Δ²) overflows to inf: exp(−inf) = 0
        far = data.render_bumps([1e200], [0.0], 1.0, frame=8)
    assert np.isfinite(far).all() and far.max() == 0.0
    assert (data.render_bumps([3.0], [4.0], data.SIGMA_MAX, frame=8) == 1.0).all()  # widest: flat at 1
    x = np.array([-1.5, 1.5])  # the model's range maps back without clipping
    np.testing.assert_array_equal(data.from_model_range(x), [-0.25, 1.25])
    for bad, name in ((2.5, "n"), (float("nan"), "n"), ("4", "n")):
        with pytest.raises(ValueError, match=f"{name} = "):
            data.lattice(bad)
    with pytest.raises(ValueError, match="seed = -1"):
        data.subsample_mask(10, 0.5, seed=-1)
    with pytest.raises(ValueError, match="canvas = 44.5"):
        data.frame_offset(32, 44.5)
