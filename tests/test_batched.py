"""K models trained together follow the curves of the same models trained alone (issue 4)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from compdiff.batched import batch_key, train_batched
from compdiff.diffusion import DiffusionConfig
from compdiff.train import load_model, train
from test_train import bumps, spec

# Loss values are O(1); the grouped kernels only reorder float32 sums, so the per-interval mean
# losses agree to ~1e-6. Weights drift further (Adam divides by √v, so parameters with tiny
# gradients amplify rounding), hence the looser weight tolerance.
LOSS_ATOL = 2e-5
WEIGHT_ATOL = 5e-3


def _jobs(tmp_path, seeds=(0, 1, 2), prefix="b", **kw):
    jobs = []
    for k, s in enumerate(seeds):
        x, y = bumps(m=32 + 8 * k, seed=10 + k)  # every run its own data set and size
        jobs.append((spec(seed=s, **kw), x, y, tmp_path / f"{prefix}{k}"))
    return jobs


def _curve(res):
    return np.array([v for _, v in res.loss_curve])


def test_batched_matches_alone(tmp_path):
    jobs = _jobs(tmp_path)
    together = train_batched(jobs, device="cpu", progress=False, max_models=3)
    for k, (s, x, y, _) in enumerate(jobs):
        alone = train(s, x, y, tmp_path / f"alone{k}", device="cpu", progress=False)
        a, b = _curve(alone), _curve(together[k])
        assert a.shape == b.shape and len(a) == 4
        np.testing.assert_allclose(b, a, atol=LOSS_ATOL, rtol=0)
        for p, q in zip(alone.raw_model.parameters(), together[k].raw_model.parameters()):
            assert torch.allclose(p, q, atol=WEIGHT_ATOL)
    # runs with other seeds and data must differ: the test can tell runs apart
    assert np.abs(_curve(together[0]) - _curve(together[1])).max() > 1e-3


def test_batched_grad_clip_and_loss_weights_match_alone(tmp_path):
    """The gradient clip is each model's own global norm, and the min-SNR loss weights are each
    run's own, in a group as alone."""
    weighted = DiffusionConfig(loss_weighting="min_snr")
    jobs = [(replace(s, diffusion=weighted), x, y, out)
            for s, x, y, out in _jobs(tmp_path, seeds=(0, 1), grad_clip=0.05)]
    together = train_batched(jobs, device="cpu", progress=False, max_models=2)
    for k, (s, x, y, _) in enumerate(jobs):
        alone = train(s, x, y, tmp_path / f"alone{k}", device="cpu", progress=False)
        np.testing.assert_allclose(_curve(together[k]), _curve(alone), atol=LOSS_ATOL, rtol=0)
        for p, q in zip(alone.raw_model.parameters(), together[k].raw_model.parameters()):
            assert torch.allclose(p, q, atol=WEIGHT_ATOL)
    unclipped = train(replace(jobs[0][0], train=replace(jobs[0][0].train, grad_clip=None)),
                      *jobs[0][1:3], tmp_path / "unclipped", device="cpu", progress=False)
    assert np.abs(_curve(unclipped) - _curve(together[0])).max() > 1e-3  # the clip bites


def test_batched_files_are_train_files(tmp_path):
    """A batched run leaves the files of train(): snapshots load, and a finished run reloads."""
    jobs = _jobs(tmp_path, seeds=(4, 5))
    res = train_batched(jobs, device="cpu", progress=False)
    out = jobs[0][3]
    assert sorted(p.name for p in out.glob("ckpt_*.pt")) == ["ckpt_128.pt", "ckpt_64.pt"]
    m = load_model(out / "ckpt_128.pt", which="ema", device="cpu")
    sd = res[0].ema_model.state_dict()
    for k, v in m.state_dict().items():
        assert torch.equal(v, sd[k].cpu()), k
    s, x, y, _ = jobs[0]
    again = train(s, x, y, out, device="cpu", progress=False)  # nothing left to train
    assert again.resumed_from_images == 128 and again.completed
    np.testing.assert_array_equal(_curve(again), _curve(res[0]))


def test_resume_alone_then_together(tmp_path):
    """Runs interrupted alone at different points resume together (grouped by progress) and end
    where uninterrupted runs end."""
    jobs = _jobs(tmp_path, seeds=(0, 1, 2))
    for (s, x, y, out), stop in zip(jobs, (48, 48, 96)):
        train(s, x, y, out, device="cpu", progress=False, stop_after_images=stop)
    res = train_batched(jobs, device="cpu", progress=False)
    assert [r.resumed_from_images for r in res] == [48, 48, 96]
    for k, (s, x, y, _) in enumerate(jobs):
        alone = train(s, x, y, tmp_path / f"alone{k}", device="cpu", progress=False)
        np.testing.assert_allclose(_curve(res[k]), _curve(alone), atol=LOSS_ATOL, rtol=0)


def test_batch_key_ignores_seed_only():
    assert batch_key(spec(seed=0)) == batch_key(spec(seed=7))
    assert batch_key(spec(seed=0)) != batch_key(spec(seed=0, lr=1e-3))


def test_bad_jobs(tmp_path):
    x, y = bumps(m=16)
    s = spec()
    with pytest.raises(ValueError, match="out_dir"):
        train_batched([(s, x, y, tmp_path / "a"), (s, x, y, tmp_path / "a")], device="cpu")
    with pytest.raises(ValueError, match="max_models"):
        train_batched([(s, x, y, tmp_path / "a")], device="cpu", max_models=0)
    with pytest.raises(ValueError, match=r"jobs\[0\]"):
        train_batched([(s, x, y)], device="cpu")


def test_batched_cond_lr_mult_matches_alone(tmp_path):
    """The second AdamW group (cond_lr_mult) is each model's own in a group, and a checkpoint
    written in a group resumes alone."""
    jobs = _jobs(tmp_path, seeds=(0, 1), cond_lr_mult=4.0)
    for s, x, y, out in jobs:
        train(s, x, y, out, device="cpu", progress=False, stop_after_images=48)
    from compdiff.train import train_many

    together = train_many(jobs, device="cpu", progress=False, max_models=2, stop_after_images=96)
    for k, (s, x, y, out) in enumerate(jobs):
        done = train(s, x, y, out, device="cpu", progress=False)  # the rest alone
        alone = train(s, x, y, tmp_path / f"alone{k}", device="cpu", progress=False)
        np.testing.assert_allclose(_curve(done), _curve(alone), atol=LOSS_ATOL, rtol=0)
        for p, q in zip(alone.raw_model.parameters(), done.raw_model.parameters()):
            assert torch.allclose(p, q, atol=WEIGHT_ATOL)
    assert together[0].images_seen == 96
