"""One frozen config per figure experiment, at each profile; and the figure registry.

Profiles (DESIGN.md):

* ``smoke`` — every code path with tiny grids and models: seconds per notebook; CI and first tries.
* ``cpu``   — small models a 2-core laptop trains in minutes to tens of minutes each; replaying the
  stored runs for the whole book takes minutes.
* ``paper`` — the paper's scale, for one GPU.

Every number a notebook uses comes from a config here; every INFERRED/UNKNOWN choice is a named
field and a row of :mod:`compdiff.assumptions` (rendered as the book's assumptions page).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Optional

import numpy as np
from dataclasses import dataclass, field

from . import paths

PROFILES = ("smoke", "cpu", "paper")
# INFERRED: the representation later figures analyse is the UNet's bottleneck output (the
# predecessor paper's "layer 4"), read through ConditionalUNet.bottleneck_module.
REPRESENTATION_LAYER = "bottleneck"
DEFAULT_PROFILE = "cpu"


class ConfigError(ValueError):
    """A bad profile, figure, parameter or config value; the message names it and what is allowed."""


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
    return profile


def check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} = {value!r} is not allowed; allowed: {', '.join(map(repr, allowed))}")


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_real(name: str, value, lo=None, hi=None, *, lo_open=False, hi_open=False) -> None:
    """``value`` is a finite number (not a bool) in the range [lo, hi] (``*_open``: excluded)."""
    ok = _is_real(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if not ok:
        if lo is not None and hi is not None:
            where = f" in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        elif lo is not None:
            where = f" {'>' if lo_open else '≥'} {lo:g}"
        elif hi is not None:
            where = f" {'<' if hi_open else '≤'} {hi:g}"
        else:
            where = ""
        raise ConfigError(f"{name} = {value!r} must be a finite number{where}")


def check_int(name: str, value, minimum: int = 0) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{name} = {value!r} must be an integer ≥ {minimum}")


def check_bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} = {value!r} must be True or False")


def check_positive(name: str, value) -> None:
    check_real(name, value, 0, lo_open=True)


def check_fraction(name: str, value) -> None:
    check_real(name, value, 0, 1, lo_open=True)


def check_tuple(obj, name: str, check, *, min_len: int = 1) -> None:
    """``obj.name`` is a tuple (a list is converted) of at least ``min_len`` items, each passing
    ``check(f"{name}[i]", item)``."""
    value = getattr(obj, name)
    qual = f"{type(obj).__name__}.{name}"
    if isinstance(value, list):
        value = tuple(value)
        object.__setattr__(obj, name, value)
    if not isinstance(value, tuple) or len(value) < min_len:
        raise ConfigError(f"{qual} = {value!r} must be a tuple of at least {min_len} value(s)")
    for i, item in enumerate(value):
        check(f"{qual}[{i}]", item)


def replace(cfg, **overrides):
    """``dataclasses.replace`` that names an unknown field and lists the allowed ones."""
    names = {f.name for f in dataclasses.fields(cfg)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(
            f"unknown field(s) {', '.join(unknown)} for {type(cfg).__name__}; "
            f"allowed: {', '.join(sorted(names))}"
        )
    return dataclasses.replace(cfg, **overrides)


# ---------------------------------------------------------------------------------------------
# Figure registry


@dataclass(frozen=True)
class Figure:
    key: str
    notebook: str  # file name under notebooks/
    title: str
    needs_training: bool


FIGURES: dict[str, Figure] = {
    f.key: f
    for f in [
        Figure("fig01", "fig01_data_examples.ipynb", "Fig 1 — data examples", False),
        Figure("fig02", "fig02_torus_dynamics.ipynb", "Fig 2 — a periodic-bump model learns a factorized torus", True),
        Figure("fig03", "fig03_orthogonality.ipynb", "Fig 3 — orthogonality and parallelism tests", True),
        Figure("fig04", "fig04_composition.ipynb", "Fig 4 — composition versus interpolation with SOS data", True),
        Figure("fig05", "fig05_sample_efficiency.ipynb", "Fig 5 — sample efficiency with independent factors", True),
        Figure("fig06", "fig06_percolation.ipynb", "Fig 6 — percolation theory of manifold formation", True),
        Figure("fig07", "fig07_unet.ipynb", "Fig 7 — the conditional UNet", True),
        Figure("fig08", "fig08_ring_tests.ipynb", "Fig 8 — the ring tests explained (reconstruction)", True),
        Figure("fig09", "fig09_latent_space.ipynb", "Fig 9 — stripes, SOS and the 44×44 latent space", False),
        Figure("fig10", "fig10_rim.ipynb", "Fig 10 — 1D stripes with and without the rim", True),
        Figure("fig11", "fig11_lesion.ipynb", "Fig 11 — interpolation across a vertical lesion", True),
        Figure("fig12", "fig12_holes.ipynb", "Fig 12 — interior and exterior compositional generalization", True),
        Figure("fig13", "fig13_percolation_thresholds.ipynb", "Fig 13 — percolation at several thresholds", False),
        Figure("fig14", "fig14_percolation_support.ipynb", "Fig 14 — percolation support", True),
        Figure("fig15", "fig15_representations.ipynb", "Fig 15 — final representations of the Fig 6 models", True),
    ]
}


def figure(key: str) -> Figure:
    if key not in FIGURES:
        raise ConfigError(f"unknown figure {key!r}; available: {', '.join(sorted(FIGURES))}")
    return FIGURES[key]


def notebook_path(key: str):
    return paths.NOTEBOOKS / figure(key).notebook


# ---------------------------------------------------------------------------------------------
# Data figures (Figs 1, 9)


@dataclass(frozen=True)
class DataConfig:
    """Rendering choices shared by every experiment (spec §1.1)."""

    frame: int = 32  # STATED: 32×32 images
    canvas: int = 44  # STATED (Fig 9): 44×44 latent space for stripes and SOS
    sigma: float = 1.0  # INFERRED: default bump/stripe width in pixels
    example_mu: tuple[float, float] = (16.0, 16.0)  # INFERRED: Fig 1's example centre
    cross_lo: float = 13.0  # STATED (Fig 4a): held-out range 13–19 (frame units)
    cross_hi: float = 19.0
    rim_sigmas: float = 3.0  # INFERRED: a hidden coordinate within 3σ of the frame is a "rim" label

    def __post_init__(self):
        from .data import SIGMA_MAX, SIGMA_MIN

        check_int("DataConfig.frame", self.frame, 1)
        check_int("DataConfig.canvas", self.canvas, 1)
        if self.canvas < self.frame or (self.canvas - self.frame) % 2:
            raise ConfigError(
                f"DataConfig.canvas = {self.canvas!r} must be ≥ frame = {self.frame} with an even difference"
            )
        check_real("DataConfig.sigma", self.sigma, SIGMA_MIN, SIGMA_MAX)
        check_tuple(self, "example_mu", check_real, min_len=2)
        if len(self.example_mu) != 2:
            raise ConfigError(f"DataConfig.example_mu = {self.example_mu!r} must be one (mu_x, mu_y) pair")
        check_real("DataConfig.cross_lo", self.cross_lo)
        check_real("DataConfig.cross_hi", self.cross_hi)
        if self.cross_hi < self.cross_lo:
            raise ConfigError(f"DataConfig.cross_lo = {self.cross_lo!r} must be ≤ cross_hi = {self.cross_hi!r}")
        check_real("DataConfig.rim_sigmas", self.rim_sigmas, 0)

    @property
    def offset(self) -> int:
        return (self.canvas - self.frame) // 2


def data_config(profile: str) -> DataConfig:
    check_profile(profile)
    return DataConfig()


# ---------------------------------------------------------------------------------------------
# Percolation (Figs 6b-c, 13, 14b)


@dataclass(frozen=True)
class PercolationConfig:
    """Site percolation of overlapping bumps (spec §1.7)."""

    sigmas: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5)  # INFERRED: Fig 6e's σ legend
    keep_fractions: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 21))  # INFERRED: λ
    thresholds: tuple[float, ...] = (0.5, 0.1, 0.05, 0.01, 0.005, 0.001)  # INFERRED: Fig 13 panels
    fig6_threshold: float = 0.005  # STATED (Fig 6c)
    fig14_threshold: float = 0.05  # STATED (Fig 14b)
    L: int = 32  # INFERRED: the 32×32 training lattice
    d: float = 1.0  # INFERRED: lattice spacing of the training data
    trials: int = 50  # INFERRED: random draws per (σ, λ)
    seed: int = 0
    overlap: str = "analytic"  # INFERRED: exp(-d²/4σ²); "pixel" = cosine of rendered images
    denominator: str = "kept"  # INFERRED: largest cluster / kept sites ("all" = / L²)
    d_max: float = 5.0  # Fig 6b's x-axis range (px)

    def __post_init__(self):
        from .data import SIGMA_MAX, SIGMA_MIN

        def threshold(name, t):
            check_real(name, t, 0, 1, lo_open=True, hi_open=True)

        def sigma(name, s):  # the range the renderers accept (overlap="pixel" renders the bumps)
            check_real(name, s, SIGMA_MIN, SIGMA_MAX)

        check_tuple(self, "sigmas", sigma)
        check_tuple(self, "keep_fractions", check_fraction)
        check_tuple(self, "thresholds", threshold)
        threshold("PercolationConfig.fig6_threshold", self.fig6_threshold)
        threshold("PercolationConfig.fig14_threshold", self.fig14_threshold)
        check_int("PercolationConfig.L", self.L, 1)
        check_positive("PercolationConfig.d", self.d)
        check_int("PercolationConfig.trials", self.trials, 1)
        check_int("PercolationConfig.seed", self.seed, 0)
        check_choice("PercolationConfig.overlap", self.overlap, ("analytic", "pixel"))
        check_choice("PercolationConfig.denominator", self.denominator, ("kept", "all"))
        check_positive("PercolationConfig.d_max", self.d_max)

    def mass_ratio_curves(self, threshold: float, sigmas=None, *, seed: int | None = None):
        """The simulated largest-connected mass ratio under this config: one row per σ (default
        ``sigmas``), one column per λ of ``keep_fractions`` (:func:`compdiff.percolation.mass_ratio`)."""
        from .percolation import mass_ratio_curves

        return mass_ratio_curves(self.sigmas if sigmas is None else sigmas, self.keep_fractions, threshold,
                                 L=self.L, d=self.d, trials=self.trials, seed=self.seed if seed is None else seed,
                                 denominator=self.denominator, overlap=self.overlap)


_PERCOLATION = {
    "smoke": PercolationConfig(
        sigmas=(0.1, 0.5, 1.0), keep_fractions=(0.2, 0.4, 0.6, 0.8, 1.0), thresholds=(0.05, 0.005), trials=4
    ),
    "cpu": PercolationConfig(),
    "paper": PercolationConfig(trials=200),
}


def percolation_config(profile: str, **overrides) -> PercolationConfig:
    check_profile(profile)
    return replace(_PERCOLATION[profile], **overrides)


# ---------------------------------------------------------------------------------------------
# Trained models: the basic experiment (2D bumps on the 32×32 lattice; issue "diffusion core")


@dataclass(frozen=True)
class EvalConfig:
    """How generated images are scored (spec §1.5): one sample per label, ±tol px on each axis,
    exactly one bump. Routine scoring uses a stochastic DDIM (η = 1) with few steps, checked
    against the full 1000-step DDPM on a subset of labels (``ddpm_check_labels``)."""

    sampler: str = "ddim"  # INFERRED: "ddim" (η below) or "ddpm" (all T steps)
    steps: int = 50  # DDIM steps (ignored for ddpm)
    eta: float = 1.0  # stochastic DDIM: η = 0 left noisy multi-peak samples (MEASURED.md)
    tol: float = 1.0  # INFERRED: ±1 px on each axis, as in the author's later code
    seed: int = 1234  # sampling noise; sample k's noise depends only on (seed, k)
    batch_size: int = 512
    weights: str = "ema"  # which weights generate: "ema" or "raw"
    ddpm_check_labels: int = 128  # labels also scored with DDPM-1000 at the end (0 = skip)
    curve_labels: int = 256  # snapshots before the last are scored on this many labels (0 = all)
    grid_samples: int = 64  # samples kept as images for the book

    def __post_init__(self):
        check_choice("EvalConfig.sampler", self.sampler, ("ddim", "ddpm"))
        check_int("EvalConfig.steps", self.steps, 1)
        check_real("EvalConfig.eta", self.eta, 0, 1)
        check_positive("EvalConfig.tol", self.tol)
        check_int("EvalConfig.seed", self.seed, 0)
        check_int("EvalConfig.batch_size", self.batch_size, 1)
        check_choice("EvalConfig.weights", self.weights, ("ema", "raw"))
        for name in ("ddpm_check_labels", "curve_labels", "grid_samples"):
            check_int(f"EvalConfig.{name}", getattr(self, name), 0)


@dataclass(frozen=True)
class BumpRunConfig:
    """One model trained on 2D bumps of a 32×32 lattice and scored over every lattice label."""

    sigma: float = 1.0  # INFERRED
    n: int = 32  # lattice points per axis (frame units, spacing d)
    d: float = 1.0  # INFERRED: integer lattice
    periodic: bool = False
    unet: object = None  # a compdiff.unet.UNetConfig
    diffusion: object = None  # a compdiff.diffusion.DiffusionConfig
    train: object = None  # a compdiff.train.TrainConfig
    eval: EvalConfig = field(default_factory=EvalConfig)  # scored at every training snapshot

    def __post_init__(self):
        from .data import SIGMA_MAX, SIGMA_MIN

        check_real("BumpRunConfig.sigma", self.sigma, SIGMA_MIN, SIGMA_MAX)
        check_int("BumpRunConfig.n", self.n, 1)
        check_positive("BumpRunConfig.d", self.d)
        check_bool("BumpRunConfig.periodic", self.periodic)
        if self.unet is None or self.diffusion is None or self.train is None:
            raise ConfigError("BumpRunConfig: unet, diffusion and train configs are required")
        from .diffusion import DiffusionConfig
        from .train import TrainConfig
        from .unet import UNetConfig

        for name, typ in (("unet", UNetConfig), ("diffusion", DiffusionConfig), ("train", TrainConfig),
                          ("eval", EvalConfig)):
            if not isinstance(getattr(self, name), typ):
                raise ConfigError(f"BumpRunConfig.{name} = {getattr(self, name)!r} must be a {typ.__name__}")
        # the images are rendered on the frame (the data module's default, 32), labels inside it
        frame = self.frame
        if self.unet.image_size != frame:
            raise ConfigError(f"BumpRunConfig.unet.image_size = {self.unet.image_size} must be {frame} "
                              f"(the bump images are {frame}×{frame})")
        span, room = ((self.n * self.d, frame) if self.periodic else ((self.n - 1) * self.d, frame - 1))
        if span > room + 1e-9:
            raise ConfigError(
                f"BumpRunConfig: n = {self.n} labels of spacing d = {self.d:g} span {span:g} px, more than "
                f"the frame holds ({room}{' on the torus' if self.periodic else ''}); lower n or d"
            )
        if self.eval.weights == "ema" and self.train.ema_decay is None:
            raise ConfigError("BumpRunConfig.eval.weights = 'ema' needs train.ema_decay (it is None); "
                              "set one or use weights='raw'")
        if self.eval.sampler == "ddim" and self.eval.steps > self.diffusion.T:
            raise ConfigError(f"BumpRunConfig.eval.steps = {self.eval.steps} must be ≤ diffusion.T = "
                              f"{self.diffusion.T} (DDIM visits a subset of the T timesteps)")

    @property
    def frame(self) -> int:
        """Side of the image frame in pixels: the data module's default (32)."""
        from .data import DEFAULT_FRAME

        return DEFAULT_FRAME


