"""Cheap signals of a run in training: a quick accuracy and the label-use gap (issue 18).

Both read a model on a fixed set of labels, so two snapshots (or two recipes) are compared on the
same draws:

- :func:`quick_accuracy`: one sample per label from a short stochastic DDIM chain (``steps``,
  η = 1, noise seed of the run's EvalConfig), scored with the run's own scorer. Its agreement with
  the DDIM-50 sampler the runs are judged by is measured at every run's end
  (``benchmarks/recipe_study.py``), not assumed.
- :func:`label_use_gap`: the ε-MSE of the model with its labels shuffled, relative to the true
  labels, on a fixed batch at a few noise levels: ``mse(shuffled) / mse(true) − 1``. A model that
  ignores its label reads 0; it rises long before the accuracy does.
- :func:`train_until`: trains a run in segments (exact resume between them) and stops when the
  quick accuracy has passed ``bar`` at ``patience`` consecutive checks, or at the run's budget.

Needs torch and numpy only (the GPU-slot path).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from . import data, sampling
from .diffusion import make_schedule, q_sample, to_eps

__all__ = ["quick_accuracy", "label_use_gap", "fixed_subset", "train_until", "run_data", "Checker", "HISTORY", "GAP_FRACTIONS"]

GAP_FRACTIONS = (0.15, 0.30, 0.45)  # of T: t = 150, 300, 450 at T = 1000


def fixed_subset(n: int, size: int, seed: int = 0) -> np.ndarray:
    """``size`` sorted indices of range(n), drawn once from ``seed`` (all of them if size ≥ n)."""
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def quick_accuracy(model, cfg, labels: np.ndarray, score, *, steps: int = 25, device="cpu") -> dict:
    """Accuracy of one DDIM-``steps`` (η = cfg.eval.eta) sample per label, with failure modes."""
    ev = replace(cfg.eval, sampler="ddim", steps=steps)
    imgs = sampling.generate(model, make_schedule(cfg.diffusion), labels, ev,
                             image_size=cfg.unet.image_size, device=device)
    s = score(imgs, labels)
    out = {"accuracy": float(np.mean(s.correct)), "labels": int(len(labels)), "steps": int(steps)}
    out.update(sampling.failure_modes(s))
    return out


def label_use_gap(model, schedule, images: np.ndarray, labels: np.ndarray, *,
                  timesteps=None, seed: int = 0, device="cpu") -> dict:
    """``{t: mse(shuffled labels) / mse(true labels) − 1}`` of the ε-prediction, on ``images``
    (in [0, 1]) with one fixed noise draw and one fixed label permutation per ``seed``; the
    timesteps default to :data:`GAP_FRACTIONS` of T."""
    if timesteps is None:
        timesteps = [int(round(f * schedule.T)) for f in GAP_FRACTIONS]
    g = torch.Generator().manual_seed(int(seed))
    x0 = torch.as_tensor(data.to_model_range(images), dtype=torch.float32)[:, None].to(device)
    lab = torch.as_tensor(labels, dtype=torch.float32).to(device)
    perm = torch.randperm(len(lab), generator=g)
    # a derangement-ish shuffle is enough: a label kept in place only lowers the gap
    shuffled = lab[perm.to(device)]
    noise = torch.randn(x0.shape, generator=g).to(device)
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    out = {}
    try:
        with torch.no_grad():
            for t_int in timesteps:
                t = torch.full((len(x0),), int(t_int), dtype=torch.long, device=device)
                x_t = q_sample(schedule, x0, t, noise)
                mse = []
                for y in (lab, shuffled):
                    eps = to_eps(schedule, model(x_t, t, y).float(), x_t, t)
                    mse.append(float((eps - noise).pow(2).mean()))
                out[int(t_int)] = mse[1] / mse[0] - 1.0
    finally:
        if was_training is not None:
            model.train(was_training)
    return out


def run_data(cfg):
    """(training set, the evaluation labels of its training region, scorer) of a bump run
    (basic, periodic) or a composition run. A run with no training label on the frame lattice
    (the stripe data, with or without its rim: 1D stripes and partly visible 2D examples) is
    checked on its own training labels, each scored on the coordinates visible in the frame, as
    its scoring does (``train_1d``); its frame lattice is all held out, the composition it is
    judged on, never its convergence bar."""
    from . import datasets

    if hasattr(cfg, "dataset"):
        ds, labels, masks, score = datasets.compose_data(cfg)
        if masks["id"].any():
            return ds, labels[masks["id"]], score
        return ds, np.asarray(ds.labels, np.float32), score
    ds, labels, score = datasets.bump_run_data(cfg)
    return ds, labels, score


HISTORY = "stop_history.json"  # a stop-rule run's checks, in its scratch folder


class Checker:
    """The stop-rule checks of one run (``cfg``, bump or composition): after a segment of training,
    :meth:`check` scores the ``cfg.eval.weights`` model on ``labels`` fixed training labels with a
    DDIM-``steps`` chain and logs the label-use gap on ``gap_images`` fixed training images; the
    run has stopped once that accuracy has been ≥ ``bar`` at ``patience`` consecutive checks
    ("bar"), or at ``cfg.train.images`` ("cap"). The checks are kept in ``history_path`` (JSON),
    so training resumes anywhere, alone (:func:`train_until`) or K runs at a time (the GPU slot)."""

    def __init__(self, cfg, history_path=None, *, every: int, bar: float = 0.95, patience: int = 2,
                 labels: int = 256, steps: int = 25, gap_images: int = 256, device="cpu",
                 label_use: float | None = None):
        self.cfg, self.bar, self.patience, self.steps, self.device = cfg, bar, patience, steps, device
        self.label_use = label_use
        self.ds, eval_labels, self.score = run_data(cfg)
        self.labels = eval_labels[fixed_subset(len(eval_labels), labels)]
        self.gap_idx = fixed_subset(len(self.ds.images), gap_images, seed=1)
        self.schedule = make_schedule(cfg.diffusion)
        b = cfg.train.batch_size
        self.every = max(b, every // b * b)
        self.cap = cfg.train.images
        self.path = Path(history_path) if history_path else None
        self.history = json.loads(self.path.read_text())["history"] if self.path and self.path.exists() else []

    @classmethod
    def of_rule(cls, cfg, scratch, device="cpu") -> "Checker":
        """The checker of a run config's StopRule (``cfg.stop``), its history in ``scratch``."""
        r = cfg.stop
        return cls(cfg, Path(scratch) / HISTORY, every=r.every_images, bar=r.bar, patience=r.patience,
                   labels=r.labels, steps=r.steps, device=device, label_use=r.label_use)

    @property
    def done(self) -> int:
        return self.history[-1]["images"] if self.history else 0

    def stopped(self):
        """"bar", "cap" or None (still training)."""
        streak = 0
        for h in reversed(self.history):
            if h["accuracy"] is None or h["accuracy"] < self.bar:
                break
            streak += 1
        if streak >= self.patience:
            return "bar"
        return "cap" if self.done >= self.cap else None

    def next_target(self) -> int:
        """Where the next segment ends (images seen)."""
        return min(self.cap, self.done + self.every)

    def check(self, res, segment_seconds: float = float("nan")) -> dict:
        """Score the TrainResult ``res`` (standing at a segment's end) and record it."""
        model = res.model(self.cfg.eval.weights)
        t1 = time.perf_counter()
        gap = label_use_gap(model, self.schedule, self.ds.images[self.gap_idx], self.ds.labels[self.gap_idx],
                            device=self.device)
        if self.label_use is not None and min(gap.values()) < self.label_use:
            acc = {"accuracy": None, "labels": int(len(self.labels)), "steps": int(self.steps),
                   "not_sampled": f"label-use gap below {self.label_use:g}"}
        else:
            acc = quick_accuracy(model, self.cfg, self.labels, self.score, steps=self.steps, device=self.device)
        h = {"images": int(res.images_seen), "train_seconds": float(res.train_seconds_total),
             "segment_seconds": segment_seconds, "eval_seconds": time.perf_counter() - t1,
             "images_per_s": float(res.images_per_second), **acc,
             "label_gap": {str(k): v for k, v in gap.items()}}
        self.history.append(h)
        if self.path:
            self.path.write_text(json.dumps({"history": self.history}, indent=1))
        return h

    @staticmethod
    def line(h: dict) -> str:
        acc = "  n/a " if h["accuracy"] is None else f"{100 * h['accuracy']:5.1f}%"
        return (f"{h['images']:>8,d} images  acc {acc}  no bump {h.get('no_bump', 0):3d}  "
                f"several {h.get('several_bumps', 0):3d}  gap "
                + " ".join(f"{k}:{100 * v:+.0f}%" for k, v in h["label_gap"].items())
                + f"  ({h['images_per_s']:.0f} img/s)")


