"""Declarative, torch-free configs: each field's metadata says what it accepts and where it comes from.

A config is a frozen dataclass deriving from :class:`Config`. Every field carries
``metadata=spec(...)`` with

* what it accepts — ``kind`` ("int", "real", "bool"), a range (``lo``/``hi``, ``lo_open``/``hi_open``;
  ``min``/``max`` for integers), ``choices``, ``item`` (a tuple of such items, ``min_len``/``length``),
  ``config`` (a nested config class), ``either`` (one of several specs), ``optional`` (None allowed);
* where it comes from — ``tag``: STATED (by the paper), INFERRED (our reconstruction) or UNKNOWN (a
  default where nothing could be recovered), with a one-line ``why``; for an assumption also the
  ``topic`` and ``figures`` of its row on the book's assumptions page, which :mod:`compdiff.assumptions`
  generates from this metadata (``group`` names the fields shown in the same row).

One validator, :func:`validate`, checks every field of a config from that metadata (run by
:meth:`Config.__post_init__`), and raises one error type, :class:`ConfigError`, whose message names
``Class.field = value`` and what is allowed. Relations between fields are small explicit
:meth:`Config.check_relations` methods, run after every field passed its own check.

The engine configs (:class:`UNetConfig` with :data:`PRESETS`, :class:`DiffusionConfig`,
:class:`TrainConfig`) live here, so that describing a run never imports torch; ``compdiff.unet``,
``compdiff.diffusion`` and ``compdiff.train`` re-export them.

Run ids hash every field of a config (``compdiff.store.run_id``), so a field added after runs were
stored is declared with ``spec(..., omit_default=True)``: left out of the hash while at its default.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import asdict, dataclass, field, fields
from typing import Literal, Optional, Union

STATED, INFERRED, UNKNOWN = "STATED", "INFERRED", "UNKNOWN"
TAGS = (STATED, INFERRED, UNKNOWN)
KINDS = ("int", "real", "bool", "choice", "tuple", "config", "either")

Bf16Flag = Union[bool, Literal["auto"]]


def _omit_defaults(cfg, d: dict) -> dict:
    """``d`` (cfg's asdict) without the fields declared omit_default that hold their default: as in
    the run id (``store._jsonable``), so a field added later leaves older specs' hashes alone."""
    for f in fields(cfg):
        if f.metadata.get("omit_default") and d[f.name] == f.default:
            del d[f.name]
    return d


class ConfigError(ValueError):
    """A bad profile, figure, parameter or config value; the message names it and what is allowed."""


def is_int(v) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_real(v) -> bool:
    """A finite real number (Python or numpy), not a bool."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


# ---------------------------------------------------------------------------------------------
# Field specs


@dataclass(frozen=True)
class Spec:
    """What one field accepts (see the module docstring) and where its value comes from."""

    kind: str
    lo: Optional[float] = None
    hi: Optional[float] = None
    lo_open: bool = False
    hi_open: bool = False
    multiple_of: Optional[int] = None
    choices: tuple = ()
    item: Optional["Spec"] = None
    min_len: int = 1
    max_len: Optional[int] = None
    config_type: Optional[type] = None
    either: tuple = ()
    optional: bool = False
    tag: Optional[str] = None
    why: str = ""
    figures: str = ""
    topic: str = ""
    group: tuple = ()

    def describe(self) -> str:
        """What the field accepts, as the error messages say it (" or None" not included)."""
        if self.kind in ("int", "real"):
            what = "an integer" if self.kind == "int" else "a finite number"
            lo, hi = self.lo, self.hi
            if lo is not None and hi is not None:
                what += f" in {'(' if self.lo_open else '['}{lo:g}, {hi:g}{')' if self.hi_open else ']'}"
            elif lo is not None:
                what += f" {'>' if self.lo_open else '≥'} {lo:g}"
            elif hi is not None:
                what += f" {'<' if self.hi_open else '≤'} {hi:g}"
            if self.multiple_of is not None:
                what += f" and a multiple of {self.multiple_of}"
            return what
        if self.kind == "bool":
            return "True or False"
        if self.kind == "choice":
            return "one of " + ", ".join(map(repr, self.choices))
        if self.kind == "tuple":
            if self.max_len is not None and self.max_len == self.min_len:
                size = f" of {self.min_len} values"
            else:
                size = f" of at least {self.min_len} value(s)" if self.min_len else ""
            return f"a tuple{size}, each {self.item.describe()}"
        if self.kind == "config":
            name = self.config_type.__name__
            return f"{'an' if name[0] in 'AEIO' else 'a'} {name}"
        alts = [a.describe() for a in self.either]
        return ", ".join(alts[:-1]) + " or " + alts[-1]


def spec(kind: Optional[str] = None, *, lo=None, hi=None, lo_open=False, hi_open=False, min=None, max=None,
         multiple_of=None, choices=None, item=None, min_len=1, length=None, config=None, either=(),
         optional=False, tag=None, why="", figures="", topic="", group=(), omit_default=False) -> dict:
    """Field metadata: ``field(default=..., metadata=spec(...))`` (the keywords: module docstring).

    The kind follows from ``choices``, ``item`` (a tuple), ``config`` or ``either`` when not given;
    ``min``/``max`` are ``lo``/``hi`` (for integers). ``item`` and ``either`` take ``spec(...)``s."""
    if kind is None:
        kind = ("choice" if choices is not None else "tuple" if item is not None else
                "config" if config is not None else "either" if either else None)
    if kind not in KINDS:
        raise TypeError(f"spec: kind = {kind!r}; allowed: {', '.join(KINDS)}")
    if tag not in TAGS + (None,):
        raise TypeError(f"spec: tag = {tag!r}; allowed: {', '.join(TAGS)} or None")
    if tag in (INFERRED, UNKNOWN) and not why:
        raise TypeError(f"spec: a {tag} field needs a one-line why")
    if kind == "tuple" and item is None or kind == "config" and not isinstance(config, type):
        raise TypeError(f"spec: kind {kind!r} needs {'item' if kind == 'tuple' else 'config'}")
    s = Spec(kind=kind, lo=lo if min is None else min, hi=hi if max is None else max, lo_open=lo_open,
             hi_open=hi_open, multiple_of=multiple_of, choices=tuple(choices or ()),
             item=None if item is None else as_spec(item), min_len=min_len if length is None else length,
             max_len=length, config_type=config, either=tuple(as_spec(e) for e in either), optional=optional,
             tag=tag, why=why, figures=figures, topic=topic, group=tuple(group))
    return {"spec": s, "omit_default": True} if omit_default else {"spec": s}


def as_spec(obj) -> Spec:
    """The :class:`Spec` of ``spec(...)``'s metadata, of a dataclass field, or a Spec itself."""
    if isinstance(obj, dataclasses.Field):
        obj = obj.metadata
    if isinstance(obj, Spec):
        return obj
    s = obj.get("spec") if hasattr(obj, "get") else None
    if not isinstance(s, Spec):
        raise TypeError(f"no spec(...) in {obj!r}")
    return s


def _in_range(s: Spec, v) -> bool:
    if s.lo is not None and not (v > s.lo if s.lo_open else v >= s.lo):
        return False
    if s.hi is not None and not (v < s.hi if s.hi_open else v <= s.hi):
        return False
    return s.multiple_of is None or v % s.multiple_of == 0


def _matches(s: Spec, v) -> bool:
    """Whether ``v`` has the type ``s`` wants (for ``either``: whose message to give)."""
    return {"int": is_int, "real": lambda x: isinstance(x, numbers.Real) and not isinstance(x, bool),
            "bool": lambda x: isinstance(x, bool), "tuple": lambda x: isinstance(x, (tuple, list)),
            "config": lambda x: isinstance(x, s.config_type)}.get(s.kind, lambda x: True)(v)


def _is_choice(v, c) -> bool:
    return v == c and isinstance(v, bool) == isinstance(c, bool)  # 1 is not True here


def check_value(s: Spec, name: str, value):
    """``value`` checked against ``s``; returns it as stored (a list as a tuple, numpy scalars as
    Python ones: equal values, the same run id), or raises :class:`ConfigError` naming ``name``."""
    if value is None and s.optional:
        return None
    none = " or None" if s.optional else ""
    if s.kind == "choice":
        if not any(_is_choice(value, c) for c in s.choices):
            allowed = s.choices + ((None,) if s.optional else ())
            raise ConfigError(f"{name} = {value!r} is not allowed; allowed: {', '.join(map(repr, allowed))}")
        return value
    if s.kind == "either":
        errors = []
        for alt in s.either:
            try:
                return check_value(alt, name, value)
            except ConfigError as e:
                errors.append((alt, e))
        matching = [e for alt, e in errors if _matches(alt, value)]
        if len(matching) == 1:
            raise matching[0]
    elif s.kind == "int":
        if is_int(value) and _in_range(s, value):
            return int(value)
    elif s.kind == "real":
        if is_real(value) and _in_range(s, value):
            return value if type(value) in (int, float) else (int(value) if is_int(value) else float(value))
    elif s.kind == "bool":
        if isinstance(value, bool):
            return value
    elif s.kind == "config":
        if isinstance(value, s.config_type):
            return value
    elif s.kind == "tuple":
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(value, tuple) and s.min_len <= len(value) and (s.max_len is None or len(value) <= s.max_len):
            return tuple(check_value(s.item, f"{name}[{i}]", v) for i, v in enumerate(value))
    raise ConfigError(f"{name} = {value!r} must be {s.describe()}{none}")


def check(name: str, value, **kw):
    """Check one value outside a config, e.g. a function's argument, with the rules and messages of a
    field: ``check("timeout_min", t, kind="int", min=1)``; returns it as :func:`check_value` does."""
    return check_value(as_spec(spec(**kw)), name, value)


def check_choice(name: str, value, allowed) -> None:
    check(name, value, choices=tuple(allowed))


def check_int(name: str, value, minimum: int = 0) -> None:
    check(name, value, kind="int", min=minimum)


def check_real(name: str, value, lo=None, hi=None, *, lo_open=False, hi_open=False) -> None:
    check(name, value, kind="real", lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)


def validate(cfg) -> None:
    """Check every field of the dataclass ``cfg`` against its ``spec(...)`` metadata (lists become
    tuples, numpy scalars Python ones); raises :class:`ConfigError` naming ``Class.field = value``."""
    cls = type(cfg).__name__
    for f in fields(cfg):
        if not isinstance(f.metadata.get("spec"), Spec):
            raise TypeError(f"{cls}.{f.name} has no spec(...) in its metadata: every config field is validated")
        value = getattr(cfg, f.name)
        checked = check_value(f.metadata["spec"], f"{cls}.{f.name}", value)
        if checked is not value:
            object.__setattr__(cfg, f.name, checked)


# ---------------------------------------------------------------------------------------------
# The base class and the registry of config classes

CONFIGS: dict[str, type] = {}  # every config class by name (its name is in every run id)


class Config:
    """Base of every config (a frozen dataclass): registers the class in :data:`CONFIGS`; after
    ``__init__``, :func:`validate` checks each field, then :meth:`check_relations` the relations."""

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        old = CONFIGS.get(cls.__name__)
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(f"two config classes named {cls.__name__} ({old.__module__}, {cls.__module__}): "
                            "the class name is part of every run id")
        CONFIGS[cls.__name__] = cls

    def __post_init__(self):
        validate(self)
        self.check_relations()

    def check_relations(self) -> None:
        """Checks between fields, run after each field passed its own (none by default)."""


def field_default(f: dataclasses.Field):
    """A field's default value (from its default_factory if it has one)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise ConfigError(f"field {f.name} has no default")


# ---------------------------------------------------------------------------------------------
# Engine configs: the network, the diffusion process, the optimisation (spec §1.2–1.4)

_pos_int = dict(kind="int", min=1)
# how a label coordinate enters the UNet's embedding (UNetConfig.label_encoding)
LABEL_ENCODINGS = ("sinusoidal", "periodic")


@dataclass(frozen=True)
class UNetConfig(Config):
    """Architecture of :class:`compdiff.unet.ConditionalUNet`. Defaults are the "paper" preset (spec §1.2).

    Fields:
      image_size: side N of the square input; divisible by 2**len(channel_mults) (8 for 3 levels).
      in_channels: image channels (1 = grayscale); the output has the same number.
      base_channels: c0, width of the input block ``inc``.
      channel_mults: one multiplier per down level (the paper has 3): level i has
        base_channels·channel_mults[i-1] channels at resolution N/2^i.
      attention_resolutions: spatial sizes at which self-attention follows a down block (output
        size N/2^i, i=1..L) or an up block (output size N/2^(L−j), j=1..L). Never after ``inc``
        or inside the bottleneck. Allowed values: N, N/2, …, N/2^L.
      bottleneck_mult: the bottleneck's inner width is base_channels·bottleneck_mult.
      num_heads: attention heads; must divide the channels of every attended block.
      emb_dim_per_var: sinusoidal dimensions d for each of t, μx, μy (even); emb is 3·d wide.
      cond_mlp: if True, emb → Linear(3d, cond_mlp_dim) → SiLU → Linear → per-block Linear;
        if False (paper/dome272), every block applies Linear(SiLU(emb)) to the raw encoding.
      cond_mlp_dim: width of that MLP (only used when cond_mlp is True).
      label_scale: μ is multiplied by this before the encoding (1.0 = raw μ in pixels, spec).
      norm_groups: GroupNorm groups in every DoubleConv (1 = dome272); must divide all widths.
      zero_init_output: zero-initialise the final 1×1 conv (our option; off in presets).
      conditioning: how a block takes the condition: "add" (x + Linear(SiLU(emb)), dome272) or
        "film" (x·(1 + γ) + β with (γ, β) = Linear(SiLU(emb)), scale and shift after the
        block's GroupNorm).
      label_encoding: how each label coordinate μ enters the embedding: "sinusoidal" (PE(label_scale·μ),
        as the timestep) or "periodic" ([sin kθ]_k ++ [cos kθ]_k, θ = 2πμ/image_size, k = 1..d/2:
        exactly periodic in μ with the torus period, the same d wide; periodic data only, label_scale 1).
    """

    image_size: int = field(default=32, metadata=spec(**_pos_int, tag=STATED, why="32×32 images"))
    in_channels: int = field(default=1, metadata=spec(**_pos_int))
    base_channels: int = field(default=64, metadata=spec(
        **_pos_int, tag=INFERRED, topic="UNet of the paper profile", group=("channel_mults", "bottleneck_mult"),
        why="The widely copied 3-level conditional UNet (64→128→256→256, bottleneck 512) matches the Fig 7 "
            "description; its width is not stated.", figures="7 and every model"))
    channel_mults: tuple[int, ...] = field(default=(2, 4, 4), metadata=spec(
        item=spec(**_pos_int), tag=INFERRED, why="three levels (Fig 7); the multipliers of the widely copied UNet"))
    attention_resolutions: tuple[int, ...] = field(default=(4, 8, 16, 32), metadata=spec(
        item=spec(**_pos_int), min_len=0, tag=INFERRED, topic="Self-attention resolutions (paper profile)",
        why="'Interlaced self-attention': after every down and up block.", figures="7"))
    bottleneck_mult: int = field(default=8, metadata=spec(
        **_pos_int, tag=INFERRED, why="the widely copied UNet's bottleneck (512 wide at base 64)"))
    num_heads: int = field(default=4, metadata=spec(**_pos_int))
    emb_dim_per_var: int = field(default=256, metadata=spec(
        kind="int", min=2, multiple_of=2, tag=INFERRED, topic="Sinusoidal encoding width per variable",
        why="Concatenated encodings of t, μx, μy (stated); 256 dimensions each is ours.", figures="7"))
    cond_mlp: bool = field(default=False, metadata=spec(kind="bool"))
    cond_mlp_dim: int = field(default=256, metadata=spec(**_pos_int))
    label_scale: float = field(default=1.0, metadata=spec(
        kind="real", lo=0, lo_open=True, tag=UNKNOWN, topic="Label scaling before the encoding",
        why="Raw μ in pixels, like the timestep.", figures="all models"))
    norm_groups: int = field(default=1, metadata=spec(**_pos_int))
    zero_init_output: bool = field(default=False, metadata=spec(kind="bool"))
    conditioning: str = field(default="add", metadata=spec(
        choices=("add", "film"), omit_default=True, tag=UNKNOWN, topic="How a block takes the condition",
        why="An additive per-channel bias after the block (the widely copied UNet); FiLM (scale and "
            "shift) is measured as an alternative (benchmarks/recipe.json).", figures="all models"))
    # added after runs were stored: left out of run ids while "sinusoidal"
    label_encoding: str = field(default="sinusoidal", metadata=spec(
        choices=LABEL_ENCODINGS, omit_default=True, tag=UNKNOWN, topic="Conditioning input of periodic labels",
        figures="2, 3, 8",
        why="Raw μ through the same sinusoidal encoding as every other model (the spec's default), so μ and "
            "μ + 32 are different inputs for one image of the torus. The ablation 'periodic' feeds sin and cos of "
            "k·2πμ/N, k = 1…d/2, N = image_size (the torus period): exactly periodic, the same width d, nothing "
            "else in the network changed (the spec's alternative, (cos, sin) of 2πμ/32, is its k = 1 pair)."))

    def check_relations(self) -> None:
        if self.label_encoding == "periodic" and self.label_scale != 1.0:
            raise ConfigError(f"UNetConfig.label_scale = {self.label_scale!r} must be 1.0 with label_encoding = "
                              "'periodic' (the angle 2πμ/image_size does not depend on a scale)")
        levels = len(self.channel_mults)
        if self.image_size % (2**levels) != 0:
            raise ConfigError(f"UNetConfig.image_size = {self.image_size} must be divisible by "
                              f"2**len(channel_mults) = {2**levels} (one halving per down level)")
        visited = self.visited_resolutions()
        bad = [r for r in self.attention_resolutions if r not in visited]
        if bad:
            raise ConfigError(f"UNetConfig.attention_resolutions has {bad}, which the net never visits; "
                              f"allowed values are {sorted(visited)}")
        for c in self.all_widths():
            if c % self.norm_groups != 0:
                raise ConfigError(f"UNetConfig.norm_groups = {self.norm_groups} must divide every GroupNorm "
                                  f"width; it does not divide {c} (widths used: {sorted(set(self.all_widths()))})")
        for c in self.attended_widths():
            if c % self.num_heads != 0:
                raise ConfigError(f"UNetConfig.num_heads = {self.num_heads} must divide the channels of every "
                                  f"attended block; it does not divide {c}")

    # ---- derived geometry (one source of truth for the module and the validation) ----
    @property
    def levels(self) -> int:
        return len(self.channel_mults)

    def level_channels(self) -> list[int]:
        """[c0, c1, …, cL]: inc width, then each down level's width."""
        return [self.base_channels] + [self.base_channels * m for m in self.channel_mults]

    def up_out_channels(self) -> list[int]:
        """Output width of up block j = 1..L: c_max(L−1−j, 0) (dome272: 128, 64, 64)."""
        c = self.level_channels()
        L = self.levels
        return [c[max(L - 1 - j, 0)] for j in range(1, L + 1)]

    def up_in_channels(self) -> list[int]:
        c = self.level_channels()
        L = self.levels
        h = [c[L]] + self.up_out_channels()[:-1]
        return [h[j - 1] + c[L - j] for j in range(1, L + 1)]

    def visited_resolutions(self) -> set[int]:
        return {self.image_size // 2**i for i in range(self.levels + 1)}

    def down_resolutions(self) -> list[int]:
        return [self.image_size // 2**i for i in range(1, self.levels + 1)]

    def up_resolutions(self) -> list[int]:
        return [self.image_size // 2 ** (self.levels - j) for j in range(1, self.levels + 1)]

    @property
    def bottleneck_channels(self) -> int:
        return self.base_channels * self.bottleneck_mult

    @property
    def emb_dim(self) -> int:
        return 3 * self.emb_dim_per_var

    def all_widths(self) -> list[int]:
        c = self.level_channels()
        widths = c + [self.bottleneck_channels]
        widths += [ci // 2 for ci in self.up_in_channels()]  # the up blocks' mid width
        return widths

    def attended_widths(self) -> list[int]:
        c = self.level_channels()
        out = [c[i] for i, r in enumerate(self.down_resolutions(), 1)
               if r in self.attention_resolutions]
        out += [co for co, r in zip(self.up_out_channels(), self.up_resolutions())
                if r in self.attention_resolutions]
        return out

    def to_dict(self) -> dict:
        d = _omit_defaults(self, asdict(self))
        d["channel_mults"] = list(self.channel_mults)
        d["attention_resolutions"] = list(self.attention_resolutions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        return cls(**d)


PRESETS: dict[str, UNetConfig] = {
    # spec §1.2 reconstruction: 64→128→256→256, bottleneck 512, attention after every down/up
    # block, raw 3×256 sinusoidal encoding into every block.
    "paper": UNetConfig(),
    # CPU presets, shaped like the prototype in MEASURED.md: multipliers 1,2,2, attention only at
    # the two coarsest resolutions, a small conditioning MLP.
    "small": UNetConfig(base_channels=32, channel_mults=(1, 2, 2), attention_resolutions=(4, 8),
                        bottleneck_mult=4, emb_dim_per_var=64, cond_mlp=True, cond_mlp_dim=128),
    "tiny": UNetConfig(base_channels=16, channel_mults=(1, 2, 2), attention_resolutions=(4, 8),
                       bottleneck_mult=4, emb_dim_per_var=32, cond_mlp=True, cond_mlp_dim=64),
    # for unit tests only
    "micro": UNetConfig(base_channels=8, channel_mults=(1, 2, 2), attention_resolutions=(4,),
                        bottleneck_mult=2, num_heads=2, emb_dim_per_var=16, cond_mlp=True,
                        cond_mlp_dim=32),
}

_unit_open = dict(kind="real", lo=0, hi=1, lo_open=True, hi_open=True)


@dataclass(frozen=True)
class DiffusionConfig(Config):
    """Forward process and training objective. Defaults = spec §1.3 (DDPM, Ho et al. 2020).

    T: number of diffusion steps. schedule: "linear" (β from beta_start to beta_end) or "cosine"
    (Nichol & Dhariwal 2021, offset cosine_s; beta_start/beta_end unused). prediction: what the
    network outputs: "eps" (ε, the spec's DDPM) or "v" (v = √ᾱ ε − √(1−ᾱ) x₀, Salimans & Ho
    2022); the samplers convert either to ε. loss_weighting: "none" (the plain MSE of the
    prediction: x₀-error weight SNR for ε, 1 + SNR for v) or "min_snr" (Hang et al. 2023:
    x₀-error weight min(SNR_t, min_snr_gamma), i.e. min(SNR, γ)/SNR on the ε-MSE and
    min(SNR, γ)/(SNR + 1) on the v-MSE).
    """

    T: int = field(default=1000, metadata=spec(**_pos_int, tag=UNKNOWN, topic="Diffusion steps T",
                                               why="The DDPM default (Ho et al. 2020).", figures="all models"))
    schedule: str = field(default="linear", metadata=spec(
        choices=("linear", "cosine"), tag=UNKNOWN, topic="Noise schedule", group=("beta_start", "beta_end"),
        why="Linear β, the DDPM default.", figures="all models"))
    beta_start: float = field(default=1e-4, metadata=spec(**_unit_open, tag=UNKNOWN, why="the DDPM default"))
    beta_end: float = field(default=0.02, metadata=spec(**_unit_open, tag=UNKNOWN, why="the DDPM default"))
    cosine_s: float = field(default=0.008, metadata=spec(kind="real", lo=0))
    prediction: str = field(default="eps", metadata=spec(
        choices=("eps", "v"), tag=UNKNOWN, topic="Loss", group=("loss_weighting",),
        why="ε-prediction with the plain MSE.", figures="all models"))
    loss_weighting: str = field(default="none", metadata=spec(
        choices=("none", "min_snr"), tag=UNKNOWN, why="the plain ε-MSE of DDPM"))
    min_snr_gamma: float = field(default=5.0, metadata=spec(kind="real", lo=0, lo_open=True))
    # how training draws t: "uniform" on 0..T−1 (DDPM), or "lognormal": a share lognormal_fraction
    # of every batch draws σ = √((1−ᾱ)/ᾱ) with ln σ ~ N(lognormal_mean, lognormal_std²) (EDM's
    # habit) mapped to the nearest t, the rest uniform. Added after runs were stored.
    t_sampling: str = field(default="uniform", metadata=spec(
        choices=("uniform", "lognormal"), omit_default=True, tag=UNKNOWN, topic="Noise levels drawn in training",
        group=("lognormal_mean", "lognormal_std", "lognormal_fraction"), figures="all models",
        why="Uniform over the T steps (DDPM); a log-normal share centred at mid noise is measured as an "
            "alternative (benchmarks/recipe.json)."))
    lognormal_mean: float = field(default=0.5, metadata=spec(
        kind="real", omit_default=True, tag=UNKNOWN, why="ln σ centred at σ ≈ 1.6, mid noise"))
    lognormal_std: float = field(default=0.8, metadata=spec(
        kind="real", lo=0, lo_open=True, omit_default=True, tag=UNKNOWN, why="a spread of about a factor 2 in σ"))
    lognormal_fraction: float = field(default=0.5, metadata=spec(
        kind="real", lo=0, hi=1, omit_default=True, tag=UNKNOWN, why="half of each batch; the rest uniform"))

    def check_relations(self) -> None:
        if self.beta_end < self.beta_start:
            raise ConfigError(f"DiffusionConfig.beta_end = {self.beta_end!r} must be ≥ "
                              f"beta_start = {self.beta_start!r}")

    def to_dict(self) -> dict:
        return _omit_defaults(self, asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> "DiffusionConfig":
        return cls(**d)


@dataclass(frozen=True)
class TrainConfig(Config):
    """Optimisation settings. Defaults pin spec §1.4 (AdamW lr 3e-4, batch 64, no EMA, 300 epochs
    of the 1024-label lattice = 307,200 images) and torch's AdamW defaults.

    lr, betas, adam_eps, weight_decay: AdamW. batch_size: images per step.
    images: budget in images seen (a multiple of batch_size).
    lr_schedule: "constant", "cosine" (from lr to 0 at the end of the budget) or "wsd"
      (warmup-stable-decay: constant, then linear to 0 over the last decay_images), after a
      linear warmup over warmup_images (0 = none).
    decay_images: the decay span of "wsd" in images (> 0 for "wsd", else 0).
    grad_clip: max global gradient norm, or None (off).
    ema_decay: None (off) or a decay in (0, 1); the EMA weights are saved as "ema", the trained
      ones as "raw".
    bf16: "auto" (bf16 autocast where it pays: CUDA, MPS, CPUs with avx512_bf16/AMX), True, False.
    seed: initial weights, batch order, t and noise.
    checkpoint_every_images: snapshot points — None, an int period, or a tuple of image counts
      (multiples of batch_size, ≤ images). The end of the budget is always snapshotted.
    resume_every_images: period of the last.pt refresh (crash safety), or None.
    log_every_images: loss-curve resolution: mean loss over each such interval.
    cond_lr_mult: the conditioning path's learning rate (the label and timestep MLP and each
      block's injection Linear) as a multiple of lr; 1 = one lr for all (the default).
    """

    lr: float = field(default=3e-4, metadata=spec(
        kind="real", lo=0, lo_open=True, tag=UNKNOWN, topic="Optimiser and learning rate (paper profile)",
        group=("batch_size",), why="AdamW at 3e-4, batch 64: the defaults of the code the architecture follows.",
        figures="all models"))
    batch_size: int = field(default=64, metadata=spec(**_pos_int, tag=UNKNOWN, why="the architecture code's default"))
    images: int = field(default=307_200, metadata=spec(
        **_pos_int, tag=INFERRED, topic="Training budget (paper profile, images seen)",
        why="Fig 2 shows a checkpoint at epoch 150 before the terminal one: 300 epochs of 1024 images.",
        figures="2, 7"))
    weight_decay: float = field(default=0.01, metadata=spec(kind="real", lo=0))
    betas: tuple[float, float] = field(default=(0.9, 0.999), metadata=spec(
        item=spec(kind="real", lo=0, hi=1, hi_open=True), length=2))
    adam_eps: float = field(default=1e-8, metadata=spec(kind="real", lo=0, lo_open=True))
    lr_schedule: str = field(default="constant", metadata=spec(choices=("constant", "cosine", "wsd")))
    warmup_images: int = field(default=0, metadata=spec(kind="int", min=0))
    decay_images: int = field(default=0, metadata=spec(kind="int", min=0, omit_default=True))
    grad_clip: Optional[float] = field(default=None, metadata=spec(kind="real", lo=0, lo_open=True, optional=True))
    ema_decay: Optional[float] = field(default=None, metadata=spec(**_unit_open, optional=True))
    bf16: Bf16Flag = field(default="auto", metadata=spec(choices=("auto", True, False)))
    seed: int = field(default=0, metadata=spec(kind="int", min=0))
    checkpoint_every_images: Union[int, tuple[int, ...], None] = field(default=None, metadata=spec(
        either=(spec(**_pos_int), spec(item=spec(**_pos_int), min_len=0)), optional=True))
    resume_every_images: Optional[int] = field(default=51_200, metadata=spec(**_pos_int, optional=True))
    log_every_images: int = field(default=6_400, metadata=spec(**_pos_int))
    cond_lr_mult: float = field(default=1.0, metadata=spec(kind="real", lo=0, lo_open=True, omit_default=True))

    def check_relations(self) -> None:
        images, warm, decay, b = self.images, self.warmup_images, self.decay_images, self.batch_size
        if warm > images:
            raise ConfigError(f"TrainConfig.warmup_images = {warm} must be ≤ images = {images}")
        if decay > images - warm:
            raise ConfigError(f"TrainConfig.decay_images = {decay} must be ≤ images − warmup_images = "
                              f"{images - warm}")
        if (self.lr_schedule == "wsd") != (decay > 0):
            raise ConfigError(f"TrainConfig.decay_images = {decay} must be > 0 with lr_schedule = 'wsd' and 0 "
                              f"otherwise (TrainConfig.lr_schedule = {self.lr_schedule!r})")
        for name in ("images", "log_every_images", "resume_every_images"):
            v = getattr(self, name)
            if v is not None and v % b:
                raise ConfigError(f"TrainConfig.{name} = {v} must be a multiple of batch_size = {b} "
                                  "(budgets are whole steps)")
        c = self.checkpoint_every_images
        if is_int(c) and c % b:
            raise ConfigError(f"TrainConfig.checkpoint_every_images = {c} must be a multiple of batch_size = {b}")
        bad = [p for p in c if p % b or p > images] if isinstance(c, tuple) else []
        if bad:
            raise ConfigError(f"TrainConfig.checkpoint_every_images = {c!r} has {bad}: points must be "
                              f"multiples of batch_size = {b}, at most images = {images}")

    def checkpoint_points(self) -> set[int]:
        c = self.checkpoint_every_images
        pts = set()
        if is_int(c):
            pts = set(range(c, self.images + 1, c))
        elif isinstance(c, tuple):
            pts = set(int(p) for p in c)
        pts.add(self.images)
        return pts

    def to_dict(self) -> dict:
        d = _omit_defaults(self, asdict(self))
        d["betas"] = list(self.betas)
        if isinstance(self.checkpoint_every_images, tuple):
            d["checkpoint_every_images"] = list(self.checkpoint_every_images)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**d)
