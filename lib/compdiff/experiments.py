"""One frozen config per figure experiment, at each profile; and the figure registry.

Profiles (DESIGN.md):

* ``smoke`` — every code path with tiny grids and models: seconds per notebook; CI and first tries.
* ``cpu``   — small models a 2-core laptop trains in minutes to tens of minutes each; replaying the
  stored runs for the whole book takes minutes.
* ``paper`` — the paper's scale, for one GPU.

Every number a notebook uses comes from a config here. Each config field declares what it accepts
and where it comes from in its metadata (:func:`compdiff.config.spec`; one validator checks them
all); every INFERRED/UNKNOWN choice is a tagged field and so a row of :mod:`compdiff.assumptions`
(rendered as the book's assumptions page).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np
from dataclasses import dataclass, field

from . import paths
from .config import (INFERRED, PRESETS, STATED, UNKNOWN, Config, ConfigError, DiffusionConfig,  # noqa: F401
                     TrainConfig, UNetConfig, check, check_choice, check_int, check_real, spec)
from .data import SIGMA_MAX, SIGMA_MIN

PROFILES = ("smoke", "cpu", "paper")
# INFERRED: the representation later figures analyse is the UNet's bottleneck output (the
# predecessor paper's "layer 4"), read through ConditionalUNet.bottleneck_module.
REPRESENTATION_LAYER = "bottleneck"
DEFAULT_PROFILE = "cpu"


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
    return profile


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
        Figure("fig02", "fig02_torus_dynamics.ipynb", "Fig 2 — does a periodic-bump model learn a factorized torus?", True),
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


# the field kinds the configs below share
_sigma = dict(kind="real", lo=SIGMA_MIN, hi=SIGMA_MAX)  # a width the renderers accept (px)
_fraction = dict(kind="real", lo=0, hi=1, lo_open=True)
_width = dict(kind="real", lo=0, hi=32, lo_open=True)  # a width on the 32-px frame
_count = dict(kind="int", min=0)
_positive = dict(kind="int", min=1)


@dataclass(frozen=True)
class DataConfig(Config):
    """Rendering choices shared by every experiment (spec §1.1)."""

    frame: int = field(default=32, metadata=spec(**_positive, tag=STATED, why="32×32 images"))
    canvas: int = field(default=44, metadata=spec(
        **_positive, tag=STATED, why="Fig 9: a 44×44 latent space for stripes and SOS"))
    sigma: float = field(default=1.0, metadata=spec(
        **_sigma, tag=INFERRED, topic="Bump / stripe width σ (px)", figures="1, 2, 4, 5, 9–12",
        why="The author's later code uses σ = 1 throughout; Fig 6 sweeps σ."))
    example_mu: tuple[float, float] = field(default=(16.0, 16.0), metadata=spec(
        item=spec(kind="real"), length=2, tag=INFERRED, topic="Fig 1 example centre", figures="1",
        why="The caption shows one bump and one SOS; we centre them."))
    cross_lo: float = field(default=13.0, metadata=spec(
        kind="real", tag=STATED, why="Fig 4a: the held-out range 13–19 (frame units)"))
    cross_hi: float = field(default=19.0, metadata=spec(
        kind="real", tag=STATED, why="Fig 4a: the held-out range 13–19 (frame units)"))
    rim_sigmas: float = field(default=3.0, metadata=spec(
        kind="real", lo=0, tag=INFERRED, topic="Rim band width (in σ)", figures="10",
        why="A hidden coordinate within 3σ of the frame leaves a visible trace of its stripe: those "
            "labels are the 'rim' of 2D examples of Fig 10."))

    def check_relations(self) -> None:
        if self.canvas < self.frame or (self.canvas - self.frame) % 2:
            raise ConfigError(
                f"DataConfig.canvas = {self.canvas!r} must be ≥ frame = {self.frame} with an even difference"
            )
        if self.cross_hi < self.cross_lo:
            raise ConfigError(f"DataConfig.cross_lo = {self.cross_lo!r} must be ≤ cross_hi = {self.cross_hi!r}")

    @property
    def offset(self) -> int:
        return (self.canvas - self.frame) // 2


def data_config(profile: str) -> DataConfig:
    check_profile(profile)
    return DataConfig()


# ---------------------------------------------------------------------------------------------
# Percolation (Figs 6b-c, 13, 14b)


_threshold = dict(kind="real", lo=0, hi=1, lo_open=True, hi_open=True)


@dataclass(frozen=True)
class PercolationConfig(Config):
    """Site percolation of overlapping bumps (spec §1.7)."""

    sigmas: tuple[float, ...] = field(default=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5), metadata=spec(
        item=spec(**_sigma), tag=INFERRED, topic="σ values of Figs 6, 13, 14", figures="6, 13, 14",
        why="Fig 6e's legend is not recoverable; the list must contain σ = 0.1 (Fig 6d)."))
    keep_fractions: tuple[float, ...] = field(default=tuple(round(0.05 * k, 2) for k in range(1, 21)), metadata=spec(
        item=spec(**_fraction), tag=INFERRED, topic="λ grid", figures="6, 13, 14",
        why="Steps of 0.05 from 0.05 to 1."))
    thresholds: tuple[float, ...] = field(default=(0.5, 0.1, 0.05, 0.01, 0.005, 0.001), metadata=spec(
        item=spec(**_threshold), tag=INFERRED, topic="Fig 13 thresholds", figures="13",
        why="The caption says 'different overlap thresholds'; we span 0.5 to 0.001, including the "
            "stated 0.005 (Fig 6c) and 0.05 (Fig 14b)."))
    fig6_threshold: float = field(default=0.005, metadata=spec(**_threshold, tag=STATED, why="Fig 6c"))
    fig14_threshold: float = field(default=0.05, metadata=spec(**_threshold, tag=STATED, why="Fig 14b"))
    L: int = field(default=32, metadata=spec(
        **_positive, tag=INFERRED, topic="Percolation lattice (L, spacing d)", group=("d",),
        figures="6, 13, 14", why="The simulated lattice is the 32×32, d = 1 training lattice (Fig 6e's 16×16 "
                                 "seed-lattice runs are compared with the same simulation at L = 16)."))
    d: float = field(default=1.0, metadata=spec(
        kind="real", lo=0, lo_open=True, tag=INFERRED, why="the spacing of the training lattice"))
    trials: int = field(default=50, metadata=spec(
        **_positive, tag=INFERRED, topic="Random draws per (σ, λ)", figures="6, 13, 14",
        why="Enough for a smooth curve at L = 32 (cpu profile; the paper profile uses 200)."))
    seed: int = field(default=0, metadata=spec(**_count))
    overlap: str = field(default="analytic", metadata=spec(
        choices=("analytic", "pixel"), tag=INFERRED, topic="Overlap of two bumps", figures="6, 13, 14",
        why="Normalised inner product of two continuous Gaussians, exp(−d²/4σ²); the pixel cosine "
            "of rendered images is drawn beside it in Fig 6b."))
    denominator: str = field(default="kept", metadata=spec(
        choices=("kept", "all"), tag=INFERRED, topic="Mass-ratio denominator", figures="6, 13, 14",
        why="Largest cluster divided by the number of kept sites, so a fully connected sample scores 1 "
            "at every λ."))
    d_max: float = field(default=5.0, metadata=spec(kind="real", lo=0, lo_open=True))  # Fig 6b's x-axis range (px)

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
class EvalConfig(Config):
    """How generated images are scored (spec §1.5): one sample per label, ±tol px on each axis,
    exactly one bump. Routine scoring uses a stochastic DDIM (η = 1) with few steps, checked
    against the full 1000-step DDPM on a subset of labels (``ddpm_check_labels``)."""

    sampler: str = field(default="ddim", metadata=spec(  # "ddim" (η below) or "ddpm" (all T steps)
        choices=("ddim", "ddpm"), tag=INFERRED, topic="Sampler that scores accuracy (cpu profile)",
        group=("steps", "eta"), figures="all accuracies",
        why="Stochastic DDIM with 50 steps agrees with 1000-step DDPM at 1/20 of the cost (MEASURED.md); "
            "every run reports its own DDPM check."))
    steps: int = field(default=50, metadata=spec(  # DDIM steps (ignored for ddpm)
        **_positive, tag=INFERRED, why="50 DDIM steps agree with DDPM-1000 (MEASURED.md)"))
    eta: float = field(default=1.0, metadata=spec(
        kind="real", lo=0, hi=1, tag=INFERRED, why="η = 0 left noisy multi-peak samples (MEASURED.md)"))
    tol: float = field(default=1.0, metadata=spec(
        kind="real", lo=0, lo_open=True, tag=INFERRED, topic="Accuracy tolerance (px per axis)",
        figures="all accuracies",
        why="The author's later code scores peaks within ±1 pixel; a sample must also hold exactly one bump."))
    seed: int = field(default=1234, metadata=spec(**_count))  # sample k's noise depends only on (seed, k)
    batch_size: int = field(default=512, metadata=spec(**_positive))
    weights: str = field(default="ema", metadata=spec(
        choices=("ema", "raw"), tag=INFERRED, topic="Weights that generate", figures="all accuracies",
        why="The exponential moving average of the weights where a run keeps one."))
    # labels also scored with DDPM-1000 at the end (0 = skip)
    ddpm_check_labels: int = field(default=128, metadata=spec(**_count))
    # snapshots before the last are scored on this many labels (0 = all)
    curve_labels: int = field(default=256, metadata=spec(**_count))
    grid_samples: int = field(default=64, metadata=spec(**_count))  # samples kept as images for the book


@dataclass(frozen=True)
class StopRule(Config):
    """Train to convergence, not to a fixed budget (issue 18): every ``every_images`` the model
    (``eval.weights``) samples ``labels`` fixed training labels with a DDIM-``steps`` chain
    (``compdiff.monitor``); training stops once that accuracy has been ≥ ``bar`` at ``patience``
    consecutive checks, or at ``train.images`` (the cap; the run is then reported as stopped at
    the cap). The label-use gap is logged at every check; the samples are drawn only once it
    reaches ``label_use`` (before, the accuracy is recorded as not measured)."""

    bar: float = field(default=0.95, metadata=spec(
        kind="real", lo=0, hi=1, lo_open=True, tag=INFERRED, topic="Training stops at convergence",
        group=("every_images", "patience", "labels", "steps", "label_use"), figures="every cpu-profile model",
        why="A run trains until its training-label accuracy (a short DDIM chain on a fixed subset of "
            "its training labels) has passed the bar at two consecutive checks, or to a recorded cap: "
            "dense and sparse training sets are both trained to convergence."))
    every_images: int = field(default=16_000, metadata=spec(
        **_positive, tag=INFERRED, why="a check every 16k images (about 16 passes over 1024 labels)"))
    patience: int = field(default=2, metadata=spec(
        **_positive, tag=INFERRED, why="two consecutive checks, so one lucky draw does not stop a run"))
    labels: int = field(default=256, metadata=spec(
        **_positive, tag=INFERRED, why="a fixed subset of the training labels (all of them when fewer)"))
    steps: int = field(default=25, metadata=spec(
        **_positive, tag=INFERRED, why="a short stochastic DDIM chain; its agreement with DDIM-50 is measured "
                                       "at every run's end (benchmarks/recipe.json)"))
    label_use: Optional[float] = field(default=0.5, metadata=spec(
        kind="real", lo=0, optional=True, tag=INFERRED,
        why="the samples are drawn only once the label-use gap (ε-MSE with shuffled labels over true ones − 1, "
            "logged at every check) is at least this at every checked noise level: a model that ignores its "
            "label cannot be accurate, and the check then costs a tenth (None: always sample)"))


@dataclass(frozen=True)
class BumpRunConfig(Config):
    """One model trained on 2D bumps of a 32×32 lattice and scored over every lattice label."""

    sigma: float = field(default=1.0, metadata=spec(**_sigma))  # σ = 1: the choice of DataConfig.sigma
    n: int = field(default=32, metadata=spec(**_positive))  # lattice points per axis (frame units, spacing d)
    d: float = field(default=1.0, metadata=spec(  # shown with the Fig 11 widths (ComposeGrid.lesion_widths)
        kind="real", lo=0, lo_open=True, tag=INFERRED, why="the integer lattice of the training labels"))
    periodic: bool = field(default=False, metadata=spec(kind="bool"))
    unet: UNetConfig = field(kw_only=True, metadata=spec(config=UNetConfig))
    diffusion: DiffusionConfig = field(kw_only=True, metadata=spec(config=DiffusionConfig))
    train: TrainConfig = field(kw_only=True, metadata=spec(config=TrainConfig))
    # scored at every training snapshot
    eval: EvalConfig = field(default_factory=EvalConfig, metadata=spec(config=EvalConfig))
    # None: train to train.images; a StopRule: stop at convergence (added after runs were stored)
    stop: Optional[StopRule] = field(default=None, kw_only=True, metadata=spec(
        config=StopRule, optional=True, omit_default=True))

    def check_relations(self) -> None:
        name = type(self).__name__
        # the images are rendered on the frame (the data module's default, 32), labels inside it
        frame = self.frame
        if self.unet.image_size != frame:
            raise ConfigError(f"{name}.unet.image_size = {self.unet.image_size} must be {frame} "
                              f"(the bump images are {frame}×{frame})")
        span, room = ((self.n * self.d, frame) if self.periodic else ((self.n - 1) * self.d, frame - 1))
        if span > room + 1e-9:
            raise ConfigError(
                f"{name}: n = {self.n} labels of spacing d = {self.d:g} span {span:g} px, more than "
                f"the frame holds ({room}{' on the torus' if self.periodic else ''}); lower n or d"
            )
        if self.unet.label_encoding == "periodic" and not self.periodic:
            raise ConfigError(f"{name}.unet.label_encoding = 'periodic' needs periodic = True (the encoding "
                              f"wraps μ with the torus period {frame}; this data has edges)")
        if self.eval.weights == "ema" and self.train.ema_decay is None:
            raise ConfigError(f"{name}.eval.weights = 'ema' needs train.ema_decay (it is None); "
                              "set one or use weights='raw'")
        if self.eval.sampler == "ddim" and self.eval.steps > self.diffusion.T:
            raise ConfigError(f"{name}.eval.steps = {self.eval.steps} must be ≤ diffusion.T = "
                              f"{self.diffusion.T} (DDIM visits a subset of the T timesteps)")

    @property
    def frame(self) -> int:
        """Side of the image frame in pixels: the data module's default (32)."""
        from .data import DEFAULT_FRAME

        return DEFAULT_FRAME