def train_until(cfg, out_dir, *, every: int, bar: float = 0.95, patience: int = 2, labels: int = 256,
                steps: int = 25, gap_images: int = 256, device="cpu", log=print,
                history_path=None, label_use: float | None = None, until: int | None = None) -> dict:
    """Train the run ``cfg`` (bump or composition) in segments of ``every`` images, with a
    :class:`Checker` check after each, until it stops (at the bar or the cap). Resumes from
    ``out_dir`` and ``history_path``. ``until`` pauses it after the check at that many images
    (``"stopped"`` is then None: the run resumes later from where it stands).

    Returns ``{"history": [...], "stopped": "bar" | "cap", "images": ..., "train_seconds": ...,
    "result": the last TrainResult}``."""
    from .train import RunSpec, train

    out_dir = Path(out_dir)
    ck = Checker(cfg, history_path, every=every, bar=bar, patience=patience, labels=labels, steps=steps,
                 gap_images=gap_images, device=device, label_use=label_use)
    spec = RunSpec(unet=cfg.unet, diffusion=cfg.diffusion, train=cfg.train)
    x = data.to_model_range(ck.ds.images)[:, None]
    res = None
    while ck.stopped() is None and (until is None or ck.done < until):
        t0 = time.perf_counter()
        res = train(spec, x, ck.ds.labels, out_dir, device=device, progress=False,
                    stop_after_images=ck.next_target())
        h = ck.check(res, time.perf_counter() - t0)
        if log is not None:
            log(Checker.line(h))
    if res is None:  # stopped earlier: reload the run where it stands
        res = train(spec, x, ck.ds.labels, out_dir, device=device, progress=False,
                    stop_after_images=max(ck.done, cfg.train.batch_size))
    return {"history": ck.history, "stopped": ck.stopped(), "images": ck.done,
            "train_seconds": ck.history[-1]["train_seconds"] if ck.history else 0.0, "result": res}
