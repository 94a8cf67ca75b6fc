"""The results store: hits, misses, checksums, staleness, atomic writes, locks."""

import json
import multiprocessing as mp
from dataclasses import dataclass

import numpy as np
import pytest

from compdiff import store


@dataclass(frozen=True)
class Cfg:
    a: int = 1
    b: tuple = (1.0, 2.0)


def _artifacts():
    return {"metrics": {"acc": 0.5}, "arrays": {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}}


def test_run_id_depends_on_config_and_engine(monkeypatch):
    assert store.run_id(Cfg()) == store.run_id(Cfg())
    assert store.run_id(Cfg()) != store.run_id(Cfg(a=2))
    rid = store.run_id(Cfg())
    monkeypatch.setattr(store, "ENGINE_VERSION", "other")
    assert store.run_id(Cfg()) != rid


def test_miss_computes_then_hits(tmp_store):
    calls = []

    def compute():
        calls.append(1)
        return _artifacts()

    run = store.load_or_compute("exp", Cfg(), compute)
    again = store.load_or_compute("exp", Cfg(), compute)
    assert calls == [1]
    assert again.path == run.path
    assert again.json("metrics") == {"acc": 0.5}
    np.testing.assert_array_equal(again.arrays("arrays")["x"], _artifacts()["arrays"]["x"])
    assert again.config["a"] == 1 and again.config["__type__"] == "Cfg"
    assert not list((tmp_store / "exp").glob(".tmp-*"))


def test_no_train_mode_names_the_missing_run(tmp_store, monkeypatch):
    monkeypatch.setenv("COMPDIFF_NO_TRAIN", "1")
    with pytest.raises(store.MissingResultError, match=store.run_id(Cfg())):
        store.load_or_compute("exp", Cfg(), _artifacts)


@pytest.mark.parametrize("damage", ["truncate", "alter", "delete"])
def test_corrupt_artifact_is_reported_by_name(tmp_store, damage):
    run = store.write("exp", Cfg(), _artifacts())
    f = run.path / "arrays.npz"
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[:-10])
    elif damage == "alter":
        b = bytearray(f.read_bytes())
        b[len(b) // 2] ^= 0xFF
        f.write_bytes(bytes(b))
    else:
        f.unlink()
    with pytest.raises(store.CorruptArtifactError, match="arrays.npz"):
        store.lookup("exp", Cfg())
    with pytest.raises(store.CorruptArtifactError):
        store.load_or_compute("exp", Cfg(), _artifacts)


def test_altered_config_is_corrupt(tmp_store):
    run = store.write("exp", Cfg(), _artifacts())
    cfg = json.loads((run.path / "config.json").read_text())
    cfg["a"] = 99
    (run.path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(store.CorruptArtifactError, match="config.json"):
        store.lookup("exp", Cfg())


def test_other_engine_version_is_stale_not_reused(tmp_store, monkeypatch):
    store.write("exp", Cfg(), _artifacts())
    monkeypatch.setattr(store, "ENGINE_VERSION", "999")
    with pytest.raises(store.StaleResultError, match="engine version"):
        store.load_or_compute("exp", Cfg(), _artifacts)


def test_failed_compute_leaves_nothing(tmp_store):
    def boom():
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        store.load_or_compute("exp", Cfg(), boom)
    assert store.lookup("exp", Cfg()) is None


def _race(results_dir, q):
    import os

    os.environ["COMPDIFF_RESULTS"] = results_dir
    from compdiff import store as s

    def compute():
        q.put("computed")
        return _artifacts()

    s.load_or_compute("exp", Cfg(), compute)


def test_two_processes_compute_once(tmp_store):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_store), q)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    computed = 0
    while not q.empty():
        q.get()
        computed += 1
    assert computed == 1
    assert len(store.list_runs("exp")) == 1


# ---------------------------------------------------------------------------------------------
# weights outside the run folder, verification once per process, bundles


def _with_weights():
    return {**_artifacts(), "model_ema.pt": b"weights-bytes" * 100}


def test_weights_live_in_the_cache_not_the_run_folder(tmp_store, tmp_path):
    run = store.write("exp", Cfg(), _with_weights())
    assert not (run.path / "model_ema.pt").exists()
    assert run.manifest["weights"]["model_ema.pt"]["size"] == 1300
    w = run.weights("model_ema.pt")
    assert w.is_relative_to(tmp_path / "weights") and w.read_bytes() == b"weights-bytes" * 100
    w.write_bytes(b"altered")
    with pytest.raises(store.CorruptArtifactError, match="checksum"):
        run.weights("model_ema.pt")
    w.unlink()
    with pytest.raises(store.MissingResultError, match="results unpack"):
        run.weights("model_ema.pt")