def _engine_configs():
    return PRESETS, DiffusionConfig, TrainConfig


# The cpu profile's training recipes (issue 18). CPU_RECIPE is the profile's default; the other
# stays selectable (``recipe=``, ``-p recipe=…``, a priority-list line's ``recipe=…``), its runs
# stored under their own configs, never mixed with the default's.
CPU_RECIPES = {
    "wsd-eps": "ε-prediction with min-SNR-5 loss weighting, warmup-stable-decay lr, fixed budgets "
               "(512k images basic, 384k periodic and composition): every run stored before issue 18",
    "v-stop": "v-prediction (plain v-MSE), constant lr 2e-3 after warmup, each run trained until its "
              "training-label accuracy passes 95% at two consecutive checks (StopRule), capped at the "
              "wsd-eps budget (benchmarks/recipe.json)",
}
CPU_RECIPE = "v-stop"
# The figures that read the default only once their runs are stored (issue 20): until then a
# figure named here keeps the recipe its stored runs were made with. One figure reads one recipe,
# never a mix; the report, the runs page and the README say which recipe each figure reads. A
# figure leaves this table when the v-stop runs of every run it shows are stored at seed 0 (the
# figures of one sweep leave it apart: Fig 5 need not wait for the 32×32 sweep of Fig 6e), or when
# its v-stop runs decide more than its held ones: Figs 6, 14 and 15 left it with 7 of their 24
# 32×32 v-stop cells stored, because their wsd-eps runs were 10 of 24 cells with 7 unconverged and
# 6 of the 24 16×16 cells, while the v-stop runs hold the whole 16×16 sweep at seed 0 and seeds 1
# and 2 around each onset, all converged. Their missing cells are marked on the figures and
# counted by `python -m compdiff status`.
CPU_RECIPE_HELD: dict = {}
RECIPE_SOURCES = ("basic", "periodic", "compose", "efficiency")