def _engine_configs():
    from .diffusion import DiffusionConfig
    from .train import TrainConfig
    from .unet import PRESETS

    return PRESETS, DiffusionConfig, TrainConfig


def basic_config(profile: str, *, seed: int = 0, **overrides) -> BumpRunConfig:
    """The basic experiment: 2D bumps, σ = 1, all 1024 labels of the 32×32 lattice (issue 3)."""
    check_profile(profile)
    presets, DiffusionConfig, TrainConfig = _engine_configs()
    if profile == "smoke":
        cfg = BumpRunConfig(
            n=8, d=4.0, unet=presets["micro"], diffusion=DiffusionConfig(T=100),
            train=TrainConfig(lr=2e-3, batch_size=32, images=3_200, ema_decay=0.99, seed=seed,
                              checkpoint_every_images=1_600, log_every_images=320, resume_every_images=None),
            eval=EvalConfig(steps=10, batch_size=64, ddpm_check_labels=8, grid_samples=16, curve_labels=32),
        )
    elif profile == "cpu":
        # MEASURED.md's fastest CPU result (ch 16, lr 2e-3, EMA 0.995, batch 64) with min-SNR
        # loss weighting and a warmup-stable-decay lr (our choices, on the assumptions page).
        # A cosine decay with plain ε-MSE (320k images) never taught the model the label (0.1%);
        # a constant lr with min-SNR did, late: 0.8 / 25 / 66 / 78% at 192k / 256k / 320k / 384k
        # images, the misses mostly a bump placed > 1 px off; so the lr now stays constant to
        # 384k and then falls linearly to 0 over 128k images to settle the placement.
        # bf16 autocast only where the CPU has native bf16.
        cfg = BumpRunConfig(
            unet=presets["tiny"], diffusion=DiffusionConfig(loss_weighting="min_snr"),
            train=TrainConfig(lr=2e-3, batch_size=64, images=512_000, lr_schedule="wsd",
                              decay_images=128_000, warmup_images=6_400, ema_decay=0.995, seed=seed,
                              checkpoint_every_images=64_000, log_every_images=6_400),
            eval=EvalConfig(ddpm_check_labels=64),
        )
    else:  # paper: the spec's reconstruction (§1.2–1.4)
        cfg = BumpRunConfig(
            unet=presets["paper"], diffusion=DiffusionConfig(),
            train=TrainConfig(lr=3e-4, batch_size=64, images=307_200, seed=seed,
                              checkpoint_every_images=30_720),
            eval=EvalConfig(sampler="ddpm", ddpm_check_labels=0, weights="raw"),  # spec: no EMA
        )
    return replace(cfg, **overrides)