def test_verified_once_then_only_on_change(tmp_store, monkeypatch):
    run = store.write("exp", Cfg(), _artifacts())
    store.lookup("exp", Cfg())
    calls = []
    real = store._sha256
    monkeypatch.setattr(store, "_sha256", lambda p: calls.append(p) or real(p))
    for _ in range(3):
        store.lookup("exp", Cfg())
    assert calls == []  # unchanged files are not hashed again
    f = run.path / "arrays.npz"
    b = bytearray(f.read_bytes())
    b[len(b) // 2] ^= 0xFF
    f.write_bytes(bytes(b))  # same size, new mtime: hashed again, and caught
    with pytest.raises(store.CorruptArtifactError, match="arrays.npz"):
        store.lookup("exp", Cfg())


def test_attach_adds_an_artifact_and_never_replaces(tmp_store):
    run = store.write("exp", Cfg(), _artifacts())
    run = store.attach(run, {"probe": {"x": np.ones(3)}}, note="test")
    assert run.arrays("probe")["x"].tolist() == [1, 1, 1] and run.manifest["attached"]["probe.npz"]["note"] == "test"
    with pytest.raises(store.StoreError, match="already has"):
        store.attach(run, {"probe": {"x": np.zeros(3)}}, note="again")
    assert store.lookup("exp", Cfg()).arrays("probe")["x"].tolist() == [1, 1, 1]


def _tree(path):
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_pack_unpack_round_trips_bit_for_bit(tmp_store, tmp_path, monkeypatch):
    a = store.write("exp", Cfg(), _with_weights())
    b = store.write("other", Cfg(a=2), _artifacts())
    bundle = tmp_path / "out" / "b.tar.gz"
    index = store.pack([a, b], bundle)
    assert [r["weights"] for r in index["runs"]] == [["model_ema.pt"], []]
    before_runs, before_weights = _tree(tmp_store), _tree(tmp_path / "weights")
    # a fresh machine: empty store and cache
    monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_path / "fresh" / "results"))
    monkeypatch.setenv("COMPDIFF_WEIGHTS", str(tmp_path / "fresh" / "weights"))
    done = store.unpack(bundle)
    assert sorted(d[2] for d in done) == ["added", "added"]
    assert _tree(tmp_path / "fresh" / "results") == before_runs
    assert _tree(tmp_path / "fresh" / "weights") == before_weights
    assert store.lookup("exp", Cfg()).weights("model_ema.pt").read_bytes() == b"weights-bytes" * 100
    assert [d[2] for d in store.unpack(bundle)] == ["already stored", "already stored"]


def test_unpack_refuses_corrupt_stale_and_different(tmp_store, tmp_path, monkeypatch):
    import io
    import shutil
    import tarfile

    run = store.write("exp", Cfg(), _with_weights())
    bundle = tmp_path / "b.tar.gz"
    store.pack([run], bundle)
    # corrupt: a member altered inside the bundle
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bundle) as src, tarfile.open(bad, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name.endswith("arrays.npz"):
                data = data[:-5] + b"xxxxx"
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("COMPDIFF_RESULTS", str(fresh / "results"))
    monkeypatch.setenv("COMPDIFF_WEIGHTS", str(fresh / "weights"))
    with pytest.raises(store.CorruptArtifactError, match="arrays.npz"):
        store.unpack(bad)
    assert store.list_runs() == []
    with pytest.raises(store.CorruptArtifactError, match="not a readable bundle"):
        store.unpack(tmp_path / "missing.tar.gz")
    # stale: another engine version
    engine = store.ENGINE_VERSION
    monkeypatch.setattr(store, "ENGINE_VERSION", "999")
    with pytest.raises(store.StaleResultError, match="engine version"):
        store.unpack(bundle)
    monkeypatch.setattr(store, "ENGINE_VERSION", engine)
    # a different run under the same id is never overwritten
    monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_store))
    monkeypatch.setenv("COMPDIFF_WEIGHTS", str(tmp_path / "weights"))
    shutil.rmtree(run.path)
    store.write("exp", Cfg(), {**_artifacts(), "metrics": {"acc": 0.9}})
    with pytest.raises(store.StoreError, match="never overwritten"):
        store.unpack(bundle)
    assert store.lookup("exp", Cfg()).json("metrics") == {"acc": 0.9}
