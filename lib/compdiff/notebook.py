"""The few lines every figure notebook starts and ends with.

``setup`` validates the papermill parameters (an unknown profile or device is an error that lists
the allowed ones), applies the house style and records the library version the notebook ran with;
``footer`` prints how the figure was made and how to rerun it.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from . import __version__, experiments, plotting, store

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Context:
    figure: str
    profile: str
    seed: int
    device: str


def setup(figure: str, *, profile: str, seed: int = 0, device: str = "auto") -> Context:
    experiments.figure(figure)
    experiments.check_profile(profile)
    if device not in DEVICES:
        raise experiments.ConfigError(f"unknown device {device!r}; allowed: {', '.join(DEVICES)}")
    if not isinstance(seed, int) or seed < 0:
        raise experiments.ConfigError(f"seed = {seed!r} must be a non-negative integer")
    plotting.use_style()
    return Context(figure, profile, seed, device)


def footer(ctx: Context, runs: list | tuple = ()) -> None:
    """Provenance: profile, seed, code version, the stored runs used, and the rerun command."""
    print(f"figure {ctx.figure} · profile {ctx.profile} · seed {ctx.seed} · compdiff {__version__} "
          f"(engine {store.ENGINE_VERSION}) · python {platform.python_version()}")
    for run in runs:
        print(f"  from {run.provenance}")
    print(f"rerun: python -m compdiff figure {ctx.figure} --profile {ctx.profile} --device {ctx.device} --seed {ctx.seed}")