def default_recipe(source: str = "basic") -> str:
    """The cpu recipe ``source``'s configs are built with when no recipe and no figure is named:
    :data:`CPU_RECIPE` (a figure's runs are read with :func:`figure_recipe`)."""
    check_choice("source", source, RECIPE_SOURCES)
    return CPU_RECIPE


def figure_recipe(figure_key: str) -> str:
    """The cpu recipe figure ``figure_key`` reads: :data:`CPU_RECIPE`, or the recipe
    :data:`CPU_RECIPE_HELD` keeps for it until its runs are stored."""
    figure(figure_key)
    return CPU_RECIPE_HELD.get(figure_key, CPU_RECIPE)


def recipe_of(cfg) -> str:
    """The cpu recipe a cpu-profile run config (a config, or its stored dict) was built with:
    v-stop trains to a stop rule, wsd-eps to a fixed budget."""
    stop = cfg.get("stop") if isinstance(cfg, dict) else getattr(cfg, "stop", None)
    return "v-stop" if stop is not None else "wsd-eps"


def resolve_recipe(profile: str, recipe: str | None, source: str = "basic") -> str | None:
    """The recipe a ``profile`` config of ``source`` is built with: ``recipe``, else
    :func:`default_recipe` at the cpu profile; None at the others (which have one recipe each:
    naming one is an error)."""
    if profile != "cpu":
        if recipe is not None:
            raise ConfigError(f"recipe = {recipe!r}: recipes are chosen at the cpu profile only "
                              f"(the {profile} profile has one); allowed at cpu: {', '.join(CPU_RECIPES)}")
        return None
    recipe = default_recipe(source) if recipe is None else recipe
    check_choice("recipe", recipe, tuple(CPU_RECIPES))
    return recipe


def preset_unet(preset: str):
    """The UNet config of a :data:`compdiff.config.PRESETS` entry, by name (checked)."""
    presets = _engine_configs()[0]
    check_choice("preset", preset, tuple(presets))
    return presets[preset]


