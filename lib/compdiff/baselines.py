"""Null baselines and label classes: what a model must beat before a claim credits it.

For every evaluation label of a run, under the run's own scorer and label set:

- the **memoriser** copies the ground-truth image of the nearest *training* label (nearest in label
  space; on the torus for periodic data): a model that only memorised its training set;
- the **ground truth** draws the label's own image: the ceiling (the scorer's own errors);
- the **label classes**: training labels, held-out labels, and *isolated* held-out labels, those
  with no training label within the scorer's tolerance on both axes (a memoriser cannot hit them).

On the spacing-1 lattice with ±1 px the memoriser scores 1 − (1 − λ)⁹ on a λ-subsample (50% at
λ ≈ 0.08): an accuracy claim passes only where the model beats it (:func:`beats`). numpy + scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import data, datasets

# INFERRED (ours): a model "beats" a baseline on a label set when it is at least MARGIN more accurate
# and McNemar's exact one-sided test on the paired per-label outcomes gives p < ALPHA
MARGIN = 0.10
ALPHA = 0.01
STRICT_TOL = 0.5  # the stricter tolerance reported beside the scorer's ±1 px (bump-scored runs)


@dataclass(frozen=True)
class Baselines:
    """Per evaluation label: its class, and whether the memoriser and the ground truth score right."""

    labels: np.ndarray  # (M, 2) evaluation labels, the run's units
    train: np.ndarray  # bool (M,): the label is a training label
    isolated: np.ndarray  # bool (M,): held out, and no training label within tol on both axes
    memoriser: np.ndarray  # bool (M,): the nearest training label's image scores right
    truth: np.ndarray  # bool (M,): the label's own image scores right
    nearest: np.ndarray  # (M,) index of the nearest training label

    @property
    def held_out(self) -> np.ndarray:
        return ~self.train

    def classes(self) -> dict[str, np.ndarray]:
        """The label classes every accuracy is reported on."""
        return {"all": np.ones(len(self.labels), bool), "train": self.train, "held_out": self.held_out,
                "isolated": self.isolated}


def run_data(cfg):
    """(training set, evaluation labels, scorer, period or None, render) of any run config."""
    if hasattr(cfg, "dataset"):
        ds, labels, _, score = datasets.compose_data(cfg)
        return ds, labels, score, None, lambda lab: data.render(cfg.kind, lab, cfg.sigma, frame=cfg.frame,
                                                               canvas=cfg.canvas)
    ds, labels, score = datasets.bump_run_data(cfg)
    period = cfg.n * cfg.d if cfg.periodic else None
    return ds, labels, score, period, lambda lab: data.render("bump", lab, cfg.sigma, frame=cfg.frame,
                                                             periodic=cfg.periodic)


def _delta(a: np.ndarray, b: np.ndarray, period) -> np.ndarray:
    d = np.abs(a[:, None, :] - b[None, :, :])
    if period is not None:
        d = np.minimum(d, period - d)
    return d  # (M, T, 2)


def baselines(cfg) -> Baselines:
    """The memoriser, the ground truth and the label classes of a run config (nothing is trained)."""
    ds, labels, score, period, render = run_data(cfg)
    tol = cfg.eval.tol
    train_labels = np.asarray(ds.labels, np.float64)
    lab = np.asarray(labels, np.float64)
    d = _delta(lab, train_labels, period)
    nearest = np.argmin(np.sqrt((d ** 2).sum(-1)), axis=1)
    train = (d.max(-1) < 1e-6).any(axis=1)
    isolated = ~train & ~(d.max(-1) <= tol + 1e-9).any(axis=1)
    memoriser = np.asarray(score(ds.images[nearest], labels).correct, bool)
    truth = np.asarray(score(render(labels), labels).correct, bool)
    return Baselines(lab, train, isolated, memoriser, truth, nearest)


def strict_correct(samples: dict, cfg, tol: float = STRICT_TOL) -> np.ndarray | None:
    """Stored samples rescored at ``tol`` (one bump, both axes within tol), for bump-scored runs;
    None where the run is scored as SOS (its stored readings do not allow it)."""
    if "n_bumps" not in samples:
        return None
    period = cfg.n * cfg.d if getattr(cfg, "periodic", False) else None
    lab = samples["labels"].astype(np.float64)
    dx = np.abs(samples["x_hat"].astype(np.float64) - lab[:, 0])
    dy = np.abs(samples["y_hat"].astype(np.float64) - lab[:, 1])
    if period is not None:
        dx, dy = np.minimum(dx, period - dx), np.minimum(dy, period - dy)
    return (samples["n_bumps"] == 1) & (dx <= tol) & (dy <= tol)


@dataclass(frozen=True)
class IsolatedOutcomes:
    """What a bump-scored model drew for its isolated held-out labels, where the memoriser scores 0:
    shares of those labels (each a share of ``n``)."""

    n: int  # isolated held-out labels
    right: float  # right by the run's scorer (one bump within its tolerance): a position no training image has
    exact: float  # right within STRICT_TOL
    copies: float  # one bump within STRICT_TOL of a training label's position: the memoriser's answer (wrong here)
    other: float  # the rest: no bump, several, or one bump elsewhere


def isolated_outcomes(samples: dict, cfg, b: Baselines, tol: float = STRICT_TOL) -> IsolatedOutcomes | None:
    """Copying or generalising on the isolated held-out labels of a run (``samples``: its stored
    samples; ``b``: its :func:`baselines`): the share of them its samples get right (the run's
    scorer, and within ``tol``), and the share where it draws one bump at a training label's
    position (within ``tol``; the training labels among its evaluation labels, every one of them
    for the lattice sweeps), the memoriser's answer. None for a run scored as SOS or with no
    isolated label. Periodic runs compare on the torus."""
    if "n_bumps" not in samples or not b.isolated.any():
        return None
    period = cfg.n * cfg.d if getattr(cfg, "periodic", False) else None
    iso = b.isolated
    one = np.asarray(samples["n_bumps"])[iso] == 1
    pos = np.stack([samples["x_hat"], samples["y_hat"]], axis=1).astype(np.float64)[iso]
    at_train = (_delta(pos, b.labels[b.train], period).max(-1) <= tol + 1e-9).any(axis=1)
    right = np.asarray(samples["correct"], bool)[iso]
    exact = np.asarray(strict_correct(samples, cfg, tol), bool)[iso]
    copies = one & at_train & ~right
    n = int(iso.sum())
    return IsolatedOutcomes(n, float(right.mean()), float(exact.mean()), float(copies.mean()),
                            float((~right & ~copies).mean()))


@dataclass(frozen=True)
class Comparison:
    """A model against a baseline on one label set: accuracies, paired discordant counts, p-value."""

    n: int
    model: float
    baseline: float
    model_only: int  # labels the model gets right and the baseline wrong
    baseline_only: int
    p: float  # McNemar's exact one-sided p (the model is no better than the baseline)

    @property
    def passed(self) -> bool:
        return self.n > 0 and self.model - self.baseline >= MARGIN and self.p < ALPHA

    def describe(self) -> str:
        if not self.n:
            return "no labels"
        return (f"{100 * self.model:.1f}% vs {100 * self.baseline:.1f}% on {self.n} labels "
                f"(McNemar p = {self.p:.2g})")


def beats(model: np.ndarray, baseline: np.ndarray, mask: np.ndarray | None = None) -> Comparison:
    """Whether ``model`` is right more often than ``baseline`` (bool per label) on ``mask``."""
    from scipy.stats import binom

    model, baseline = np.asarray(model, bool), np.asarray(baseline, bool)
    if mask is not None:
        model, baseline = model[mask], baseline[mask]
    n = int(model.size)
    if n == 0:
        return Comparison(0, float("nan"), float("nan"), 0, 0, float("nan"))
    b = int((model & ~baseline).sum())
    c = int((~model & baseline).sum())
    p = float(binom.sf(b - 1, b + c, 0.5)) if b + c else 1.0
    return Comparison(n, float(model.mean()), float(baseline.mean()), b, c, p)
