"""Sample efficiency and the percolation onset (Figs 5, 6e, 14c, 15): reading the stored sweep.

- :func:`data_needed`: the dataset size at which an accuracy-vs-size curve reaches a threshold
  (Fig 5c's 60%), interpolated in log size.
- :func:`power_law_fit`: the slope of log(data needed) against log N with a t-interval (Fig 5c).
- :func:`sweep_table`: the stored runs of a figure's records (:mod:`compdiff.query`) as rows
  (name, σ, λ = ``keep_fraction``, N, data kind, training-set size, accuracy, losses).

Imports numpy and scipy only (plus the store and the data module), so it runs where the sweep is trained.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import data

FIG5_THRESHOLD = 0.6  # STATED (Fig 5c): "dataset size needed to reach 60% threshold accuracy"
ONSET_LEVEL = 0.5  # INFERRED: the accuracy at which Fig 6e's onset is read (the report's check)


class Needed(NamedTuple):
    """Dataset size at which the accuracy first reaches the threshold, and how it was found:
    "interpolated" (between two sizes, linear in log size), "at_smallest" (the smallest size
    already reaches it: an upper bound), "not_reached" (value NaN) or, from :func:`scaling` on a
    partly stored curve, "gap" (value NaN: the stored shares around the crossing are not
    neighbours on the sweep's grid, so the crossing is not read until the gap is trained)."""

    value: float
    how: str


def data_needed(sizes, accuracies, level: float = FIG5_THRESHOLD) -> Needed:
    """The training-set size where accuracy first reaches ``level``, linear in log(size) between
    the two sizes around it (``sizes`` ascending)."""
    x = np.asarray(sizes, dtype=np.float64)
    a = np.asarray(accuracies, dtype=np.float64)
    if x.ndim != 1 or x.shape != a.shape or x.size == 0:
        raise ValueError(f"sizes and accuracies must be 1-D of one length, got {x.shape} and {a.shape}")
    if np.any(x <= 0) or np.any(np.diff(x) <= 0):
        raise ValueError(f"sizes must be positive and strictly increasing, got {x.tolist()}")
    if not 0 < level <= 1:
        raise ValueError(f"level = {level!r} must lie in (0, 1]")
    above = np.flatnonzero(a >= level)
    if above.size == 0:
        return Needed(float("nan"), "not_reached")
    i = int(above[0])
    if i == 0:
        return Needed(float(x[0]), "at_smallest")
    lx0, lx1 = math.log(x[i - 1]), math.log(x[i])
    f = (level - a[i - 1]) / (a[i] - a[i - 1])
    return Needed(float(math.exp(lx0 + f * (lx1 - lx0))), "interpolated")


class PowerLaw(NamedTuple):
    """log D = intercept + slope · log N; ``lo``/``hi``: the slope's two-sided t-interval at
    ``confidence`` (NaN with fewer than three points, where no interval exists)."""

    slope: float
    intercept: float
    lo: float
    hi: float
    points: int
    confidence: float

    def predict(self, N):
        return np.exp(self.intercept) * np.asarray(N, dtype=np.float64) ** self.slope


def power_law_fit(N, D, confidence: float = 0.95) -> PowerLaw:
    """Least-squares fit of log D against log N, with a t-interval on the slope."""
    from scipy import stats

    x = np.log(np.asarray(N, dtype=np.float64))
    y = np.log(np.asarray(D, dtype=np.float64))
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"N and D must be 1-D of one length, got {x.shape} and {y.shape}")
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError(f"a power law needs at least two distinct N, got {np.exp(x).tolist()}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"D must be positive and finite, got {np.exp(y).tolist()}")
    slope, intercept = np.polyfit(x, y, 1)
    lo = hi = float("nan")
    if x.size >= 3:
        resid = y - (intercept + slope * x)
        se = math.sqrt(resid @ resid / (x.size - 2) / ((x - x.mean()) @ (x - x.mean())))
        h = stats.t.ppf(0.5 + confidence / 2, x.size - 2) * se
        lo, hi = slope - h, slope + h
    return PowerLaw(float(slope), float(intercept), float(lo), float(hi), int(x.size), confidence)


def sweep_table(records) -> list[dict]:
    """One row per stored record (:class:`compdiff.query.Record`): its swept values (read from its
    config), training-set size, accuracies, losses, and the run."""
    rows = []
    for rec in records:
        if not rec.stored:
            continue
        m = rec.run.json("metrics")
        loss = m.get("final_loss") or {}
        rows.append({"name": rec.name, **rec.params, "train_size": int(m["n_train_images"]),
                     "accuracy": float(m["accuracy"]), "ood": m.get("regions", {}).get("ood"),
                     "train_loss": loss.get("train"), "val_loss": loss.get("validation"), "run": rec.run})
    return rows


def with_nulls(records, null_of=None) -> list[dict]:
    """:func:`sweep_table`'s rows, each with what tells copying from generalising (issue 20):
    ``strict``, the run's accuracy over all labels within ±:data:`compdiff.baselines.STRICT_TOL` px
    (there the memoriser scores only its training labels); ``memoriser``, the memoriser's accuracy
    over all labels by the run's own scorer; ``isolated``, the run's accuracy on its isolated
    held-out labels (no training label within its tolerance, where the memoriser scores 0; None
    where it has none) and ``n_isolated``. ``null_of(record)`` gives a record's
    :class:`compdiff.baselines.Baselines` (default: computed here; the report caches them)."""
    from . import baselines

    null_of = null_of or (lambda rec: baselines.baselines(rec.config))
    stored = [rec for rec in records if rec.stored]
    out = []
    for rec, row in zip(stored, sweep_table(stored)):
        samples = rec.run.arrays("samples")
        b = null_of(rec)
        right = np.asarray(samples["correct"], bool)
        strict = baselines.strict_correct(samples, rec.config)
        out.append({**row, "strict": None if strict is None else float(strict.mean()),
                    "memoriser": float(b.memoriser.mean()), "n_isolated": int(b.isolated.sum()),
                    "isolated": float(right[b.isolated].mean()) if b.isolated.any() else None})
    return out


def read_as(rows, value: str) -> list[dict]:
    """``rows`` with their ``accuracy`` replaced by another column of :func:`with_nulls` (e.g.
    ``strict``), so that :func:`scaling` and :func:`crossing_hull` read that one; rows without it
    are left out."""
    return [{**r, "accuracy": r[value]} for r in rows if r.get(value) is not None]


def curve(rows, **match) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """(kept shares λ, training-set sizes, accuracies, runs) of the rows matching ``match``, sorted
    by λ, one row per λ."""
    sel = {}
    for r in rows:
        if all(r[k] == v for k, v in match.items()):
            sel.setdefault(r["keep_fraction"], r)
    fr = sorted(sel)
    return (np.array(fr), np.array([sel[f]["train_size"] for f in fr], float),
            np.array([sel[f]["accuracy"] for f in fr]), [sel[f]["run"] for f in fr])


def seed_curve(rows, value: str = "accuracy", x: str = "keep_fraction", **match) -> tuple[list, list]:
    """(sorted x values, [per x: the rows' ``value`` of each seed]) of the rows matching ``match``,
    rows of several seeds (:func:`sweep_table` of :func:`compdiff.query.seeds`' records): what
    :func:`compdiff.plotting.seed_line` draws. ``None`` values are left out."""
    by_x: dict = {}
    for r in rows:
        if all(r[k] == v for k, v in match.items()) and r[value] is not None:
            by_x.setdefault(r[x], {}).setdefault(r["seed"], r[value])
    xs = sorted(by_x)
    return xs, [list(by_x[v].values()) for v in xs]


def grid_positions(fractions, grid) -> list[int]:
    grid = np.asarray(sorted(grid), dtype=np.float64)
    pos = []
    for x in fractions:
        hit = np.flatnonzero(np.isclose(grid, x))
        if not hit.size:
            raise ValueError(f"stored share {x:g} is not on the grid {grid.tolist()}")
        pos.append(int(hit[0]))
    return pos


def grid_reading(pos, above, n_grid: int) -> str | None:
    """How a curve stored at the grid positions ``pos`` (ascending; ``above``: whether each stored
    value reaches the level) decides its first crossing on a grid of ``n_grid`` shares, as the full
    curve would if accuracy never falls as the share grows: "interpolated" (the first stored share
    at or above the level and the stored share before it are grid neighbours), "at_smallest" (the
    grid's first share is stored and reaches it), "not_reached" (none reaches it and the grid's
    last share is stored), or None (a gap in the grid around the crossing: undecided). The one rule
    of :func:`scaling`, :func:`onset` and :func:`compdiff.placement.decided`."""
    idx = np.flatnonzero(np.asarray(above, dtype=bool))
    if not len(pos):
        return None
    if idx.size == 0:
        return "not_reached" if pos[-1] == n_grid - 1 else None
    i = int(idx[0])
    if i == 0:
        return "at_smallest" if pos[0] == 0 else None
    return "interpolated" if pos[i] - pos[i - 1] == 1 else None


def refined_grid(grid, stored) -> tuple:
    """``grid`` with the ``stored`` shares that lie off it (Fig 5's finer shares, issue 20): a finer
    share enters a curve's grid where it is stored, between the grid neighbours it refines."""
    extra = [x for x in stored if not np.any(np.isclose(np.asarray(grid, dtype=np.float64), x))]
    return tuple(sorted(set(map(float, grid)) | set(map(float, extra))))


def scaling(rows, Ns, kind: str, level: float = FIG5_THRESHOLD, grid=None, sigma: float | None = None,
            refined: bool = False) -> dict:
    """Fig 5c for one data kind ("bump" or "mixed"): {N: Needed} over the N with stored runs, from
    the rows of Fig 5's records (``sigma``: of that bump width only, where the rows hold several).
    With the sweep's share ``grid``, a crossing is read only where the stored shares around it
    are grid neighbours (as on the full curve, if accuracy never falls as the share grows);
    otherwise it is a "gap". ``refined``: a stored share off the grid (a finer share) joins it
    (:func:`refined_grid`)."""
    out = {}
    match = {"kind": kind} if sigma is None else {"kind": kind, "sigma": float(sigma)}
    for N in Ns:
        p, size, acc, _ = curve(rows, N=N, **match)
        if not len(size):
            continue
        need = data_needed(size, acc, level)
        g = grid if grid is None or not refined else refined_grid(grid, p)
        if g is not None and grid_reading(grid_positions(p, g), acc >= level, len(g)) is None:
            need = Needed(float("nan"), "gap")
        out[N] = need
    return out


class Bounds(NamedTuple):
    """Where a curve first reaches the threshold, as an interval of training-set sizes: exactly
    ``lo`` where ``lo == hi`` (read between grid neighbours, as :func:`scaling`'s "interpolated"),
    otherwise somewhere in (``lo``, ``hi``]; ``hi`` is inf where no stored size reaches it."""

    lo: float
    hi: float

    def text(self) -> str:
        if self.lo == self.hi:
            return f"{self.lo:.0f}"
        if math.isinf(self.hi):
            return f"more than {self.lo:.0f}"
        return f"between {self.lo:.0f} and {self.hi:.0f}"


def crossing_bounds(sizes, accuracies, pos, n_grid: int, least: float, level: float = FIG5_THRESHOLD) -> Bounds:
    """The :class:`Bounds` of a curve's first crossing of ``level``, read as :func:`grid_reading`
    reads it (as if accuracy never falls as the share grows): ``sizes`` ascending at the grid
    positions ``pos`` of an ``n_grid``-share grid; ``least``: the size of the set with no share
    kept (Fig 5b's mixed sets always hold their stripes). A crossing read between grid neighbours
    is a point; one below the smallest stored size lies in (least, that size]; one in a gap of the
    grid, between the stored sizes around it; one not reached, above the largest stored size."""
    x = np.asarray(sizes, dtype=np.float64)
    a = np.asarray(accuracies, dtype=np.float64)
    if not len(x) or x.shape != a.shape or len(pos) != len(x):
        raise ValueError(f"sizes, accuracies and pos must be of one non-zero length, got {x.shape}, {a.shape}, {len(pos)}")
    if grid_reading(pos, a >= level, n_grid) == "interpolated":
        v = data_needed(x, a, level).value
        return Bounds(v, v)
    above = np.flatnonzero(a >= level)
    if not above.size:
        return Bounds(float(x[-1]), math.inf)
    i = int(above[0])
    return Bounds(float(least) if i == 0 else float(x[i - 1]), float(x[i]))


def crossing_hull(rows, kind: str, N: int, grid, unconverged) -> tuple | None:
    """Fig 5's crossing of one curve (``kind`` at ``N``, from :func:`sweep_table` rows of one seed,
    on the share ``grid``), read as the stored accuracies give it and with every run for which
    ``unconverged(run)`` holds at 100% and at 0% (every accuracy further training could reach; the
    crossing moves one way as any accuracy grows): (bounds as stored, bounds over both extremes,
    the unconverged runs), or None where no run of the curve is stored."""
    p, size, acc, runs = curve(rows, kind=kind, N=N)
    if not len(size):
        return None
    pos = grid_positions(p, grid)
    least = float(size[0]) - data.subsample_count(N * N, float(p[0]))
    off = np.array([bool(unconverged(r)) for r in runs])
    read = [crossing_bounds(size, np.where(off, fill, acc), pos, len(grid), least) for fill in (acc, 1.0, 0.0)]
    return read[0], Bounds(read[1].lo, read[2].hi), [r for r, o in zip(runs, off) if o]


def fewer_with_stripes(rows, N: int, grid, unconverged) -> tuple | None:
    """Claim 9's comparison at one N, read from one seed's rows (e.g. :func:`read_as` ``strict``
    rows, for the ±0.5 px reading that Fig 5 and the report show): (mixed bounds, 2D-only bounds,
    True where the mixed set needs fewer images at every accuracy its unconverged runs could reach,
    False where it needs at least as many, None where the intervals cannot tell), each bound as
    :func:`crossing_hull` gives it over both extremes; None where a curve has no stored run.
    ``grid(kind)`` gives a kind's share grid."""
    h = {kind: crossing_hull(rows, kind, N, grid(kind), unconverged) for kind in ("mixed", "bump")}
    if None in h.values():
        return None
    m, b = h["mixed"][1], h["bump"][1]
    return m, b, (True if m.hi < b.lo else False if m.lo >= b.hi else None)


def isolated_text(rows, N: int) -> str:
    """One seed's isolated-label reading at one N (:func:`with_nulls` rows): at each share the mixed
    runs hold, the share of isolated held-out labels right with stripes vs without ("—" where no
    2D-only run holds that share) and how many isolated labels the mixed run has; "" where none."""
    at: dict = {}
    for r in rows:
        if r["N"] == N and r["isolated"] is not None:
            at.setdefault(r["keep_fraction"], {})[r["kind"]] = (r["isolated"], r["n_isolated"])
    return ", ".join(f"p = {p:g}: {100 * k['mixed'][0]:.0f}% vs "
                     + (f"{100 * k['bump'][0]:.0f}%" if "bump" in k else "—") + f" (of {k['mixed'][1]})"
                     for p, k in sorted(at.items()) if "mixed" in k)


def scaling_fit(need: dict) -> PowerLaw | None:
    """Fig 5c's power law through the N whose crossing was read between two shares
    (:func:`scaling`'s "interpolated"), or None with fewer than two such N."""
    pts = {N: v.value for N, v in need.items() if v.how == "interpolated"}
    return power_law_fit(list(pts), list(pts.values())) if len(pts) >= 2 else None


class Onset(NamedTuple):
    """Where a σ column of Fig 6e first reaches the onset level, read from its stored λ.

    ``how`` is one of
    - "interpolated": between two λ that are neighbours on the sweep's grid (``value``);
    - "at_smallest": the grid's smallest λ already reaches it (``value`` = that λ, an upper bound);
    - "never": the grid's largest λ is stored and no stored λ reaches it (``value`` NaN);
    - "bounded": the stored λ around the crossing are not grid neighbours; it lies in (lo, hi]
      (``value`` NaN; ``hi`` = inf when no stored λ reaches it: later, or never);
    - "none": no λ of this σ is stored.

    A partial column is read as if accuracy never falls as λ grows (``monotone`` says whether the
    stored accuracies do); on a complete column every reading is exact."""

    value: float
    how: str
    lo: float
    hi: float
    keep_fractions: np.ndarray
    accuracies: np.ndarray
    monotone: bool

    @property
    def determined(self) -> bool:
        return self.how in ("interpolated", "at_smallest", "never")

    def describe(self) -> str:
        if self.how == "bounded" and math.isinf(self.hi):
            return f"> {self.lo:.2f} or never"
        return {"interpolated": f"{self.value:.2f}", "at_smallest": f"≤ {self.value:.2f}", "never": "never",
                "bounded": f"in ({self.lo:.2f}, {self.hi:.2f}]", "none": "—"}[self.how]


def onset_matches(o: Onset, lam_c: float, tol: float) -> bool | None:
    """Whether the onset ``o`` lies within ``tol`` of the simulated ``lam_c`` (NaN: never
    percolates): True or False where the stored λ decide it, None where they do not (a bounded
    onset whose interval straddles the tolerance band)."""
    sim_never = not np.isfinite(lam_c)
    if o.how == "none":
        return None
    if o.how == "never":
        return sim_never
    if o.how == "interpolated":
        return (not sim_never) and abs(o.value - lam_c) <= tol
    # at_smallest or bounded: the crossing lies somewhere in (lo, hi]
    lo = 0.0 if o.how == "at_smallest" else o.lo
    if sim_never:
        return None if math.isinf(o.hi) else False
    if lo >= lam_c - tol and o.hi <= lam_c + tol:
        return True
    if o.hi < lam_c - tol or lo >= lam_c + tol:
        return False
    return None


def onset(rows, sigma: float, level: float = ONSET_LEVEL, grid=None) -> Onset:
    """Where terminal accuracy of the σ column of Fig 6e first reaches ``level``, linear between
    λ; ``grid``: the sweep's full λ grid (default: the stored λ, i.e. a complete column)."""
    from .percolation import crossing

    lam, _, acc, _ = curve(rows, sigma=sigma)
    mono = bool(np.all(np.diff(acc) >= 0))
    nan = float("nan")
    if not len(lam):
        return Onset(nan, "none", nan, nan, lam, acc, mono)
    grid = sorted(lam) if grid is None else sorted(grid)
    how = grid_reading(grid_positions(lam, grid), acc >= level, len(grid))
    above = np.flatnonzero(acc >= level)
    if above.size == 0:
        if how == "not_reached":
            return Onset(nan, "never", nan, nan, lam, acc, mono)
        return Onset(nan, "bounded", float(lam[-1]), math.inf, lam, acc, mono)
    i = int(above[0])
    if i == 0:
        if how == "at_smallest":
            return Onset(float(lam[0]), "at_smallest", nan, float(lam[0]), lam, acc, mono)
        return Onset(nan, "bounded", 0.0, float(lam[0]), lam, acc, mono)
    if how == "interpolated":
        return Onset(float(crossing(lam[i - 1:i + 1], acc[i - 1:i + 1], level)), "interpolated",
                     float(lam[i - 1]), float(lam[i]), lam, acc, mono)
    return Onset(nan, "bounded", float(lam[i - 1]), float(lam[i]), lam, acc, mono)


KNN_K = 4  # INFERRED: neighbours per point of the Fig 15 continuity graph (a lattice point has 4)


def knn_component_sizes(X, k: int = KNN_K) -> np.ndarray:
    """Sizes, largest first, of the connected components of the symmetric k-nearest-neighbour
    graph of the cloud ``X`` (M, D)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) <= k:
        raise ValueError(f"X must be (M, D) with M > k = {k}, got {X.shape}")
    sq = (X ** 2).sum(1)
    d2 = sq[:, None] + sq[None, :] - 2 * X @ X.T
    np.fill_diagonal(d2, np.inf)
    nn = np.argpartition(d2, k, axis=1)[:, :k]
    rows = np.repeat(np.arange(len(X)), k)
    g = coo_matrix((np.ones(rows.size), (rows, nn.ravel())), shape=(len(X), len(X)))
    _, lab = connected_components(g, directed=False)
    return np.sort(np.bincount(lab))[::-1]


def knn_components(X, k: int = KNN_K) -> int:
    """Connected components of the symmetric k-nearest-neighbour graph of the cloud ``X`` (M, D):
    1 for a continuous manifold, more for a fragmented one (Fig 15)."""
    return int(len(knn_component_sizes(X, k)))


def final_cloud(run) -> np.ndarray:
    """The final snapshot's bottleneck cloud at t = 0 (stored PC scores) of a Fig 6e run."""
    from . import clouds

    return clouds.read(run).cloud(-1, 0)