@dataclass(frozen=True)
class RepresentationConfig:
    """How the representation cloud of Figs 2, 3, 8 is read (spec §1.2; UNKNOWN in the paper).

    One shared noise image x_T (sample index ``noise_index`` under ``seed``, the same for every
    label, and the same per-step noise) is carried down a DDIM chain for every label; the
    bottleneck output is recorded at the chain's last step (t = 0) at every snapshot and, for the
    final model, also at its first step (t = T−1) and its middle step (sensitivity to t)."""

    steps: int = 20  # INFERRED: DDIM steps of the chain (fewer than the accuracy sampler: cost)
    eta: float = 1.0  # INFERRED: as the accuracy sampler
    seed: int = 4321  # INFERRED
    noise_index: int = 0
    batch_size: int = 512
    # storage, not analysis: each cloud is kept as its scores on its top principal directions
    # (every analysis of Figs 2, 3, 8 is invariant to centring and rotation); the share of the
    # variance kept is stored beside it. None keeps the full activation.
    stored_components: Optional[int] = 128

    def __post_init__(self):
        check_int("RepresentationConfig.steps", self.steps, 1)
        if self.stored_components is not None:
            check_int("RepresentationConfig.stored_components", self.stored_components, 1)
        check_real("RepresentationConfig.eta", self.eta, 0, 1)
        check_int("RepresentationConfig.batch_size", self.batch_size, 1)
        check_int("RepresentationConfig.seed", self.seed, 0)
        check_int("RepresentationConfig.noise_index", self.noise_index, 0)


