"""Where a dense sweep's extra seeds go (issue 20): the cells around each crossing.

Three seeds of every cell of Figs 5 and 6e do not fit a CPU budget. Their claims read one number
per curve: the share at which accuracy first reaches a level (Fig 5: 60% of all labels, per data
kind and frame size N; Fig 6e: 50% of the held-out labels, per lattice and σ). That number is
decided by the two grid neighbours around it, so a seed after the first needs only those cells:

- :func:`frontier`: for one curve, the shares still to train at a seed, from its own stored
  values, else from the reference seed's (seed 0): the reference's bracket first, then one grid
  step towards the crossing for as long as the seed's own values leave it undecided;
- :func:`around`: the points of a sweep seed that a priority line with ``around=FIGURE`` keeps
  (:mod:`compdiff.gpu_slot`), read from the store.

The reading agrees with :func:`compdiff.efficiency.scaling` and :func:`compdiff.efficiency.onset`:
a crossing is decided where the first stored share at or above the level has its grid predecessor
stored (below the level), or is the grid's smallest share; a curve that never reaches the level is
decided once the grid's largest share is stored. Imports numpy only (plus the store), so it runs
where the sweep is trained.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import experiments, store
from .efficiency import FIG5_THRESHOLD, ONSET_LEVEL, grid_positions, grid_reading


class Curve(NamedTuple):
    """How ``around=FIGURE`` reads one figure: a point's curve (``key``), its share, the stored
    value it is judged on, the level, and the curve's share grid."""

    key: Callable  # params -> hashable curve key
    value: Callable  # stored metrics -> the value on the curve, or None (nothing to read)
    level: float
    grid: Callable  # (EfficiencyGrid, params) -> ascending shares of the curve


def _ood(m: dict):
    return (m.get("regions") or {}).get("ood")


CURVES = {
    # Fig 5: accuracy over all labels against the 2D share, per data kind and frame size
    "fig05": Curve(lambda p: (p["kind"], p["N"]), lambda m: m.get("accuracy"), FIG5_THRESHOLD,
                   lambda g, p: tuple(sorted(g.fig05_keep_fractions(p["kind"])))),
    # Fig 6e: accuracy on the held-out labels against λ (< 1: nothing is held out at 1), per lattice and σ
    "fig06": Curve(lambda p: (p["N"], p["sigma"]), _ood, ONSET_LEVEL,
                   lambda g, p: tuple(sorted(x for x in g.keep_fractions if x < 1))),
}
REFERENCE_SEED = 0


def _at(grid, x) -> int:
    return grid_positions([x], grid)[0]


def decided(grid, values: dict, level: float) -> str | None:
    """How the stored ``values`` ({share: value}) of a curve on ``grid`` decide its crossing of
    ``level``: "interpolated", "at_smallest", "not_reached", or None (undecided); the rule of
    :func:`compdiff.efficiency.grid_reading`, which the figures read with."""
    xs = sorted(values)
    return grid_reading(grid_positions(xs, grid), [values[x] >= level for x in xs], len(grid))


def frontier(grid, own: dict, ref: dict, level: float) -> list:
    """The shares of one curve still to train at a seed: none where its own stored values decide
    the crossing; with none stored, the reference seed's decided bracket (both neighbours, or the
    end share it stopped at; none while the reference is undecided); with some stored but
    undecided, one grid step from them towards the crossing (the predecessor of the first share at
    or above ``level``, else the successor of the largest share stored)."""
    grid = tuple(sorted(grid))
    if decided(grid, own, level):
        return []
    if not own:
        how = decided(grid, ref, level)
        if how is None:
            return []
        if how == "at_smallest":
            return [grid[0]]
        if how == "not_reached":
            return [grid[-1]]
        first = min(x for x in ref if ref[x] >= level)
        i = _at(grid, first)
        return [grid[i - 1], grid[i]]
    above = sorted(x for x in own if own[x] >= level)
    if above:
        return [grid[_at(grid, above[0]) - 1]]
    return [grid[_at(grid, max(own)) + 1]]


def _stored_value(exp: str, cfg, curve: Curve):
    run = store.lookup(exp, cfg)
    if run is None:
        return None
    v = curve.value(run.json("metrics"))
    return None if v is None else float(v)


def around(figure: str, exp: str, points: list, ref_points: list, profile: str) -> tuple[list, str]:
    """The ``points`` (one sweep seed's, already filtered) that ``around=figure`` keeps: those of
    ``figure`` whose share :func:`frontier` names for their curve, the reference seed's values read
    from ``ref_points`` (the same sweep at :data:`REFERENCE_SEED`, matched by name); and a line
    saying what it kept."""
    from .query import params

    if figure not in CURVES:
        raise experiments.ConfigError(f"around = {figure!r}: allowed: {', '.join(CURVES)}")
    c, g = CURVES[figure], experiments.efficiency_grid(profile)
    ref_cfg = {p.name: p.config for p in ref_points}
    curves: dict = {}
    for p in points:
        if figure not in p.figures:
            continue
        par = params(p.config)
        grid = c.grid(g, par)
        x = par["keep_fraction"]
        if not any(np.isclose(x, s) for s in grid):
            continue  # a share the curve does not read (λ = 1 of Fig 6e)
        cur = curves.setdefault(c.key(par), {"grid": grid, "own": {}, "ref": {}, "points": {}})
        cur["points"][x] = p
        v = _stored_value(exp, p.config, c)
        if v is not None:
            cur["own"][x] = v
        if p.name in ref_cfg:
            v = _stored_value(exp, ref_cfg[p.name], c)
            if v is not None:
                cur["ref"][x] = v
    kept, waiting, done = [], 0, 0
    for cur in curves.values():
        todo = frontier(cur["grid"], cur["own"], cur["ref"], c.level)
        if decided(cur["grid"], cur["own"], c.level):
            done += 1
        elif not todo:
            waiting += 1
        kept += [cur["points"][x] for x in todo if x in cur["points"]]
    names = {p.name for p in kept}
    out = [p for p in points if p.name in names]
    note = (f"around={figure}: {len(out)} run(s) next to the crossing of {len(curves)} curve(s); "
            f"{done} decided, {waiting} waiting for seed {REFERENCE_SEED}'s")
    return out, note
