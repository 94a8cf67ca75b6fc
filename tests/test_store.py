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