@dataclass(frozen=True)
class TorusRunConfig(BumpRunConfig):
    """A bump run whose representation cloud is recorded at every snapshot (Figs 2, 3, 8)."""

    representation: RepresentationConfig = field(default_factory=RepresentationConfig)


def periodic_config(profile: str, *, seed: int = 0, **overrides) -> TorusRunConfig:
    """Figs 2, 3, 8: periodic 2D bumps, σ = 1, all 1024 labels of the 32×32 torus lattice, with
    snapshots early (≈ epoch 1), through the middle and at the end of training."""
    base = basic_config(profile, seed=seed)
    tr, diffusion = base.train, base.diffusion
    if profile == "smoke":
        points = (320, 1_600, 3_200)
        ev = replace(base.eval, ddpm_check_labels=0)
        rep = RepresentationConfig(steps=5, batch_size=64)
    elif profile == "cpu":
        # The basic run's budget and recipe (384k images, 375 epochs); the DDPM cross-check is
        # left to the basic run, which uses the same sampler.
        # Constant lr and min-SNR loss weighting: with the basic recipe (cosine decay, plain MSE)
        # neither 256k nor 320k images taught the tiny model to use the label (accuracy 0.3%,
        # an earlier run, since removed from the store); this recipe started to (our choice; the assumptions page).
        tr = replace(tr, images=384_000, lr_schedule="constant", decay_images=0)  # the basic recipe, no decay
        diffusion = replace(diffusion, loss_weighting="min_snr")
        points = (1_024, 32_000, 64_000, 128_000, 256_000, 384_000)
        ev = replace(base.eval, ddpm_check_labels=0)
        rep = RepresentationConfig()
    else:  # paper: epoch 0 (the first epoch), then every 30 epochs to 300 (spec: every 10)
        points = (1_024,) + tuple(range(30_720, tr.images + 1, 30_720))
        ev = base.eval
        rep = RepresentationConfig(steps=50)
    cfg = TorusRunConfig(
        sigma=base.sigma, n=base.n, d=base.d, periodic=True, unet=base.unet, diffusion=diffusion,
        train=replace(tr, checkpoint_every_images=points), eval=ev, representation=rep,
    )
    return replace(cfg, **overrides)


