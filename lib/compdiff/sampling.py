"""Sampling and scoring a trained model: samples per label, the representation readout, the
failure modes of a score, per-label ε-losses, and the probe samples every run stores.

The scoring half of a run (:mod:`compdiff.runs` trains, calls these, and stores the results).
Imports only torch and numpy (plus the library), so it runs on a bare GPU machine.
"""

from __future__ import annotations

import numpy as np
import torch

from . import data, experiments, geometry
from .diffusion import ddim_timesteps, make_schedule, q_sample, sample_ddim, sample_ddpm, to_eps


def sampler_name(ev: experiments.EvalConfig, T: int) -> str:
    return f"DDPM-{T}" if ev.sampler == "ddpm" else f"DDIM-{ev.steps} (η = {ev.eta:g})"


def generate(model, schedule, labels: np.ndarray, ev: experiments.EvalConfig, *, sampler: str | None = None,
             image_size: int = 32, device="auto", progress: bool = False) -> np.ndarray:
    """One sample per label, as images in [0, 1] (M, N, N); noise of sample k depends on (ev.seed, k)."""
    sampler = sampler or ev.sampler
    common = dict(seed=ev.seed, device=device, batch_size=ev.batch_size, shape=(1, image_size, image_size),
                  progress=progress, autocast="auto")
    lab = torch.as_tensor(labels, dtype=torch.float32)
    if sampler == "ddpm":
        x0 = sample_ddpm(model, schedule, lab, **common)
    else:
        x0 = sample_ddim(model, schedule, lab, steps=ev.steps, eta=ev.eta, **common)
    return data.from_model_range(x0[:, 0].numpy()).astype(np.float32)


def representation(model, schedule, labels: np.ndarray, rep, *, image_size: int = 32, device="auto",
                   all_steps: bool = False, progress: bool = False) -> dict[int, np.ndarray]:
    """Bottleneck activations {t: (M, C, h, w)} of every label along one shared-noise DDIM chain
    (:class:`~compdiff.experiments.RepresentationConfig`): at its last step (t = 0), and with
    ``all_steps`` also at its first (t = T−1) and middle steps."""
    visited = ddim_timesteps(schedule.T, rep.steps)
    ts = [visited[-1]]
    if all_steps:
        ts = sorted({visited[0], visited[len(visited) // 2], visited[-1]}, reverse=True)
    lab = torch.as_tensor(labels, dtype=torch.float32)
    _, feats = sample_ddim(model, schedule, lab, steps=rep.steps, eta=rep.eta, seed=rep.seed,
                           indices=[rep.noise_index] * len(lab), device=device, batch_size=rep.batch_size,
                           shape=(1, image_size, image_size), return_features_at=ts, progress=progress,
                           autocast="auto")
    return {int(t): f.numpy() for t, f in feats.items()}


def compact_cloud(X: np.ndarray, components) -> tuple[np.ndarray, float]:
    """A representation cloud (M, D) as float16 scores on its top ``components`` principal
    directions (all of them when None or ≥ min(M, D)), with the share of the variance kept.
    Distances, PCA spectra, ring planes and step directions are unchanged by this centring and
    rotation, up to the variance dropped."""
    X = np.asarray(X, np.float64)
    k = min(X.shape) if components is None else min(int(components), *X.shape)
    total = float(((X - X.mean(axis=0)) ** 2).sum())
    if components is None or k >= min(X.shape):
        return X.astype(np.float16), 1.0
    scores = geometry.pca_project(X, k)
    return scores.astype(np.float16), (float((scores ** 2).sum()) / total if total > 0 else 1.0)


def failure_modes(score) -> dict:
    """Counts of the predecessor paper's failure modes: no bump, several bumps, one misplaced,
    correct; for SOS readings, the samples with a visible coordinate read wrong, per axis."""
    if not hasattr(score, "n_bumps"):
        return {"x_wrong": int((score.x_scored & ~score.x_correct).sum()),
                "y_wrong": int((score.y_scored & ~score.y_correct).sum()),
                "correct": int(np.asarray(score.correct).sum())}
    n = np.asarray(score.n_bumps)
    correct = np.asarray(score.correct)
    return {"no_bump": int((n == 0).sum()), "several_bumps": int((n > 1).sum()),
            "one_bump_misplaced": int(((n == 1) & ~correct).sum()), "correct": int(correct.sum())}


def probe_labels(cfg) -> np.ndarray:
    """The labels every run also samples for the book, whatever its training set: the frame's
    centre (Fig 6d draws the σ = 0.1 model's sample there), in the run's label units."""
    offset = data.frame_offset(cfg.frame, getattr(cfg, "canvas", None))
    return np.array([[offset + cfg.frame / 2, offset + cfg.frame / 2]], np.float32)


def probe_samples(model, cfg, device) -> dict:
    """The ``probe_samples`` artifact: one sample per :func:`probe_labels` label (float32 images),
    drawn as the scoring sampler draws (sample k's noise from (eval.seed, k))."""
    lab = probe_labels(cfg)
    imgs = generate(model, make_schedule(cfg.diffusion), lab, cfg.eval, image_size=cfg.unet.image_size, device=device)
    return {"labels": lab, "images": imgs.astype(np.float32)}


def epsilon_mse(model, schedule, images: np.ndarray, labels: np.ndarray, *, draws: int, seed: int,
                device="cpu", batch_size: int = 512) -> np.ndarray:
    """Per-image plain ε-MSE (unweighted, as DDPM's L_simple) of ``model`` on ``images`` in
    [0, 1], averaged over ``draws`` (t, ε) pairs drawn from ``Generator(seed)``: the same draws for
    a given (seed, image index), so losses of models and of label sets are comparable."""
    g = torch.Generator().manual_seed(int(seed))
    x0 = torch.as_tensor(data.to_model_range(images), dtype=torch.float32)[:, None]
    lab = torch.as_tensor(labels, dtype=torch.float32)
    M = len(x0)
    t = torch.randint(0, schedule.T, (draws, M), generator=g)
    noise = torch.randn((draws, *x0.shape), generator=g)
    out = np.zeros((draws, M))
    model.eval()
    with torch.no_grad():
        for k in range(draws):
            for lo in range(0, M, batch_size):
                sl = slice(lo, lo + batch_size)
                tt, nn = t[k, sl].to(device), noise[k, sl].to(device)
                x_t = q_sample(schedule, x0[sl].to(device), tt, nn)
                eps = to_eps(schedule, model(x_t, tt, lab[sl].to(device)).float(), x_t, tt)
                out[k, sl] = (eps - nn).pow(2).flatten(1).mean(1).cpu().numpy()
    return out.mean(axis=0)