def _v_stop(cfg, images: int):
    """``cfg`` under the v-stop recipe, capped at ``images``."""
    return replace(cfg, diffusion=replace(cfg.diffusion, prediction="v", loss_weighting="none"),
                   train=replace(cfg.train, lr_schedule="constant", decay_images=0, images=images),
                   stop=StopRule())


def basic_config(profile: str, *, seed: int = 0, recipe: str | None = None, **overrides) -> BumpRunConfig:
    """The basic experiment: 2D bumps, σ = 1, all 1024 labels of the 32×32 lattice (issue 3).
    ``recipe``: one of :data:`CPU_RECIPES` (cpu profile only; default ``default_recipe("basic")``)."""
    check_profile(profile)
    recipe = resolve_recipe(profile, recipe, "basic")
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
        if recipe == "v-stop":
            cfg = _v_stop(cfg, cfg.train.images)
    else:  # paper: the spec's reconstruction (§1.2–1.4)
        cfg = BumpRunConfig(
            unet=presets["paper"], diffusion=DiffusionConfig(),
            train=TrainConfig(lr=3e-4, batch_size=64, images=307_200, seed=seed,
                              checkpoint_every_images=30_720),
            eval=EvalConfig(sampler="ddpm", ddpm_check_labels=0, weights="raw"),  # spec: no EMA
        )
    return replace(cfg, **overrides)


@dataclass(frozen=True)
class RepresentationConfig(Config):
    """How the representation cloud of Figs 2, 3, 8 is read (spec §1.2; UNKNOWN in the paper).

    One shared noise image x_T (sample index ``noise_index`` under ``seed``, the same for every
    label, and the same per-step noise) is carried down a DDIM chain for every label; the
    bottleneck output is recorded at the chain's last step (t = 0) at every snapshot and, for the
    final model, also at its first step (t = T−1) and its middle step (sensitivity to t)."""

    steps: int = field(default=20, metadata=spec(  # DDIM steps of the chain
        **_positive, tag=UNKNOWN, topic="Where the representation is read", group=("eta", "seed"),
        figures="2, 3, 8",
        why="One shared noise image for every label, carried down a DDIM chain (steps, η, noise seed); "
            "the bottleneck is read at its last step t = 0, and for the final model also at t = T−1 and "
            "mid-chain (Fig 2 prints the sensitivity)."))
    eta: float = field(default=1.0, metadata=spec(
        kind="real", lo=0, hi=1, tag=UNKNOWN, why="stochastic DDIM, as the accuracy sampler"))
    seed: int = field(default=4321, metadata=spec(**_count, tag=UNKNOWN, why="one fixed noise image"))
    noise_index: int = field(default=0, metadata=spec(**_count))
    batch_size: int = field(default=512, metadata=spec(**_positive))
    # storage, not analysis: None keeps the full activation
    stored_components: Optional[int] = field(default=128, metadata=spec(
        **_positive, optional=True, tag=INFERRED, topic="Stored representation (principal components kept)",
        figures="2, 3, 8",
        why="A storage choice, not an analysis one: clouds are stored as scores on their top principal "
            "directions (the share of variance kept is stored too); every Fig 2, 3, 8 measure is "
            "invariant to that centring and rotation."))


@dataclass(frozen=True)
class TorusRunConfig(BumpRunConfig):
    """A bump run whose representation cloud is recorded at every snapshot (Figs 2, 3, 8)."""

    representation: RepresentationConfig = field(default_factory=RepresentationConfig,
                                                 metadata=spec(config=RepresentationConfig))