# ---------------------------------------------------------------------------------------------
# Figs 4, 10, 11, 12: composition and interpolation (issue 6)

COMPOSE_DATASETS = {
    "sos_cross": "2D SOS on the frame lattice minus the held-out cross 13–19 (Fig 4, model 1)",
    "stripes": "1D stripes over the full range, with or without the rim of 2D examples (Fig 4 model 2; Fig 10)",
    "sos_stripes": "2D SOS minus the cross, together with the 1D stripes (Fig 4, model 3)",
    "bump_stripes": "2D bumps (a keep_fraction subsample of the frame lattice) with 1D stripes (Fig 4g)",
    "bump_lesion": "2D bumps minus a central vertical lesion |μx − 16| < w/2 (Fig 11)",
    "bump_hole": "2D bumps minus a W×W square, interior or exterior (Fig 12)",
    "sos_hole": "2D SOS minus a W×W square, interior or exterior (Fig 12)",
    "bump_subsample": "2D bumps on a keep_fraction subsample (λ) of the N×N lattice (Figs 5a, 6e, 14, 15)",
}
# data whose frame side N is the lattice side n (Fig 5c sweeps N); the others use the 32×32 frame
SIZED_DATASETS = ("bump_stripes", "bump_subsample")
FRAME_SIZES = (16, 24, 32, 40, 48, 64)  # N with 3 UNet levels (N divisible by 8)
LATENT_MARGIN = 6  # INFERRED: latent margin each side of the frame for stripes at any N (44 at 32)
HOLES = ("interior", "exterior")


