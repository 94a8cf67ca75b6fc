"""Cheap signals during training and the stop-at-convergence rule (issue 18), at smoke size."""

import json

import numpy as np
import pytest
import torch

from compdiff import experiments, monitor, runs
from compdiff.diffusion import DiffusionConfig, make_schedule


@pytest.fixture(scope="module")
def tiny_cfg():
    cfg = experiments.basic_config("smoke")
    train = experiments.replace(cfg.train, images=960, checkpoint_every_images=None)
    ev = experiments.replace(cfg.eval, steps=4, ddpm_check_labels=0, grid_samples=4, curve_labels=8)
    return experiments.replace(cfg, train=train, eval=ev, diffusion=experiments.replace(cfg.diffusion, T=20))


def test_label_use_gap_reads_zero_for_a_model_that_ignores_its_label():
    sch = make_schedule(DiffusionConfig(T=100))
    imgs = np.random.default_rng(0).random((16, 8, 8)).astype(np.float32)
    labels = np.random.default_rng(1).random((16, 2)).astype(np.float32) * 8

    deaf = lambda x, t, y: 0.5 * x  # noqa: E731
    gap = monitor.label_use_gap(deaf, sch, imgs, labels, timesteps=(10, 40))
    assert gap == {10: 0.0, 40: 0.0}

    def listening(x, t, y):  # the label moves its output: wrong labels cost
        return 0.5 * x + 0.3 * torch.sin(y[:, :1, None, None] + torch.arange(8.0))

    gap = monitor.label_use_gap(listening, sch, imgs, labels, timesteps=(10, 40))
    assert all(v != 0.0 for v in gap.values())
    # the default noise levels are fractions of T
    assert list(monitor.label_use_gap(deaf, sch, imgs, labels)) == [15, 30, 45]


def test_train_until_stops_at_the_cap_and_resumes(tmp_path, tiny_cfg):
    out = monitor.train_until(tiny_cfg, tmp_path, every=320, labels=8, steps=3, gap_images=8, log=None,
                              history_path=tmp_path / "h.json")
    assert out["stopped"] == "cap" and out["images"] == 960
    assert [h["images"] for h in out["history"]] == [320, 640, 960]
    assert set(out["history"][0]["label_gap"]) == {"3", "6", "9"}
    again = monitor.train_until(tiny_cfg, tmp_path, every=320, labels=8, steps=3, gap_images=8, log=None,
                                history_path=tmp_path / "h.json")
    assert again["history"] == out["history"] and again["result"].images_seen == 960


def test_stop_rule_ends_a_pipeline_run_at_the_bar(tmp_store, tiny_cfg, monkeypatch):
    calls = []

    def fake_quick(model, cfg, labels, score, *, steps, device):
        calls.append(len(labels))
        return {"accuracy": 1.0, "labels": len(labels), "steps": steps}

    monkeypatch.setattr(monitor, "quick_accuracy", fake_quick)
    cfg = experiments.replace(tiny_cfg, stop=experiments.StopRule(bar=0.9, every_images=320, patience=2,
                                                                   labels=8, steps=3, label_use=None))
    run = runs.get_bump_run("basic", cfg, device="cpu", progress=False)
    m = run.json("metrics")
    assert m["stop"]["stopped"] == "bar" and m["stop"]["images"] == 640 and m["stop"]["cap"] == 960
    assert m["train"]["images"] == 640 and m["curve"][-1]["images"] == 640
    assert calls == [8, 8]
    # the same config without a rule is another run
    from compdiff import store
    assert store.run_id(cfg) != store.run_id(tiny_cfg)
    assert "stop" not in json.dumps(store._jsonable(tiny_cfg))


def test_stop_rule_is_validated():
    with pytest.raises(ValueError, match="bar"):
        experiments.StopRule(bar=0.0)
    with pytest.raises(ValueError, match="every_images"):
        experiments.StopRule(every_images=0)


def test_a_check_samples_only_once_the_label_is_used(tmp_path, tiny_cfg, monkeypatch):
    """Below the label-use gap the accuracy is recorded as not measured (the samples are not drawn);
    such a check never counts towards the bar."""
    from compdiff.train import RunSpec, train

    calls = []
    monkeypatch.setattr(monitor, "quick_accuracy", lambda *a, **k: calls.append(1) or {"accuracy": 1.0})
    ck = monitor.Checker(tiny_cfg, tmp_path / "h.json", every=320, labels=8, steps=3, gap_images=8,
                         label_use=0.5, bar=0.9, patience=1)
    spec = RunSpec(unet=tiny_cfg.unet, diffusion=tiny_cfg.diffusion, train=tiny_cfg.train)
    from compdiff import data
    res = train(spec, data.to_model_range(ck.ds.images)[:, None], ck.ds.labels, tmp_path / "run",
                device="cpu", progress=False, stop_after_images=320)
    h = ck.check(res)
    assert h["accuracy"] is None and "label-use gap" in h["not_sampled"] and calls == []
    assert ck.stopped() is None and "n/a" in monitor.Checker.line(h)
    ck.label_use = None
    assert ck.check(res)["accuracy"] == 1.0 and calls == [1] and ck.stopped() == "bar"


@pytest.mark.parametrize("name", ["fig04_stripes", "fig10_stripes_norim"])
def test_a_stripe_model_is_checked_on_its_own_training_labels(name):
    """The stripe data has no training label on the frame lattice (all of it is the held-out
    composition): its stop rule checks its own training labels, scored on the visible coordinates,
    so a model that draws its training images perfectly passes the bar; checking the frame
    lattice instead would never let it converge."""
    from compdiff import datasets

    cfg = experiments.compose_sweep("cpu", recipe="v-stop")[name]
    ds, labels, score = monitor.run_data(cfg)
    assert len(labels) == len(ds.labels) and np.array_equal(labels, ds.labels)
    assert np.mean(score(ds.images, labels).correct) == 1.0
    _, lattice, masks, _ = datasets.compose_data(cfg)
    assert not masks["id"].any()
    # a composition run with a training region keeps it
    sos = experiments.compose_sweep("cpu", recipe="v-stop")["fig04_sos_stripes"]
    _, lab, _ = monitor.run_data(sos)
    _, lattice, masks, _ = datasets.compose_data(sos)
    assert np.array_equal(lab, lattice[masks["id"]])
