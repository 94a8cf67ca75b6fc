"""The GPU slot (issue 19): priority list, the CPU dry run of the whole path (train, score, pack,
unpack, resume an unfinished run) without the analysis packages, and exact resume across slots."""

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest
import torch

from compdiff import cli, experiments, gpu_slot, paths, store
from compdiff.experiments import ConfigError

# what a bare GPU machine lacks: the slot's import path and its work must not need them
BLOCKED = ("ripser", "persim", "umap", "papermill", "nbformat", "jupyter_book", "seaborn", "matplotlib",
           "sklearn", "IPython")


def _prio(tmp_path, text, name="prio.txt"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _index(archive):
    with tarfile.open(archive) as tar:
        return json.load(tar.extractfile(store.BUNDLE_INDEX)), tar.getnames()


def _use_store(monkeypatch, root):
    monkeypatch.setenv("COMPDIFF_RESULTS", str(root / "results"))
    monkeypatch.setenv("COMPDIFF_RUNS", str(root / "runs"))
    monkeypatch.setenv("COMPDIFF_WEIGHTS", str(root / "weights"))


# ---------------------------------------------------------------------------------------------
# the priority list


def test_default_priority_list_reads_and_resolves_through_the_profiles():
    entries = gpu_slot.read_priority()
    assert entries and entries[0].profile == "cpu"
    assert [e.source for e in entries if e.profile == "paper"] == ["periodic", "efficiency"]
    jobs = gpu_slot.resolve(entries)
    ids = [(j.experiment, j.run_id) for j in jobs]
    assert len(ids) == len(set(ids))  # a run two entries share comes once
    paper = [j for j in jobs if j.profile == "paper"]
    # the paper entries follow whatever the paper profile says (no recipe of the slot's own)
    assert paper[0].config == experiments.experiment_config("periodic", "paper", seed=0)
    fig06 = {p.name: p.config for p in experiments.efficiency_points("paper", seed=0) if "fig06" in p.figures}
    assert {j.name: j.config for j in paper[1:]} == fig06
    # the decisive cpu runs come first, under the recipe the list names: the basic run's three seeds
    assert [(j.name, j.config.train.seed) for j in jobs[:3]] == [("basic", 0), ("basic", 1), ("basic", 2)]
    assert all(j.config == experiments.experiment_config(j.name, "cpu", seed=j.config.train.seed, recipe="v-stop")
               for j in jobs[:6])


def test_priority_list_filters_seeds_and_profile_override(tmp_path):
    p = _prio(tmp_path, "# a comment\n\ncompose cpu 0-1 fig11_lesion8 fig12   # why\nbasic paper 3\n")
    entries = gpu_slot.read_priority(p)
    assert entries[0].seeds == (0, 1) and entries[0].why == "why" and entries[0].line == 3
    jobs = gpu_slot.resolve(entries)
    names = [j.name for j in jobs if j.config.train.seed == 0 and j.experiment == "compose"]
    assert names[0] == "fig11_lesion8" and len(names) == 1 + 8  # the lesion run and the eight Fig 12 runs
    assert jobs[-1].config == experiments.basic_config("paper", seed=3)
    smoke = gpu_slot.resolve(entries, "smoke")
    assert {j.profile for j in smoke} == {"smoke"}
    assert all(j.config.unet == experiments.basic_config("smoke").unet for j in smoke)


def test_priority_filter_patterns_select_run_names(tmp_path):
    """A filter with * ? or [ is a pattern over run names: fig06n16_* keeps the 16×16 Fig 6e runs only."""
    (e,) = gpu_slot.read_priority(_prio(tmp_path, "efficiency cpu 1 fig06n16_* recipe=v-stop\n"))
    jobs = gpu_slot.resolve([e])
    g = experiments.efficiency_grid("cpu")
    assert len(jobs) == len(g.sigmas) * len(g.keep_fractions)
    assert all(j.name.startswith("fig06n16_") and j.config.frame == 16 and j.config.train.seed == 1 for j in jobs)
    assert all(j.config.stop is not None for j in jobs)  # the line's recipe
    # a figure key keeps both lattices; names and patterns mix on one line
    (e,) = gpu_slot.read_priority(_prio(tmp_path, "efficiency cpu 0 fig06 fig05_bump_n2?_p0.1\n"))
    names = [j.name for j in gpu_slot.resolve([e])]
    assert sum(n.startswith("fig06_") for n in names) == sum(n.startswith("fig06n16_") for n in names) == (len(names) - 1) // 2
    assert names[-1] == "fig05_bump_n24_p0.1"
    with pytest.raises(ConfigError, match="fig07_\\* name.* no run or figure of the efficiency sweep.*or a pattern"):
        gpu_slot.read_priority(_prio(tmp_path, "efficiency cpu 0 fig07_*\n"))


@pytest.mark.parametrize("text, match", [
    ("nosuch cpu 0\n", "unknown source 'nosuch'; allowed: basic, periodic, compose, efficiency"),
    ("basic huge 0\n", "unknown profile 'huge'; allowed: smoke, cpu, paper"),
    ("basic cpu x\n", "seeds 'x' must be"),
    ("basic cpu\n", "needs SOURCE PROFILE SEEDS"),
    ("basic cpu 0 fig02\n", "filters .* apply to the sweeps"),
    ("compose cpu 0 fig99\n", "fig99 name.* no run or figure of the compose sweep"),
])
def test_bad_priority_line_is_named(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        gpu_slot.read_priority(_prio(tmp_path, text))


def test_cli_devices_match_the_notebook_runner():
    from compdiff import notebook

    assert cli.DEVICES == notebook.DEVICES


def test_bad_slot_arguments_are_errors(tmp_store, tmp_path):
    with pytest.raises(ConfigError, match="minutes"):
        gpu_slot.run_slot(0, tmp_path)
    with pytest.raises(ConfigError, match="unknown profile"):
        gpu_slot.run_slot(1, tmp_path, profile="huge")
    with pytest.raises(ConfigError, match="CUDA is not available") if not torch.cuda.is_available() else \
            pytest.raises(ConfigError, match="not a device"):
        gpu_slot.run_slot(1, tmp_path, device="cuda" if not torch.cuda.is_available() else "tpu")


# ---------------------------------------------------------------------------------------------
# the CPU dry run of the whole path


def test_cpu_dry_run_whole_path_without_analysis_packages(tmp_path, monkeypatch):
    """`gpu-slot --device cpu --profile smoke --minutes 1` on the default priority list, in a
    process where the analysis and book packages cannot be imported; its archive then unpacks.
    (A minute, not less: on a loaded machine, starting and the benchmark took most of 30 s and the
    slot trained nothing.)"""
    env = {**os.environ, "COMPDIFF_RESULTS": str(tmp_path / "a" / "results"),
           "COMPDIFF_RUNS": str(tmp_path / "a" / "runs"), "COMPDIFF_WEIGHTS": str(tmp_path / "a" / "weights"),
           "COMPDIFF_NO_TRAIN": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(paths.ROOT / "lib")}
    code = ("import sys\n"
            f"for m in {BLOCKED!r}: sys.modules[m] = None\n"
            "import torch; torch.set_num_threads(1)\n"
            "from compdiff.cli import main\n"
            f"rc = main(['gpu-slot', '--device', 'cpu', '--profile', 'smoke', '--minutes', '1', '--out', {str(tmp_path / 'out')!r}, '--quiet'])\n"
            f"bad = [m for m in {BLOCKED!r} if sys.modules.get(m) is not None]\n"
            "assert not bad, bad\n"
            "sys.exit(rc)\n")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "slot.json").read_text())
    assert summary["elapsed_seconds"] < 60 + 15  # stops before its minutes are up (packing may run a little over)
    assert summary["environment"]["torch"] == torch.__version__
    bench = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    assert bench["rows"][0]["precision"] == "fp32" and bench["rows"][0]["K"] == 1
    archive = tmp_path / "out" / summary["archive"]
    index, names = _index(archive)
    assert {"slot/benchmark.json", "slot/slot.json", "slot/slot.log"} <= set(names)
    trained = len(index["runs"]) + len(index.get("checkpoints", []))
    assert trained >= 1, (tmp_path / "out" / "slot.log").read_text()
    assert summary["counts"]["stored_in_slot"] == len(index["runs"])
    # another machine: the finished runs join its store, the unfinished ones its scratch folder
    _use_store(monkeypatch, tmp_path / "b")
    done = store.unpack(archive)
    assert len(done) == trained
    for e in index["runs"]:
        assert store.lookup(e["experiment"], _config_of(summary, e["run_id"])) is not None
    for c in index.get("checkpoints", []):
        assert (tmp_path / "b" / "runs" / c["experiment"] / c["run_id"] / "last.pt").is_file()