@dataclass(frozen=True)
class ComposeRunConfig(BumpRunConfig):
    """One model of Figs 4, 10, 11, 12: trained on ``dataset`` (:data:`COMPOSE_DATASETS`), scored
    on every label of the 32×32 frame lattice (in latent units, offset 6, for the data drawn on the
    44×44 canvas) and, per region, on the held-out parts."""

    dataset: str = "sos_cross"
    rim: bool = True  # stripes: keep the rim of partly visible 2D examples (Fig 10d–f)
    keep_fraction: float = 1.0  # bump_stripes: share of the 2D bump lattice kept (Fig 4g)
    split_seed: int = 0  # which labels a keep_fraction subsample keeps
    lesion_width: float = 0.0  # bump_lesion: w (px)
    hole: str = "interior"  # *_hole: where the W×W square is
    hole_width: float = 0.0  # *_hole: W (px)
    train_label_eval: int = 256  # training labels also scored (the ID set of stripe models; 0 = none)
    representation: Optional[RepresentationConfig] = None  # record the bottleneck cloud (Fig 11c)
    # Fig 14c: plain ε-MSE of the final model over (t, ε) draws per label, on the training labels
    # and on the held-out ones (0 = not measured); added after runs were stored
    loss_draws: int = field(default=0, metadata={"omit_default": True})

    def __post_init__(self):
        if self.dataset in SIZED_DATASETS and self.unet is not None:
            check_choice("ComposeRunConfig.unet.image_size", self.unet.image_size, FRAME_SIZES)
        super().__post_init__()
        check_int("ComposeRunConfig.loss_draws", self.loss_draws, 0)
        if self.representation is not None and not isinstance(self.representation, RepresentationConfig):
            raise ConfigError("ComposeRunConfig.representation must be None or a RepresentationConfig")
        check_choice("ComposeRunConfig.dataset", self.dataset, tuple(COMPOSE_DATASETS))
        check_bool("ComposeRunConfig.rim", self.rim)
        check_real("ComposeRunConfig.keep_fraction", self.keep_fraction, 0, 1, lo_open=True)
        check_int("ComposeRunConfig.split_seed", self.split_seed, 0)
        check_int("ComposeRunConfig.train_label_eval", self.train_label_eval, 0)
        check_choice("ComposeRunConfig.hole", self.hole, HOLES)
        if self.periodic:
            raise ConfigError("ComposeRunConfig.periodic must be False (the frame has edges here)")
        if self.dataset in SIZED_DATASETS:
            if (self.n, self.d) != (self.frame, 1.0):
                raise ConfigError(f"ComposeRunConfig: n = {self.n}, d = {self.d:g}; dataset {self.dataset!r} "
                                  f"uses the N×N frame lattice (n = unet.image_size = {self.frame}, d = 1)")
        elif (self.n, self.d) != (32, 1.0):
            raise ConfigError(f"ComposeRunConfig: n = {self.n}, d = {self.d:g}; the composition "
                              "experiments use the 32×32 frame lattice (n = 32, d = 1)")
        if self.dataset == "bump_lesion":
            check_real("ComposeRunConfig.lesion_width", self.lesion_width, 0, 32, lo_open=True)
        if self.dataset.endswith("_hole"):
            check_real("ComposeRunConfig.hole_width", self.hole_width, 0, 32, lo_open=True)

    @property
    def frame(self) -> int:
        """Side N of the image frame: the UNet's input size for the sized datasets (Fig 5c), else 32."""
        from .data import DEFAULT_FRAME

        return self.unet.image_size if self.dataset in SIZED_DATASETS else DEFAULT_FRAME

    @property
    def kind(self) -> str:
        """How samples are scored: "sos", "mixed" (bumps and stripes) or "bump"."""
        if self.dataset in ("sos_cross", "stripes", "sos_stripes", "sos_hole"):
            return "sos"
        return "mixed" if self.dataset == "bump_stripes" else "bump"

    @property
    def canvas(self):
        """The latent canvas, frame + 2·:data:`LATENT_MARGIN` (44 at N = 32, Fig 9), where labels are
        in latent units: SOS, stripe and mixed data; None (frame units) for bump-only data."""
        return None if self.dataset.startswith("bump_") and self.dataset != "bump_stripes" else self.frame + 2 * LATENT_MARGIN


