"""Where a dense sweep's extra seeds go (issue 20): the cells around each crossing.

Three seeds of every cell of Figs 5 and 6e do not fit a CPU budget. Their claims read one number
per curve: the share at which accuracy first reaches a level (Fig 5: 60% of all labels, per data
kind and frame size N; Fig 6e: 50% of the held-out labels, per lattice and σ). That number is
decided by the two grid neighbours around it, so a seed after the first needs only those cells:

- :func:`frontier`: for one curve, the shares still to train at a seed, from its own stored
  values, else from the reference seed's (seed 0): the reference's bracket first, then one grid
  step towards the crossing for as long as the seed's own values leave it undecided;
- :func:`around`: the points of a sweep seed that a priority line with ``around=FIGURE`` keeps
  (:mod:`compdiff.gpu_slot`), read from the store; ``around=fig05x`` places Fig 5's extensions
  (N = 40, 48, a second σ, finer shares) from the seed's own σ = 1 curves.

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
    # Fig 5's extensions (Point.extends == "fig05"): N = 40, 48 and the second σ on Fig 5's share
    # grid, per data kind, N and σ; the finer shares are placed by the σ = 1 curve they refine
    "fig05x": Curve(lambda p: (p["kind"], p["N"], p["sigma"]), lambda m: m.get("accuracy"), FIG5_THRESHOLD,
                    lambda g, p: tuple(sorted(g.fig05_keep_fractions(p["kind"])))),
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


def frontier(grid, own: dict, ref: dict, level: float, start=None) -> list:
    """The shares of one curve still to train at a seed: none where its own stored values decide
    the crossing; with none stored, the reference seed's decided bracket (both neighbours, or the
    end share it stopped at; none while the reference is undecided), or ``start`` (a grid share)
    where the reference has nothing stored; with some stored but undecided, one grid step from
    them towards the crossing (the predecessor of the first share at or above ``level``, else the
    successor of the largest share stored)."""
    grid = tuple(sorted(grid))
    if decided(grid, own, level):
        return []
    if not own:
        how = decided(grid, ref, level)
        if how is None:
            return [start] if start is not None and not ref else []
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


def _collect(curves: dict, c: Curve, exp: str, p, par: dict, grid, ref_cfg: dict) -> None:
    """Add point ``p`` (share ``par["keep_fraction"]`` on ``grid``) to its curve in ``curves``, with
    its stored value at this seed and the reference seed's (``ref_cfg``: its configs by name)."""
    x = par["keep_fraction"]
    cur = curves.setdefault(c.key(par), {"grid": grid, "own": {}, "ref": {}, "points": {}})
    cur["points"][x] = p
    v = _stored_value(exp, p.config, c)
    if v is not None:
        cur["own"][x] = v
    if p.name in ref_cfg:
        v = _stored_value(exp, ref_cfg[p.name], c)
        if v is not None:
            cur["ref"][x] = v


def _walk(curves: dict, level: float, starts: dict | None = None) -> tuple[list, list, int, int]:
    """(points to train, points stored at this seed, curves decided, curves waiting) of ``curves``
    (:func:`_collect`), each walked by :func:`frontier` (``starts``: a curve key's first share where
    nothing is stored)."""
    kept, have, done, waiting = [], [], 0, 0
    for key, cur in curves.items():
        todo = frontier(cur["grid"], cur["own"], cur["ref"], level, start=(starts or {}).get(key))
        if decided(cur["grid"], cur["own"], level):
            done += 1
        elif not todo:
            waiting += 1
        kept += [cur["points"][x] for x in todo if x in cur["points"]]
        have += [cur["points"][x] for x in cur["own"]]
    return kept, have, done, waiting


def _kept(points: list, train: list, have: list) -> list:
    """``points`` (in their order) that are to train or already stored at this seed: a line keeps
    the runs it stored, so that ``status --priority`` counts them once its curves are decided
    (the trainer skips a stored run)."""
    names = {p.name for p in train} | {p.name for p in have}
    return [p for p in points if p.name in names]


def first_share(grid, values: dict, level: float):
    """The share of a decided curve where it first reaches ``level`` (the first stored share at
    or above it; the grid's largest where it is never reached), or None while undecided."""
    how = decided(tuple(sorted(grid)), values, level)
    if how is None:
        return None
    above = sorted(x for x in values if values[x] >= level)
    return above[0] if above else max(grid)


def _nearest(grid, x):
    return min(grid, key=lambda g: abs(np.log(g) - np.log(x)))