def _config_of(summary, rid):
    plan = next(p for p in summary["plan"] if p["run_id"] == rid)
    return experiments.experiment_config(plan["name"], plan["profile"], seed=plan["seed"]) \
        if plan["name"] in experiments.EXPERIMENTS else \
        {p.name: p.config for src in experiments.SWEEP_POINTS.values()
         for p in src(plan["profile"], seed=plan["seed"])}[plan["name"]]


def test_unfinished_run_resumes_on_the_next_slot_bitwise(tmp_path, monkeypatch):
    """A slot stops a run at an exact resume point; its archive, unpacked on another machine, lets
    the next slot finish it; the finished run equals an uninterrupted one bit for bit (one CPU,
    one thread) and is stored and scored there."""
    from compdiff import runs
    from compdiff.train import load_checkpoint, train

    monkeypatch.delenv("COMPDIFF_NO_TRAIN", raising=False)

    def short_basic(profile, *, seed=0):  # the smoke run, shortened: 640 images, scored lightly
        c = experiments.basic_config(profile, seed=seed)
        return experiments.replace(c, train=experiments.replace(
            c.train, images=640, checkpoint_every_images=320, log_every_images=64),
            eval=experiments.replace(c.eval, ddpm_check_labels=0, curve_labels=16))

    monkeypatch.setitem(experiments.EXPERIMENTS, "basic", short_basic)
    prio = _prio(tmp_path, "basic smoke 0\n")
    cfg = short_basic("smoke", seed=0)
    rid = store.run_id(cfg)
    # slot 1 on machine a: stopped halfway
    _use_store(monkeypatch, tmp_path / "a")
    s1 = gpu_slot.run_slot(1, tmp_path / "out1", device="cpu", priority=prio, bench_seconds=0,
                           stop_after_images=288, progress=False, quiet=True)
    assert s1["plan"][0]["status"] == "unfinished at 288 of 640 images"
    index, _ = _index(s1["archive_path"])
    assert index["runs"] == [] and [c["images_seen"] for c in index["checkpoints"]] == [288]
    # slot 2 on machine b, after unpacking slot 1's archive there
    _use_store(monkeypatch, tmp_path / "b")
    (what,) = [d[2] for d in store.unpack(s1["archive_path"])]
    assert what.startswith("checkpoint at 288 of 640 images installed")
    assert store.unpack(s1["archive_path"])[0][2].startswith("checkpoint at 288 of 640 images not installed")
    s2 = gpu_slot.run_slot(1, tmp_path / "out2", device="cpu", priority=prio, bench_seconds=0,
                           progress=False, quiet=True)
    assert s2["plan"][0]["status"] == "stored in this slot", s2["plan"]
    assert s2["counts"]["images_trained"] == 640 - 288
    resumed = load_checkpoint(tmp_path / "b" / "runs" / "basic" / rid / "last.pt")
    # the same run, uninterrupted
    job = runs.training_job("basic", cfg)
    ref = train(*job[:3], tmp_path / "ref", device="cpu", progress=False)
    ref_ck = load_checkpoint(tmp_path / "ref" / "last.pt")
    for which in ("raw", "ema"):
        assert all(torch.equal(resumed[which][k], ref_ck[which][k]) for k in ref_ck[which]), which
    assert resumed["loss_curve"] == ref_ck["loss_curve"]
    assert ref.images_seen == 640 and ref.loss_curve[-1][0] == 640
    stored = store.lookup("basic", cfg)
    w = torch.load(stored.weights("model_ema.pt"), weights_only=True)
    assert all(torch.equal(w[k], ref_ck["ema"][k]) for k in w)
    # slot 2's archive carries the finished run to a third machine
    _use_store(monkeypatch, tmp_path / "c")
    assert [d[2] for d in store.unpack(s2["archive_path"])] == ["added"]
    assert store.lookup("basic", cfg).json("metrics") == stored.json("metrics")