def periodic_config(profile: str, *, seed: int = 0, recipe: str | None = None, label_encoding: str = "sinusoidal",
                    preset: str | None = None, **overrides) -> TorusRunConfig:
    """Figs 2, 3, 8: periodic 2D bumps, σ = 1, all 1024 labels of the 32×32 torus lattice, with
    snapshots early (≈ epoch 1), through the middle and at the end of training. ``label_encoding``:
    how the labels enter the UNet (:data:`compdiff.config.LABEL_ENCODINGS`; "periodic" is the ablation
    whose μ and μ + 32 are one input, stored under ``periodic`` with its own run id). ``preset``:
    another UNet of :data:`compdiff.config.PRESETS` (the capacity ablation: does a wider model learn
    the torus?), otherwise the same run, stored under ``periodic`` with its own run id."""
    check_profile(profile)
    base = basic_config(profile, seed=seed, recipe=resolve_recipe(profile, recipe, "periodic"))
    if preset is not None:
        base = replace(base, unet=preset_unet(preset))
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
        if base.stop is None:  # wsd-eps; v-stop keeps its plain v-MSE
            diffusion = replace(diffusion, loss_weighting="min_snr")
        points = (1_024, 32_000, 64_000, 128_000, 256_000, 384_000)
        ev = replace(base.eval, ddpm_check_labels=0)
        rep = RepresentationConfig()
    else:  # paper: epoch 0 (the first epoch), then every 30 epochs to 300 (spec: every 10)
        points = (1_024,) + tuple(range(30_720, tr.images + 1, 30_720))
        ev = base.eval
        rep = RepresentationConfig(steps=50)
    cfg = TorusRunConfig(
        sigma=base.sigma, n=base.n, d=base.d, periodic=True, diffusion=diffusion,
        unet=replace(base.unet, label_encoding=label_encoding),
        train=replace(tr, checkpoint_every_images=points), eval=ev, representation=rep, stop=base.stop,
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

    dataset: str = field(default="sos_cross", metadata=spec(choices=tuple(COMPOSE_DATASETS)))
    # stripes: keep the rim of partly visible 2D examples (Fig 10d–f)
    rim: bool = field(default=True, metadata=spec(kind="bool"))
    # bump_stripes, bump_subsample: share of the 2D bump lattice kept (Fig 4g; λ of Figs 5, 6e)
    keep_fraction: float = field(default=1.0, metadata=spec(**_fraction))
    split_seed: int = field(default=0, metadata=spec(  # which labels a (rim_)keep_fraction subsample keeps
        **_count, tag=INFERRED, topic="Which labels a subsample keeps", figures="4g, 5, 6, 10, 14",
        why="Exactly round(λ·N²) labels, drawn by a seeded permutation (data.subsample_mask); the rest "
            "are the held-out (OOD) labels. The rim sweep of Fig 10 draws its rim labels with the same seed."))
    lesion_width: float = field(default=0.0, metadata=spec(kind="real", lo=0, hi=32))  # bump_lesion: w (px)
    hole: str = field(default="interior", metadata=spec(choices=HOLES))  # *_hole: where the W×W square is
    hole_width: float = field(default=0.0, metadata=spec(kind="real", lo=0, hi=32))  # *_hole: W (px)
    train_label_eval: int = field(default=256, metadata=spec(  # training labels also scored (0 = none)
        **_count, tag=INFERRED, topic="Training labels scored as ID (stripe-trained models)", figures="4, 10",
        why="A random subset of the 1D training labels, scored on the visible coordinate only."))
    # record the bottleneck cloud (Fig 11c)
    representation: Optional[RepresentationConfig] = field(default=None, metadata=spec(
        config=RepresentationConfig, optional=True))
    # Fig 14c: plain ε-MSE of the final model over (t, ε) draws per label, on the training labels
    # and on the held-out ones (0 = not measured); added after runs were stored
    loss_draws: int = field(default=0, metadata=spec(**_count, omit_default=True))
    # stripes with the rim: the share of the rim labels kept (Fig 10's rim sweep); added after runs were stored
    rim_keep_fraction: float = field(default=1.0, metadata=spec(
        **_fraction, omit_default=True, tag=INFERRED, topic="Which rim labels a rim share keeps (Fig 10 sweep)",
        figures="10",
        why="round(p·192) of the 192 vertical-rim labels and as many of the 192 horizontal ones (both orientations "
            "stay), each by a permutation seeded by split_seed (data.rim_subsample_mask), never by the training "
            "seed: the seeds of one share train on the same rim images and differ only in training, and a "
            "smaller share keeps a subset of a larger one's. Every 1D label is kept."))

    def check_relations(self) -> None:
        if self.dataset in SIZED_DATASETS:  # before the frame (= unet.image_size) is used
            check_choice("ComposeRunConfig.unet.image_size", self.unet.image_size, FRAME_SIZES)
        super().check_relations()
        if self.periodic:
            raise ConfigError("ComposeRunConfig.periodic must be False (the frame has edges here)")
        if self.dataset in SIZED_DATASETS:
            if (self.n, self.d) != (self.frame, 1.0):
                raise ConfigError(f"ComposeRunConfig: n = {self.n}, d = {self.d:g}; dataset {self.dataset!r} "
                                  f"uses the N×N frame lattice (n = unet.image_size = {self.frame}, d = 1)")
        elif (self.n, self.d) != (32, 1.0):
            raise ConfigError(f"ComposeRunConfig: n = {self.n}, d = {self.d:g}; the composition "
                              "experiments use the 32×32 frame lattice (n = 32, d = 1)")
        if self.dataset == "bump_lesion":  # the lesion, and the square hole, must be there
            check("ComposeRunConfig.lesion_width", self.lesion_width, **_width)
        if self.dataset.endswith("_hole"):
            check("ComposeRunConfig.hole_width", self.hole_width, **_width)
        if self.rim_keep_fraction != 1.0 and (self.dataset != "stripes" or not self.rim):
            raise ConfigError(f"ComposeRunConfig.rim_keep_fraction = {self.rim_keep_fraction!r} is the share of the "
                              "rim labels kept: it needs dataset = 'stripes' and rim = True (here dataset = "
                              f"{self.dataset!r}, rim = {self.rim!r}); leave it at 1.0 otherwise")

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


def compose_base(profile: str, seed: int, *, preset: str | None = None, recipe: str | None = None,
                 source: str = "compose") -> dict:
    """The engine configs (unet, diffusion, train, eval, stop) every composition and efficiency run
    of ``profile`` shares; ``preset`` swaps the UNet for another :data:`compdiff.unet.PRESETS` entry;
    ``recipe`` picks a cpu recipe (:data:`CPU_RECIPES`; default that of ``source``: :func:`default_recipe`)."""
    check_profile(profile)
    base = basic_config(profile, seed=seed, recipe=resolve_recipe(profile, recipe, source))
    tr, ev, unet = base.train, base.eval, base.unet
    if profile == "cpu":
        # INFERRED (our budget): three quarters of the basic run, the lr decaying over the last
        # quarter; snapshots at half and at the end
        tr = replace(tr, images=COMPOSE_CPU_IMAGES, decay_images=0 if base.stop else COMPOSE_CPU_IMAGES // 4,
                     checkpoint_every_images=(COMPOSE_CPU_IMAGES // 2, COMPOSE_CPU_IMAGES))
        ev = replace(ev, ddpm_check_labels=0)
    elif profile == "smoke":
        ev = replace(ev, ddpm_check_labels=0)
    if preset is not None:
        unet = preset_unet(preset)
    out = dict(unet=unet, diffusion=base.diffusion, train=tr, eval=ev)
    if base.stop is not None:
        out["stop"] = base.stop
    return out


COMPOSE_CPU_IMAGES = 384_000


@dataclass(frozen=True)
class Point:
    """One run of a sweep: ``name`` is a label for people (the CLI, file names), never parsed for
    parameters (they are the config's fields); ``figures`` are the figures that show the run."""

    name: str
    figures: tuple
    config: object
    # the figure whose extension the run is (issue 20: Fig 5's N = 40, 48, second σ and finer shares),
    # not among ``figures``: a figure's rerun never trains it; a priority line with ``around=`` trains
    # the cells near each crossing, and the figure shows what is stored (query.records(extensions=True))
    extends: str | None = None


@dataclass(frozen=True)
class ComposeGrid(Config):
    """The swept values of Figs 4g, 10 (the rim's size), 11 and 12 (INFERRED: spec §2), thinned for the
    cpu and smoke profiles (:data:`COMPOSE_GRIDS`; the defaults are the cpu grid). Any field can be
    overridden, e.g. ``-p lesion_widths=[1, 8]``."""

    keep_fractions: tuple = field(default=(0.2, 0.05), metadata=spec(  # Fig 4g
        item=spec(**_fraction), tag=INFERRED, topic="Fig 4g subsampling rates (cpu profile)", figures="4",
        why="The spec suggests 100% down to 1%; two rates on a CPU."))
    lesion_widths: tuple = field(default=(1.0, 3.5, 8.0), metadata=spec(  # Fig 11: w (px)
        item=spec(**_width), tag=INFERRED, topic="Fig 11 lesion widths and lattice (cpu profile)",
        group=("BumpRunConfig.d",), figures="11",
        why="The caption's three UMAP widths, on the d = 1 lattice (the spec suggests d = 0.5 for a finer "
            "sweep; 4× the labels)."))
    hole_widths: tuple = field(default=(4.0, 12.0), metadata=spec(  # Fig 12: W (px)
        item=spec(**_width), tag=INFERRED, topic="Fig 12 hole widths W (cpu profile)", figures="12",
        why="The spec suggests W ∈ {2, …, 16}; two widths on a CPU. Interior = centred at (16, 16), "
            "exterior = the corner [32 − W, 32)² (the author's later code has these two modes)."))
    rim_keep_fractions: tuple = field(default=(0.5, 0.2, 0.05, 0.01), metadata=spec(  # Fig 10: rim share p
        item=spec(**_fraction, hi_open=True), min_len=0, tag=INFERRED,
        topic="Fig 10 rim sweep: shares of the rim kept (cpu profile)", figures="10",
        why="The paper speaks of 'a few' compositional examples; the full rim is 384 of 768 training images. "
            "Four shares on a CPU, from 192 rim images down to 4 (2 per orientation), between the models with "
            "the whole rim (p = 1, Fig 4's stripe model) and without it (p = 0): how few 2D examples "
            "composition needs."))


COMPOSE_GRIDS = {
    "paper": ComposeGrid(keep_fractions=(1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01),
                         lesion_widths=tuple(float(w) for w in np.arange(1, 17) / 2),
                         hole_widths=(2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0),
                         rim_keep_fractions=(0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005)),
    "cpu": ComposeGrid(),
    "smoke": ComposeGrid(keep_fractions=(0.2,), lesion_widths=(3.5,), hole_widths=(8.0,),
                         rim_keep_fractions=(0.2,)),
}


def compose_grid(profile: str, **overrides) -> ComposeGrid:
    """The composition grid of ``profile``; overrides (None = keep) name :class:`ComposeGrid` fields."""
    check_profile(profile)
    return replace(COMPOSE_GRIDS[profile], **{k: v for k, v in overrides.items() if v is not None})


def compose_points(profile: str, *, seed: int = 0, preset: str | None = None, recipe: str | None = None,
                   **grid) -> list[Point]:
    """Every model of Figs 4, 10, 11, 12 at ``profile`` (grid fields overridable)."""
    b = compose_base(profile, seed, preset=preset, recipe=recipe)
    g = compose_grid(profile, **grid)
    lesion_rep = RepresentationConfig(stored_components=32, **({"steps": 5, "batch_size": 64} if profile == "smoke" else {}))
    out = [
        Point("fig04_sos_cross", ("fig04",), ComposeRunConfig(dataset="sos_cross", **b)),
        Point("fig04_stripes", ("fig04", "fig10"), ComposeRunConfig(dataset="stripes", rim=True, **b)),
        Point("fig04_sos_stripes", ("fig04",), ComposeRunConfig(dataset="sos_stripes", **b)),
        Point("fig10_stripes_norim", ("fig10",), ComposeRunConfig(dataset="stripes", rim=False, **b)),
    ]
    for p in g.rim_keep_fractions:  # the rim's size: p = 1 is fig04_stripes, p = 0 fig10_stripes_norim
        out.append(Point(f"fig10_rim_p{p:g}", ("fig10",),
                         ComposeRunConfig(dataset="stripes", rim=True, rim_keep_fraction=float(p), **b)))
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
class EfficiencyGrid(Config):
    """The swept values of Figs 5 and 6e (INFERRED: spec §2), thinned for the cpu profile
    (:data:`EFFICIENCY_GRIDS`). λ, the kept share of a lattice, is ``keep_fraction`` everywhere:
    Fig 6e sweeps it at each σ on the 32×32 lattice (and, for its seeds, on the ``seed_lattice``);
    Fig 5 at each frame size N, for 2D bumps only and for 2D bumps with every 1D stripe (the share
    applies to the 2D bumps). The σ = 1 column of Fig 6e is Fig 5a's N = 32 curve (and on the 16×16
    lattice its N = 16 curve) when the grids agree, and those runs are shared."""

    sigmas: tuple = field(default=(0.25, 0.5, 0.75, 1.0), metadata=spec(  # Fig 6e
        item=spec(**_sigma), tag=INFERRED, topic="Fig 6e grid: σ and λ (cpu profile)", group=("keep_fractions",),
        figures="6, 14, 15",
        why="The spec suggests σ ∈ {0.1, 0.25, 0.5, 0.75, 1, 1.5} and λ in steps of 0.1. σ = 0.1 is left out: "
            "on integer lattice centres it renders the same one-pixel images as σ = 0.25 (largest pixel "
            "difference 3.4e-4; data.same_renderings), so its runs would repeat σ = 0.25's under another name. "
            "On a CPU four σ whose simulated λ_c spread from never (0.25) to 0.05 (1.0), and six λ, denser "
            "where they jump."))
    keep_fractions: tuple = field(default=(0.05, 0.1, 0.2, 0.4, 0.7, 1.0), metadata=spec(  # Fig 6e λ
        item=spec(**_fraction), tag=INFERRED, why="six λ on a CPU, denser where the accuracy jumps"))
    frame_sizes: tuple = field(default=(16, 24, 32), metadata=spec(  # Fig 5: N
        item=spec(choices=FRAME_SIZES), tag=INFERRED, topic="Fig 5 grid: N and subsampling shares (cpu profile)",
        group=("bump_keep_fractions", "mixed_keep_fractions"), figures="5",
        why="The spec suggests N ∈ {16, 24, 32, 40, 48}; three N on a CPU. The 2D-only shares are the "
            "Fig 6e λ grid (its σ = 1 column is Fig 5a's N = 32 curve); the mixed shares go lower, "
            "since the stripes carry most of the factors."))
    bump_keep_fractions: tuple = field(default=(0.05, 0.1, 0.2, 0.4, 0.7, 1.0), metadata=spec(
        item=spec(**_fraction), tag=INFERRED, why="the Fig 6e λ grid"))
    mixed_keep_fractions: tuple = field(default=(0.01, 0.02, 0.05, 0.2), metadata=spec(
        item=spec(**_fraction), tag=INFERRED, why="lower than the 2D-only shares: the stripes carry most factors"))
    # added after runs were stored: a grid field, not a run's, so no run id depends on it
    seed_lattice: int = field(default=16, metadata=spec(
        choices=tuple(N for N in FRAME_SIZES if N <= 32), tag=INFERRED,
        topic="Fig 6e seeds on a smaller lattice (cpu profile)", figures="6",
        why="Three seeds of every σ × λ cell of Fig 6e do not fit the CPU budget. The percolation onset is about "
            "λ and σ in lattice units (spacing d = 1 at any N), not the image size, so the seeds live on a "
            "companion sweep of the same σ × λ grid on the 16×16 lattice (runs fig06n16_*, a quarter of the "
            "labels and of the cost; the simulated λ_c it is judged against is run at L = 16), and the 32×32 "
            "sweep carries seed 0 only, to show that the paper's lattice agrees (judged against L = 32). Its σ = 1 "
            "column is Fig 5a's N = 16 curve (shared runs). 32: the seeds live on 32×32 and there is no companion "
            "sweep (the paper profile)."))

    # Fig 5's extensions (issue 20), added after runs were stored: grid fields, so no run id depends
    # on them. Their runs are trained around each crossing only (placement.around, around=fig05x)
    extension_frame_sizes: tuple = field(default=(40, 48), metadata=spec(
        item=spec(choices=FRAME_SIZES), min_len=0, tag=INFERRED, topic="Fig 5 extensions: N up to 48, a second σ, "
        "finer shares (cpu profile)", group=("extension_sigma",), figures="5",
        why="The spec's N ∈ {16, …, 48}: N = 40 and 48 extend Fig 5c's fit, at both data kinds; a full share "
            "grid there costs 20 runs of up to 2.25× a 32×32 run, so each curve trains only the shares around "
            "its 60% crossing (its first share starts at the σ = 1 curve's at the largest grid N; seeds 1 and "
            "2 at seed 0's bracket). The second σ, 0.5, is the narrowest whose bumps overlap their neighbours "
            "(σ = 0.25 renders one pixel), at both kinds and every grid N, starting at the σ = 1 curve's share; "
            "its 2D-only runs at N = 16 and 32 are Fig 6e's σ = 0.5 cells. The finer shares (the geometric "
            "midpoint of each pair of grid neighbours, two significant digits) are trained only between the two "
            "shares that bracket a σ = 1 curve's crossing."))
    extension_sigma: float | None = field(default=0.5, metadata=spec(
        optional=True, **_sigma, tag=INFERRED,
        why="a second bump width for Fig 5 (both kinds, every grid N): the narrowest σ whose bumps overlap "
            "their neighbours (σ = 0.25 renders one pixel); its 2D-only runs at N = 16 and 32 are Fig 6e's "
            "σ = 0.5 cells (shared runs). Trained around each crossing, starting at the σ = 1 curve's "
            "crossing share at the same N; None: no second σ"))

    def check_relations(self) -> None:
        from .data import same_renderings

        same = same_renderings(self.sigmas)
        if same:
            pairs = ", ".join(f"{a:g} and {b:g}" for a, b in same)
            raise ConfigError(f"EfficiencyGrid.sigmas = {self.sigmas!r}: σ = {pairs} render the same images on "
                              "the integer lattice (data.same_renderings); keep one of each such pair")

    @property
    def fig06_lattices(self) -> tuple:
        """The lattice sides N of the Fig 6e sweeps: 32 (the paper's), then :attr:`seed_lattice` if smaller."""
        return (32,) if self.seed_lattice == 32 else (32, self.seed_lattice)

    def fig05_keep_fractions(self, kind: str) -> tuple:
        """Fig 5's shares for data ``kind``: "bump" (2D only) or "mixed" (with stripes)."""
        check_choice("kind", kind, ("bump", "mixed"))
        return self.bump_keep_fractions if kind == "bump" else self.mixed_keep_fractions

    def fig05_fine_shares(self, kind: str) -> tuple:
        """The finer shares of Fig 5's extension for data ``kind``: the geometric midpoint of each
        pair of neighbours on its share grid, to two significant digits (a share already on the grid
        is left out)."""
        grid = sorted(self.fig05_keep_fractions(kind))
        mids = (float(f"{math.sqrt(a * b):.2g}") for a, b in zip(grid, grid[1:]))
        return tuple(m for m in mids if not any(math.isclose(m, g) for g in grid))


EFFICIENCY_GRIDS = {
    "paper": EfficiencyGrid(sigmas=(0.25, 0.5, 0.75, 1.0, 1.5),
                            keep_fractions=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
                            frame_sizes=(16, 24, 32, 40, 48),
                            bump_keep_fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0),
                            mixed_keep_fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0),
                            seed_lattice=32, extension_frame_sizes=(), extension_sigma=None),
    "cpu": EfficiencyGrid(),
    "smoke": EfficiencyGrid(sigmas=(0.5, 1.0), keep_fractions=(0.5, 1.0), frame_sizes=(16, 24),
                            bump_keep_fractions=(0.5, 1.0), mixed_keep_fractions=(0.1, 0.5),
                            extension_frame_sizes=(), extension_sigma=None),
}
EFFICIENCY_LOSS_DRAWS = 4  # INFERRED: (t, ε) draws per label for the Fig 14c losses
# The cap of a v-stop run on a 2D-bump subsample (Figs 5a, 6e, 14, 15; cpu profile): twice the
# composition cap. At 384k images the wsd-eps runs of σ = 0.25 (every λ) and σ = 0.5 (λ ≤ 0.2) on
# the 32×32 lattice were still below 90% on their training labels; a run that reaches its bar
# earlier stops there, whatever the cap. The mixed runs of Fig 5b keep the composition cap, so
# that Fig 5b at N = 32 stays Fig 4g's runs.
EFFICIENCY_BUMP_CAP = 768_000


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


def fig06_name(sigma: float, lam: float, N: int = 32) -> str:
    """The name of Fig 6e's (σ, λ) run on the N×N lattice: fig06_s… at N = 32, fig06n16_s… on the
    seed lattice (:attr:`EfficiencyGrid.seed_lattice`)."""
    return f"fig06{'' if N == 32 else f'n{N}'}_s{sigma:g}_l{lam:g}"


def efficiency_points(profile: str, *, seed: int = 0, preset: str | None = None, recipe: str | None = None,
                      **grid) -> list[Point]:
    """Every model of Figs 5, 6e, 14c and 15 at ``profile`` (grid fields overridable):

    - Fig 6e (with 14c, 15): 2D bumps of width σ on a λ-subsample of the 32×32 lattice;
    - Fig 6e's seed lattice (``seed_lattice``, 16: Fig 6 only): the same σ × λ grid on the 16×16 lattice;
    - Fig 5 "bump": 2D bumps, σ = 1, on a λ-subsample of the N×N lattice (Figs 5a, 5c);
    - Fig 5 "mixed": the same 2D bumps plus every 1D stripe of the (N + 12)² canvas (Figs 5b, 5c;
      the N = 32 runs are Fig 4g's models where λ matches).

    Points with the same config (Fig 5a at N = 32 and Fig 6e at σ = 1; Fig 5a at N = 16 and the
    16×16 Fig 6e sweep at σ = 1) are one stored run."""
    b = compose_base(profile, seed, preset=preset, recipe=recipe, source="efficiency")
    g = efficiency_grid(profile, **grid)
    rep = RepresentationConfig(stored_components=32, **({"steps": 5, "batch_size": 64} if profile == "smoke" else {}))

    # a stop-rule run on a 2D-bump subsample trains to the larger cap (EFFICIENCY_BUMP_CAP)
    bb = {**b, "train": replace(b["train"], images=EFFICIENCY_BUMP_CAP)} if profile == "cpu" and "stop" in b else b

    def bumps(sigma, lam, N):
        return ComposeRunConfig(dataset="bump_subsample", sigma=float(sigma), keep_fraction=float(lam), n=N,
                                representation=rep, loss_draws=EFFICIENCY_LOSS_DRAWS,
                                **{**bb, "unet": unet_at(bb["unet"], N)})

    def mixed(sigma, lam, N):
        return ComposeRunConfig(dataset="bump_stripes", sigma=float(sigma), keep_fraction=float(lam), n=N,
                                **{**b, "unet": unet_at(b["unet"], N)})

    out = []
    for s in g.sigmas:
        for lam in g.keep_fractions:
            out.append(Point(fig06_name(s, lam), ("fig06", "fig14", "fig15"), bumps(s, lam, 32)))
    for N in g.fig06_lattices[1:]:  # Figs 14c and 15 read the 32×32 runs only
        for s in g.sigmas:
            for lam in g.keep_fractions:
                out.append(Point(fig06_name(s, lam, N), ("fig06",), bumps(s, lam, N)))
    for N in g.frame_sizes:
        for lam in g.bump_keep_fractions:
            out.append(Point(f"fig05_bump_n{N}_p{lam:g}", ("fig05",), bumps(1.0, lam, N)))
        for lam in g.mixed_keep_fractions:
            out.append(Point(f"fig05_mixed_n{N}_p{lam:g}", ("fig05",), mixed(1.0, lam, N)))
    # Fig 5's extensions (issue 20), trained around each crossing only: N up to 48, a second σ,
    # finer shares between grid neighbours
    for N in g.extension_frame_sizes:
        for lam in g.bump_keep_fractions:
            out.append(Point(f"fig05x_bump_n{N}_p{lam:g}", (), bumps(1.0, lam, N), extends="fig05"))
        for lam in g.mixed_keep_fractions:
            out.append(Point(f"fig05x_mixed_n{N}_p{lam:g}", (), mixed(1.0, lam, N), extends="fig05"))
    if g.extension_sigma is not None:
        s2 = float(g.extension_sigma)
        for N in g.frame_sizes:
            for lam in g.bump_keep_fractions:
                out.append(Point(f"fig05x_bump_s{s2:g}_n{N}_p{lam:g}", (), bumps(s2, lam, N), extends="fig05"))
            for lam in g.mixed_keep_fractions:
                out.append(Point(f"fig05x_mixed_s{s2:g}_n{N}_p{lam:g}", (), mixed(s2, lam, N), extends="fig05"))
    if g.extension_frame_sizes or g.extension_sigma is not None:
        for N in g.frame_sizes:
            for lam in g.fig05_fine_shares("bump"):
                out.append(Point(f"fig05x_bump_n{N}_p{lam:g}", (), bumps(1.0, lam, N), extends="fig05"))
            for lam in g.fig05_fine_shares("mixed"):
                out.append(Point(f"fig05x_mixed_n{N}_p{lam:g}", (), mixed(1.0, lam, N), extends="fig05"))
    return out


def efficiency_sweep(profile: str, *, seed: int = 0, **overrides) -> dict[str, ComposeRunConfig]:
    """Every model of Figs 5, 6e, 14c and 15 at ``profile``, by name (:func:`efficiency_points`)."""
    return {p.name: p.config for p in efficiency_points(profile, seed=seed, **overrides)}


def recipe_variants(seed: int = 0) -> dict:
    """The CPU training recipes compared in ``benchmarks/bench_recipe.py`` (issue 4), as the exact
    configs of their stored ``basic`` runs: the first cpu recipe (cosine lr, plain ε-MSE, 320k
    images), then constant lr + min-SNR (384k), then the current one (warmup-stable-decay +
    min-SNR, 512k: the wsd-eps recipe)."""
    cur = basic_config("cpu", seed=seed, recipe="wsd-eps")
    tr, dif = cur.train, cur.diffusion
    return {
        "cosine lr, ε-MSE": replace(cur, diffusion=replace(dif, loss_weighting="none"), eval=EvalConfig(),
                                    train=replace(tr, images=320_000, lr_schedule="cosine", decay_images=0)),
        "constant lr, min-SNR": replace(cur, train=replace(tr, images=384_000, lr_schedule="constant", decay_images=0)),
        "wsd lr, min-SNR (wsd-eps)": cur,
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