def compose_base(profile: str, seed: int, *, preset: str | None = None) -> dict:
    """The engine configs (unet, diffusion, train, eval) every composition and efficiency run of
    ``profile`` shares; ``preset`` swaps the UNet for another :data:`compdiff.unet.PRESETS` entry."""
    base = basic_config(profile, seed=seed)
    tr, ev, unet = base.train, base.eval, base.unet
    if profile == "cpu":
        # INFERRED (our budget): three quarters of the basic run, the lr decaying over the last
        # quarter; snapshots at half and at the end
        tr = replace(tr, images=COMPOSE_CPU_IMAGES, decay_images=COMPOSE_CPU_IMAGES // 4,
                     checkpoint_every_images=(COMPOSE_CPU_IMAGES // 2, COMPOSE_CPU_IMAGES))
        ev = replace(ev, ddpm_check_labels=0)
    elif profile == "smoke":
        ev = replace(ev, ddpm_check_labels=0)
    if preset is not None:
        presets = _engine_configs()[0]
        check_choice("preset", preset, tuple(presets))
        unet = presets[preset]
    return dict(unet=unet, diffusion=base.diffusion, train=tr, eval=ev)


COMPOSE_CPU_IMAGES = 384_000


@dataclass(frozen=True)
class Point:
    """One run of a sweep: ``name`` is a label for people (the CLI, file names), never parsed for
    parameters (they are the config's fields); ``figures`` are the figures that show the run."""

    name: str
    figures: tuple
    config: object


def _grid_fields(grid) -> None:
    """Each field of a sweep grid is a non-empty tuple of numbers (lists are converted)."""
    for f in dataclasses.fields(grid):
        check = f.metadata.get("check", check_real)
        check_tuple(grid, f.name, lambda n, v, c=check: c(n, v))


def _fraction(name, v):
    check_real(name, v, 0, 1, lo_open=True)


def _width(name, v):
    check_real(name, v, 0, 32, lo_open=True)


def _sigma(name, v):
    from .data import SIGMA_MAX, SIGMA_MIN

    check_real(name, v, SIGMA_MIN, SIGMA_MAX)


def _frame_size(name, v):
    check_choice(name, v, FRAME_SIZES)


@dataclass(frozen=True)
class ComposeGrid:
    """The swept values of Figs 4g, 11 and 12 (INFERRED: spec §2), thinned for the cpu and smoke
    profiles (:data:`COMPOSE_GRIDS`). Any field can be overridden, e.g. ``-p lesion_widths=[1, 8]``."""

    keep_fractions: tuple = field(default=(0.2, 0.05), metadata={"check": _fraction})  # Fig 4g
    lesion_widths: tuple = field(default=(1.0, 3.5, 8.0), metadata={"check": _width})  # Fig 11: w (px)
    hole_widths: tuple = field(default=(4.0, 12.0), metadata={"check": _width})  # Fig 12: W (px)

    def __post_init__(self):
        _grid_fields(self)


COMPOSE_GRIDS = {
    "paper": ComposeGrid(keep_fractions=(1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01),
                         lesion_widths=tuple(float(w) for w in np.arange(1, 17) / 2),
                         hole_widths=(2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0)),
    "cpu": ComposeGrid(),
    "smoke": ComposeGrid(keep_fractions=(0.2,), lesion_widths=(3.5,), hole_widths=(8.0,)),
}


def compose_grid(profile: str, **overrides) -> ComposeGrid:
    """The composition grid of ``profile``; overrides (None = keep) name :class:`ComposeGrid` fields."""
    check_profile(profile)
    return replace(COMPOSE_GRIDS[profile], **{k: v for k, v in overrides.items() if v is not None})


def compose_points(profile: str, *, seed: int = 0, preset: str | None = None, **grid) -> list[Point]:
    """Every model of Figs 4, 10, 11, 12 at ``profile`` (grid fields overridable)."""
    b = compose_base(profile, seed, preset=preset)
    g = compose_grid(profile, **grid)
    lesion_rep = RepresentationConfig(stored_components=32, **({"steps": 5, "batch_size": 64} if profile == "smoke" else {}))
    out = [
        Point("fig04_sos_cross", ("fig04",), ComposeRunConfig(dataset="sos_cross", **b)),
        Point("fig04_stripes", ("fig04", "fig10"), ComposeRunConfig(dataset="stripes", rim=True, **b)),
        Point("fig04_sos_stripes", ("fig04",), ComposeRunConfig(dataset="sos_stripes", **b)),
        Point("fig10_stripes_norim", ("fig10",), ComposeRunConfig(dataset="stripes", rim=False, **b)),
    ]
    for k in g.keep_fractions:
        out.append(Point(f"fig04g_keep{k:g}", ("fig04",),
                         ComposeRunConfig(dataset="bump_stripes", keep_fraction=float(k), **b)))
    for w in g.lesion_widths:
        out.append(Point(f"fig11_lesion{float(w):g}", ("fig11",), ComposeRunConfig(
            dataset="bump_lesion", lesion_width=float(w), representation=lesion_rep, **b)))
    for ds in ("bump_hole", "sos_hole"):
        for hole in HOLES:
            for w in g.hole_widths:
                out.append(Point(f"fig12_{ds.split('_')[0]}_{hole}{w:g}", ("fig12",), ComposeRunConfig(
                    dataset=ds, hole=hole, hole_width=float(w), **b)))
    return out


def compose_sweep(profile: str, *, seed: int = 0, **overrides) -> dict[str, ComposeRunConfig]:
    """Every model of Figs 4, 10, 11, 12 at ``profile``, by name (:func:`compose_points`).

    The grids are INFERRED (spec §2) and thinned for the cpu and smoke profiles (assumptions page)."""
    return {p.name: p.config for p in compose_points(profile, seed=seed, **overrides)}


# ---------------------------------------------------------------------------------------------
# Figs 5, 6e, 14c, 15: sample efficiency and the percolation onset (issue 7)


@dataclass(frozen=True)
class EfficiencyGrid:
    """The swept values of Figs 5 and 6e (INFERRED: spec §2), thinned for the cpu profile
    (:data:`EFFICIENCY_GRIDS`). λ, the kept share of a lattice, is ``keep_fraction`` everywhere:
    Fig 6e sweeps it at each σ on the 32×32 lattice; Fig 5 at each frame size N, for 2D bumps only
    and for 2D bumps with every 1D stripe (the share applies to the 2D bumps). The σ = 1 column of
    Fig 6e is Fig 5a's N = 32 curve when the grids agree, and those runs are shared."""

    sigmas: tuple = field(default=(0.1, 0.25, 0.5, 1.0), metadata={"check": _sigma})  # Fig 6e
    keep_fractions: tuple = field(default=(0.05, 0.1, 0.2, 0.4, 0.7, 1.0), metadata={"check": _fraction})  # Fig 6e λ
    frame_sizes: tuple = field(default=(16, 24, 32), metadata={"check": _frame_size})  # Fig 5: N
    bump_keep_fractions: tuple = field(default=(0.05, 0.1, 0.2, 0.4, 0.7, 1.0), metadata={"check": _fraction})
    mixed_keep_fractions: tuple = field(default=(0.01, 0.02, 0.05, 0.2), metadata={"check": _fraction})

    def __post_init__(self):
        _grid_fields(self)

    def fig05_keep_fractions(self, kind: str) -> tuple:
        """Fig 5's shares for data ``kind``: "bump" (2D only) or "mixed" (with stripes)."""
        check_choice("kind", kind, ("bump", "mixed"))
        return self.bump_keep_fractions if kind == "bump" else self.mixed_keep_fractions


EFFICIENCY_GRIDS = {
    "paper": EfficiencyGrid(sigmas=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5),
                            keep_fractions=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
                            frame_sizes=(16, 24, 32, 40, 48),
                            bump_keep_fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0),
                            mixed_keep_fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)),
    "cpu": EfficiencyGrid(),
    "smoke": EfficiencyGrid(sigmas=(0.5, 1.0), keep_fractions=(0.5, 1.0), frame_sizes=(16, 24),
                            bump_keep_fractions=(0.5, 1.0), mixed_keep_fractions=(0.1, 0.5)),
}
EFFICIENCY_LOSS_DRAWS = 4  # INFERRED: (t, ε) draws per label for the Fig 14c losses