def _around_fig05x(exp: str, points: list, ref_points: list, seed_points: list, profile: str) -> tuple[list, str]:
    """``around=fig05x``: of Fig 5's extension runs among ``points``, those to train now. A finer
    share is kept where the seed's own σ = 1 curve (``seed_points``) is read between the two grid
    neighbours around it; a curve of N = 40, 48 or of the second σ follows :func:`frontier` on the
    coarse share grid, starting (nothing stored at seed 0 yet) from the share where the seed's
    σ = 1 curve first reaches the level: at the same N for the second σ, at the largest grid N
    whose crossing is decided for a new N."""
    from .query import params

    c, g = CURVES["fig05x"], experiments.efficiency_grid(profile)
    main: dict = {}  # (kind, N) -> {share: accuracy} of the seed's σ = 1 curves of Fig 5
    for p in seed_points:
        if "fig05" in p.figures:
            par = params(p.config)
            v = _stored_value(exp, p.config, c)
            if v is not None:
                main.setdefault((par["kind"], par["N"]), {})[par["keep_fraction"]] = v
    ref_cfg = {p.name: p.config for p in ref_points}
    curves: dict = {}
    kept, have, fine = [], [], 0
    for p in points:
        if p.extends != "fig05":
            continue
        par = params(p.config)
        kind, N, x = par["kind"], par["N"], par["keep_fraction"]
        grid = c.grid(g, par)
        if not any(np.isclose(x, s) for s in grid):  # a finer share: between the σ = 1 curve's bracket
            own = main.get((kind, N), {})
            first = min((s for s in own if own[s] >= c.level), default=None)  # set wherever the reading interpolates
            if _stored_value(exp, p.config, c) is not None:
                have.append(p)
            elif decided(grid, own, c.level) == "interpolated" and grid[_at(grid, first) - 1] < x < first:
                kept.append(p)
                fine += 1
            continue
        _collect(curves, c, exp, p, par, grid, ref_cfg)
    starts = {}
    for (kind, N, sigma), cur in curves.items():
        if N in g.frame_sizes:  # the second σ: from the σ = 1 curve at this N
            known = [N] if (kind, N) in main else []
        else:  # a new N: from the largest grid N whose σ = 1 crossing is decided
            known = sorted((n for (k, n) in main if k == kind), reverse=True)
        firsts = [s for n in known if (s := first_share(cur["grid"], main[(kind, n)], c.level)) is not None]
        if firsts:
            starts[(kind, N, sigma)] = _nearest(cur["grid"], firsts[0])
    walked, stored, done, waiting = _walk(curves, c.level, starts)
    kept += walked
    have += stored
    note = (f"around=fig05x: {len(kept)} run(s) to train: {fine} finer share(s) inside a decided bracket, "
            f"{len(kept) - fine} next to the crossing of {len(curves)} curve(s) of N = "
            f"{', '.join(map(str, g.extension_frame_sizes)) or '—'} or σ = {g.extension_sigma}; {done} decided, "
            f"{waiting} waiting for a σ = 1 crossing or seed {REFERENCE_SEED}'s; {len(have)} stored")
    return _kept(points, kept, have), note


def around(figure: str, exp: str, points: list, ref_points: list, profile: str,
           seed_points: list | None = None) -> tuple[list, str]:
    """The ``points`` (one sweep seed's, already filtered) that ``around=figure`` keeps: those of
    ``figure`` whose share :func:`frontier` names for their curve, the reference seed's values read
    from ``ref_points`` (the same sweep at :data:`REFERENCE_SEED`, matched by name), and those of its
    curves already stored at this seed (the trainer skips them; ``status --priority`` counts them);
    and a line saying what it kept. ``fig05x`` (Fig 5's extensions) also reads the seed's own Fig 5 curves
    from ``seed_points`` (the same sweep seed, unfiltered; default ``points``)."""
    from .query import params

    if figure not in CURVES:
        raise experiments.ConfigError(f"around = {figure!r}: allowed: {', '.join(CURVES)}")
    if figure == "fig05x":
        return _around_fig05x(exp, points, ref_points, points if seed_points is None else seed_points, profile)
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
        _collect(curves, c, exp, p, par, grid, ref_cfg)
    kept, have, done, waiting = _walk(curves, c.level)
    note = (f"around={figure}: {len(kept)} run(s) to train next to the crossing of {len(curves)} curve(s); "
            f"{done} decided, {waiting} waiting for seed {REFERENCE_SEED}'s; {len(have)} stored")
    return _kept(points, kept, have), note