# ---------------------------------------------------------------------------------------------
# the archive


class Cfg:
    pass


def _fake_checkpoint(root, cfg, size=1000):
    d = root / "scratch"
    d.mkdir(parents=True)
    (d / "last.pt").write_bytes(b"x" * size)
    (d / "run_spec.json").write_text("{}")
    return store.Checkpoint("basic", cfg, d, 32, 3_200)


def test_checkpoints_over_the_size_limit_are_left_out_and_listed(tmp_store, tmp_path):
    cfg = experiments.basic_config("smoke")
    ck = _fake_checkpoint(tmp_path, cfg, size=50_000)
    index = store.pack([], tmp_path / "a.tar.gz", checkpoints=[ck], max_bytes=10_000)
    assert "checkpoints" not in index and index["checkpoints_left_out"][0]["run_id"] == store.run_id(cfg)
    index = store.pack([], tmp_path / "b.tar.gz", checkpoints=[ck], extras={"x.json": b"{}"})
    assert index["checkpoints"][0]["files"]["last.pt"]["size"] == 50_000 and index["extras"] == ["x.json"]


def test_unpack_refuses_an_altered_checkpoint(tmp_store, tmp_path, monkeypatch):
    cfg = experiments.basic_config("smoke")
    bundle = tmp_path / "b.tar.gz"
    store.pack([], bundle, checkpoints=[_fake_checkpoint(tmp_path, cfg)])
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bundle) as src, tarfile.open(bad, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name.endswith("last.pt"):
                data = b"y" + data[1:]
            dst.addfile(m, io.BytesIO(data))
    _use_store(monkeypatch, tmp_path / "fresh")
    with pytest.raises(store.CorruptArtifactError, match="last.pt"):
        store.unpack(bad)
    assert not (tmp_path / "fresh" / "runs").exists()


def test_train_many_stops_when_asked_at_an_exact_resume_point(tmp_path):
    """The slot's deadline: ``stop_when`` is asked before a group starts and after every step."""
    from compdiff import runs
    from compdiff.train import load_checkpoint, train_many

    spec, x, y, _ = runs.training_job("basic", experiments.basic_config("smoke"))
    answers = iter([False, False, True])  # before the group, after step 1, after step 2
    (r,) = train_many([(spec, x, y, tmp_path / "a")], "cpu", False, stop_when=lambda: next(answers))
    assert (r.images_seen, r.completed) == (2 * spec.train.batch_size, False)
    assert load_checkpoint(tmp_path / "a" / "last.pt")["images_seen"] == 2 * spec.train.batch_size
    (r,) = train_many([(spec, x, y, tmp_path / "a")], "cpu", False, stop_when=lambda: True)  # past it already
    assert r.images_seen == 2 * spec.train.batch_size and r.resumed_from_images == r.images_seen


def test_a_stop_rule_run_trains_in_checked_segments_and_stops_at_the_bar(tmp_path, monkeypatch):
    """A config with a StopRule trains in segments inside the slot, each checked (quick accuracy
    patched to 100% here); it stops at the bar after `patience` checks, not at its cap, and the
    pipeline's scoring reads the same history (no further training)."""
    from compdiff import monitor

    monkeypatch.delenv("COMPDIFF_NO_TRAIN", raising=False)
    monkeypatch.setattr(monitor, "quick_accuracy",
                        lambda model, cfg, labels, score, *, steps, device: {"accuracy": 1.0, "labels": len(labels)})

    def ruled_basic(profile, *, seed=0):
        c = experiments.basic_config(profile, seed=seed)
        return experiments.replace(
            c, train=experiments.replace(c.train, images=1280, checkpoint_every_images=None, log_every_images=64),
            eval=experiments.replace(c.eval, ddpm_check_labels=0, curve_labels=16),
            stop=experiments.StopRule(bar=0.9, every_images=320, patience=2, labels=8, steps=2, label_use=None))

    monkeypatch.setitem(experiments.EXPERIMENTS, "basic", ruled_basic)
    _use_store(monkeypatch, tmp_path / "a")
    s = gpu_slot.run_slot(1, tmp_path / "out", device="cpu", priority=_prio(tmp_path, "basic smoke 0\n"),
                          bench_seconds=0, progress=False, quiet=True)
    assert s["plan"][0]["status"] == "stored in this slot", s["plan"]
    assert s["counts"]["images_trained"] == 640
    m = store.lookup("basic", ruled_basic("smoke")).json("metrics")
    assert m["stop"]["stopped"] == "bar" and m["stop"]["images"] == 640 and m["train"]["images"] == 640


def test_shards_split_the_list_between_workers_without_an_archive(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPDIFF_NO_TRAIN", raising=False)
    _use_store(monkeypatch, tmp_path / "a")
    prio = _prio(tmp_path, "basic smoke 0,1\n")
    took = {}
    for i in (0, 1):
        s = gpu_slot.run_slot(1, tmp_path / f"w{i}", device="cpu", priority=prio, bench_seconds=0,
                              stop_after_images=64, progress=False, quiet=True, shard=(i, 2), archive=False)
        assert s["archive"] is None and not list((tmp_path / f"w{i}").glob("*.tar.gz"))
        took[i] = [p["seed"] for p in s["plan"] if p["status"].startswith("unfinished at 64")]
        left = [p["seed"] for p in s["plan"] if p["status"].startswith("left to another shard")]
        assert len(took[i]) == 1 and len(left) == 1 and took[i] != left
    assert sorted(took[0] + took[1]) == [0, 1]
    with pytest.raises(ConfigError, match="shard"):
        gpu_slot.run_slot(1, tmp_path / "w", device="cpu", priority=prio, shard=(2, 2))


def test_claiming_workers_skip_a_held_run_and_read_the_list_before_each_run(tmp_path, monkeypatch):
    """--claim: a run another worker holds (its lock in results/.locks) is left to it; the worker
    trains the next one, and reads the list again before each run (an around= line then places
    what the runs stored meanwhile decide)."""
    monkeypatch.delenv("COMPDIFF_NO_TRAIN", raising=False)
    _use_store(monkeypatch, tmp_path / "a")
    prio = _prio(tmp_path, "basic smoke 0-2\n")
    jobs = gpu_slot.resolve(gpu_slot.read_priority(prio))
    held = gpu_slot.claim_run(jobs[0])  # another worker trains seed 0
    assert held is not None and gpu_slot.claim_run(jobs[0]) is None
    reads = []
    real = gpu_slot.resolve
    monkeypatch.setattr(gpu_slot, "resolve", lambda *a, **k: reads.append(1) or real(*a, **k))
    try:
        s = gpu_slot.run_slot(1, tmp_path / "w", device="cpu", priority=prio, bench_seconds=0, stop_after_images=64,
                              progress=False, quiet=True, claim=True, archive=False)
    finally:
        gpu_slot.release_run(held)
    by_seed = {p["seed"]: p["status"] for p in s["plan"]}
    assert by_seed[0] == gpu_slot.HELD == "held by another worker"
    assert by_seed[1].startswith("unfinished at 64") and by_seed[2].startswith("unfinished at 64")
    assert len(reads) >= 3  # at the start, then before each of the two runs
    again = gpu_slot.claim_run(jobs[1])  # the worker let go of what it trained
    assert again is not None
    gpu_slot.release_run(again)
    with pytest.raises(ConfigError, match="--claim and --shard"):
        gpu_slot.run_slot(1, tmp_path / "w", device="cpu", priority=prio, shard=(0, 2), claim=True)


def test_priority_lines_pick_a_cpu_recipe(tmp_path):
    (e,) = gpu_slot.read_priority(_prio(tmp_path, "basic cpu 0,1 recipe=v-stop\n"))
    assert e.recipe == "v-stop" and str(e) == "basic cpu 0,1 recipe=v-stop"
    jobs = gpu_slot.resolve([e])
    assert [j.config for j in jobs] == [experiments.basic_config("cpu", seed=s, recipe="v-stop") for s in (0, 1)]
    assert all(j.config.stop is not None for j in jobs)
    # at another profile the entry takes that profile's own recipe
    assert gpu_slot.resolve([e], "smoke")[0].config == experiments.basic_config("smoke")
    with pytest.raises(ConfigError, match="line 1.*recipe"):
        gpu_slot.read_priority(_prio(tmp_path, "basic cpu 0 recipe=fast\n", "bad.txt"))
    with pytest.raises(ConfigError, match="line 1.*cpu profile only"):
        gpu_slot.read_priority(_prio(tmp_path, "basic paper 0 recipe=v-stop\n", "bad2.txt"))


def test_priority_lines_pick_a_label_encoding(tmp_path):
    """``label_encoding=NAME`` (periodic only): the Figs 2, 3, 8 ablation, at any profile."""
    (e,) = gpu_slot.read_priority(_prio(tmp_path, "periodic cpu 0-1 label_encoding=periodic recipe=v-stop\n"))
    assert e.label_encoding == "periodic" and e.filters == () and e.recipe == "v-stop"
    assert str(e) == "periodic cpu 0,1 recipe=v-stop label_encoding=periodic"
    jobs = gpu_slot.resolve([e])
    assert [j.config for j in jobs] == [experiments.periodic_config("cpu", seed=s, recipe="v-stop",
                                                                    label_encoding="periodic") for s in (0, 1)]
    assert jobs[0].name == "periodic (label_encoding=periodic)" and jobs[0].experiment == "periodic"
    # an architecture choice, kept at another profile (where the recipe is that profile's own)
    assert gpu_slot.resolve([e], "smoke")[0].config == experiments.periodic_config("smoke", label_encoding="periodic")
    # the default line is another run
    (d,) = gpu_slot.read_priority(_prio(tmp_path, "periodic cpu 0 recipe=v-stop\n", "d.txt"))
    assert d.label_encoding is None and gpu_slot.resolve([d])[0].run_id != jobs[0].run_id
    for text, match in (("periodic cpu 0 label_encoding=cos\n", "line 1: label_encoding = 'cos' is not allowed; "
                                                                 "allowed: sinusoidal, periodic"),
                        ("basic cpu 0 label_encoding=periodic\n", "line 1: label_encoding= applies to periodic only"),
                        ("compose cpu 0 fig10 label_encoding=periodic\n", "applies to periodic only")):
        with pytest.raises(ConfigError, match=match):
            gpu_slot.read_priority(_prio(tmp_path, text, "bad.txt"))