def efficiency_grid(profile: str, **overrides) -> EfficiencyGrid:
    """The efficiency grid of ``profile``; overrides (None = keep) name :class:`EfficiencyGrid` fields."""
    check_profile(profile)
    return replace(EFFICIENCY_GRIDS[profile], **{k: v for k, v in overrides.items() if v is not None})


def unet_at(unet, frame: int):
    """``unet`` for N×N images: the attention resolutions scaled by N/32 (so the blocks that
    attend are the same ones); unchanged at N = 32."""
    check_choice("frame", frame, FRAME_SIZES)
    att = tuple(a * frame // 32 for a in unet.attention_resolutions)
    return replace(unet, image_size=frame, attention_resolutions=att)


def efficiency_points(profile: str, *, seed: int = 0, preset: str | None = None, **grid) -> list[Point]:
    """Every model of Figs 5, 6e, 14c and 15 at ``profile`` (grid fields overridable):

    - Fig 6e (with 14c, 15): 2D bumps of width σ on a λ-subsample of the 32×32 lattice;
    - Fig 5 "bump": 2D bumps, σ = 1, on a λ-subsample of the N×N lattice (Figs 5a, 5c);
    - Fig 5 "mixed": the same 2D bumps plus every 1D stripe of the (N + 12)² canvas (Figs 5b, 5c;
      the N = 32 runs are Fig 4g's models where λ matches).

    Points with the same config (Fig 5a at N = 32 and Fig 6e at σ = 1) are one stored run."""
    b = compose_base(profile, seed, preset=preset)
    g = efficiency_grid(profile, **grid)
    rep = RepresentationConfig(stored_components=32, **({"steps": 5, "batch_size": 64} if profile == "smoke" else {}))

    def bumps(sigma, lam, N):
        return ComposeRunConfig(dataset="bump_subsample", sigma=float(sigma), keep_fraction=float(lam), n=N,
                                representation=rep, loss_draws=EFFICIENCY_LOSS_DRAWS,
                                **{**b, "unet": unet_at(b["unet"], N)})

    out = []
    for s in g.sigmas:
        for lam in g.keep_fractions:
            out.append(Point(f"fig06_s{s:g}_l{lam:g}", ("fig06", "fig14", "fig15"), bumps(s, lam, 32)))
    for N in g.frame_sizes:
        for lam in g.bump_keep_fractions:
            out.append(Point(f"fig05_bump_n{N}_p{lam:g}", ("fig05",), bumps(1.0, lam, N)))
        for lam in g.mixed_keep_fractions:
            out.append(Point(f"fig05_mixed_n{N}_p{lam:g}", ("fig05",), ComposeRunConfig(
                dataset="bump_stripes", keep_fraction=float(lam), n=N, **{**b, "unet": unet_at(b["unet"], N)})))
    return out


def efficiency_sweep(profile: str, *, seed: int = 0, **overrides) -> dict[str, ComposeRunConfig]:
    """Every model of Figs 5, 6e, 14c and 15 at ``profile``, by name (:func:`efficiency_points`)."""
    return {p.name: p.config for p in efficiency_points(profile, seed=seed, **overrides)}


def recipe_variants(seed: int = 0) -> dict:
    """The CPU training recipes compared in ``benchmarks/bench_recipe.py`` (issue 4), as the exact
    configs of their stored ``basic`` runs: the first cpu recipe (cosine lr, plain ε-MSE, 320k
    images), then constant lr + min-SNR (384k), then the current one (warmup-stable-decay +
    min-SNR, 512k)."""
    cur = basic_config("cpu", seed=seed)
    tr, dif = cur.train, cur.diffusion
    return {
        "cosine lr, ε-MSE": replace(cur, diffusion=replace(dif, loss_weighting="none"), eval=EvalConfig(),
                                    train=replace(tr, images=320_000, lr_schedule="cosine", decay_images=0)),
        "constant lr, min-SNR": replace(cur, train=replace(tr, images=384_000, lr_schedule="constant", decay_images=0)),
        "wsd lr, min-SNR (cpu profile)": cur,
    }


EXPERIMENTS = {"basic": basic_config, "periodic": periodic_config}
SWEEPS = {"compose": compose_sweep, "efficiency": efficiency_sweep}
SWEEP_POINTS = {"compose": compose_points, "efficiency": efficiency_points}
# the store experiment of each sweep: every ComposeRunConfig run is kept under "compose", so a
# config two sweeps share (Fig 4g = Fig 5b at N = 32) is trained once
SWEEP_STORE = {"compose": "compose", "efficiency": "compose"}


def experiment_config(name: str, profile: str, **kw):
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; available: "
                          f"{', '.join(sorted(EXPERIMENTS) + sorted(SWEEPS))}")
    return EXPERIMENTS[name](profile, **kw)
