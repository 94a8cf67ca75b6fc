"""Train-and-evaluate through the store, end to end, at the smoke profile (tiny: seconds)."""

import numpy as np
import pytest

from compdiff import experiments, runs, store


@pytest.fixture(scope="module")
def smoke_cfg():
    # smaller still than the smoke profile: one snapshot, few labels
    cfg = experiments.basic_config("smoke")
    train = experiments.replace(cfg.train, images=640, checkpoint_every_images=320)
    ev = experiments.replace(cfg.eval, steps=4, ddpm_check_labels=4, grid_samples=4, curve_labels=8)
    return experiments.replace(cfg, train=train, eval=ev, diffusion=experiments.replace(cfg.diffusion, T=20))


def test_train_score_store_and_replay(tmp_store, smoke_cfg, monkeypatch):
    run = runs.get_bump_run("basic", smoke_cfg, device="cpu", progress=False)
    m = run.json("metrics")
    assert [c["images"] for c in m["curve"]] == [320, 640]
    assert m["curve"][0]["n_labels"] == 8 and m["curve"][-1]["n_labels"] == m["n_eval_labels"] == 64
    assert 0.0 <= m["accuracy"] <= 1.0 and m["sampler"] == "DDIM-4 (η = 1)"
    assert m["ddpm_check"]["labels"] == 4 and m["ddpm_check"]["ddpm_sampler"] == "DDPM-20"
    s = run.arrays("samples")
    assert s["labels"].shape == (64, 2) and s["correct"].shape == (64,)
    assert s["grid_images"].shape == (4, 32, 32)
    assert np.isfinite(s["grid_images"].astype(np.float32)).all()
    loss = run.json("loss_curve")
    assert len(loss["images"]) == len(loss["loss"]) > 0
    assert not (run.path / "model_ema.pt").exists()  # weights live in the local cache, outside git
    assert run.weights("model_ema.pt").is_file() and "model_ema.pt" in run.manifest["weights"]
    probe = run.arrays("probe_samples")
    assert probe["labels"].tolist() == [[16.0, 16.0]] and probe["images"].shape == (1, 32, 32)

    # a second request is a verified hit, even with training switched off
    monkeypatch.setenv("COMPDIFF_NO_TRAIN", "1")
    again = runs.get_bump_run("basic", smoke_cfg, device="cpu", progress=False)
    assert again.path == run.path and again.json("metrics") == m

    # another seed is a different run: a miss, which no-train mode names
    other = experiments.replace(smoke_cfg, train=experiments.replace(smoke_cfg.train, seed=1))
    with pytest.raises(store.MissingResultError, match="basic/"):
        runs.get_bump_run("basic", other, device="cpu", progress=False)


def test_bad_experiment_and_eval_config():
    with pytest.raises(experiments.ConfigError, match="available: basic"):
        experiments.experiment_config("nope", "cpu")
    with pytest.raises(experiments.ConfigError, match="sampler"):
        experiments.EvalConfig(sampler="euler")
    with pytest.raises(experiments.ConfigError, match="eta"):
        experiments.EvalConfig(eta=1.5)
    with pytest.raises(experiments.ConfigError, match="unknown field"):
        experiments.basic_config("cpu", sigmaa=2)
