"""One frozen config per figure experiment, at each profile; and the figure registry.

Profiles (DESIGN.md):

* ``smoke`` — every code path with tiny grids and models: seconds per notebook; CI and first tries.
* ``cpu``   — the most faithful run a 2-core laptop finishes for the whole book in about an hour.
* ``paper`` — the paper's scale, for one GPU.

Every number a notebook uses comes from a config here; every INFERRED/UNKNOWN choice is a named
field and a row of :mod:`compdiff.assumptions` (rendered as the book's assumptions page).
"""

from __future__ import annotations

import dataclasses
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


def check_positive(name: str, value) -> None:
    if not value > 0:
        raise ConfigError(f"{name} = {value!r} must be > 0")


def check_fraction(name: str, value) -> None:
    if not 0 < value <= 1:
        raise ConfigError(f"{name} = {value!r} must lie in (0, 1]")


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
        Figure("fig06", "fig06_percolation.ipynb", "Fig 6 — percolation theory of manifold formation", True),
        Figure("fig07", "fig07_unet.ipynb", "Fig 7 — the conditional UNet", True),
        Figure("fig09", "fig09_latent_space.ipynb", "Fig 9 — stripes, SOS and the 44×44 latent space", False),
        Figure("fig13", "fig13_percolation_thresholds.ipynb", "Fig 13 — percolation at several thresholds", False),
        Figure("fig14", "fig14_percolation_support.ipynb", "Fig 14 — percolation support", True),
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
        check_positive("frame", self.frame)
        check_positive("sigma", self.sigma)
        if self.canvas < self.frame or (self.canvas - self.frame) % 2:
            raise ConfigError(
                f"canvas = {self.canvas} must be ≥ frame = {self.frame} with an even difference"
            )

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
    lambdas: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 21))  # INFERRED
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
        for s in self.sigmas:
            check_positive("sigmas", s)
        for lam in self.lambdas:
            check_fraction("lambdas", lam)
        for t in (*self.thresholds, self.fig6_threshold, self.fig14_threshold):
            if not 0 < t < 1:
                raise ConfigError(f"threshold {t!r} must lie in (0, 1)")
        check_positive("L", self.L)
        check_positive("d", self.d)
        check_positive("trials", self.trials)
        check_choice("overlap", self.overlap, ("analytic", "pixel"))
        check_choice("denominator", self.denominator, ("kept", "all"))


_PERCOLATION = {
    "smoke": PercolationConfig(
        sigmas=(0.1, 0.5, 1.0), lambdas=(0.2, 0.4, 0.6, 0.8, 1.0), thresholds=(0.05, 0.005), trials=4
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
        check_choice("sampler", self.sampler, ("ddim", "ddpm"))
        check_positive("steps", self.steps)
        if not 0 <= self.eta <= 1:
            raise ConfigError(f"eta = {self.eta!r} must lie in [0, 1]")
        check_positive("tol", self.tol)
        check_positive("batch_size", self.batch_size)
        check_choice("weights", self.weights, ("ema", "raw"))
        if min(self.ddpm_check_labels, self.grid_samples, self.curve_labels) < 0:
            raise ConfigError("ddpm_check_labels, grid_samples and curve_labels must be ≥ 0")


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
        check_positive("sigma", self.sigma)
        check_positive("n", self.n)
        check_positive("d", self.d)
        if self.unet is None or self.diffusion is None or self.train is None:
            raise ConfigError("unet, diffusion and train configs are required")


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
        # The recipe of MEASURED.md's fastest CPU result (ch 16, lr 2e-3, EMA 0.995, batch 64),
        # run a little longer with a cosine decay so that it settles (our choice, on the
        # assumptions page). bf16 autocast only where the CPU has native bf16.
        cfg = BumpRunConfig(
            unet=presets["tiny"], diffusion=DiffusionConfig(),
            train=TrainConfig(lr=2e-3, batch_size=64, images=320_000, lr_schedule="cosine",
                              warmup_images=6_400, ema_decay=0.995, seed=seed,
                              checkpoint_every_images=64_000, log_every_images=6_400),
            eval=EvalConfig(),
        )
    else:  # paper: the spec's reconstruction (§1.2–1.4)
        cfg = BumpRunConfig(
            unet=presets["paper"], diffusion=DiffusionConfig(),
            train=TrainConfig(lr=3e-4, batch_size=64, images=307_200, seed=seed,
                              checkpoint_every_images=30_720),
            eval=EvalConfig(sampler="ddpm", ddpm_check_labels=0),
        )
    return replace(cfg, **overrides)


EXPERIMENTS = {"basic": basic_config}


def experiment_config(name: str, profile: str, **kw):
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; available: {', '.join(sorted(EXPERIMENTS))}")
    return EXPERIMENTS[name](profile, **kw)
