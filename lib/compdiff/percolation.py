"""Percolation theory of manifold formation (paper Fig 6b/c, Fig 13, Fig 14b; spec §1.7).

Two bumps a distance d apart *overlap* by their normalised inner product; training labels kept
with probability λ are joined when their overlap exceeds a threshold; the *largest connected mass
ratio* is the size of the largest cluster over the number of kept sites (``denominator="kept"``,
the default: 1 whenever the kept sites are all connected) or over all L² sites
(``denominator="all"``, the classical percolation strength P∞). Coordinates follow
:mod:`compdiff.data`. numpy + scipy only.

How the simulation is organised (why it is fast): each trial draws one uniform field U over the
lattice and keeps a site at fraction λ iff U < λ, so one draw serves every λ (each λ still sees
independent Bernoulli(λ) sites; the curves of one trial are coupled, which makes them smooth).
An edge between sites i and j is present at λ iff max(U_i, U_j) < λ, so the clusters at every λ are
those of the minimum spanning forest under edge weights max(U_i, U_j) cut at λ (Kruskal's
invariant). We therefore compute one spanning forest per trial (``minimum_spanning_tree``, at most
L² − 1 edges however dense the neighbourhood) and then one ``connected_components`` call over all
(trial, λ) copies of the forest.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from . import data

NEIGHBOURS = (None, "nearest", "next-nearest")
DENOMINATORS = ("kept", "all")
OVERLAPS = ("analytic", "pixel")
SITE_PERCOLATION_THRESHOLD = 0.592746  # square lattice, nearest neighbours (Newman & Ziff 2000)
NNN_PERCOLATION_THRESHOLD = 0.407254  # square lattice, nearest + next-nearest neighbours

_MAX_EDGES_PER_CHUNK = 4_000_000  # bounds the memory of one spanning-forest call (~100 MB)


def _check_sigma(sigma) -> float:
    sigma = np.asarray(sigma, dtype=np.float64)
    if not np.all(np.isfinite(sigma)) or not np.all(sigma > 0):
        raise ValueError(f"sigma = {sigma!r} must be finite and > 0")
    return sigma


def _check_threshold(threshold) -> float:
    if np.ndim(threshold) != 0 or not np.isfinite(threshold) or not 0 < threshold < 1:
        raise ValueError(f"threshold = {threshold!r} must lie in (0, 1)")
    return float(threshold)


def _check_keep_fractions(keep_fraction) -> np.ndarray:
    lam = np.atleast_1d(np.asarray(keep_fraction, dtype=np.float64))
    if lam.ndim != 1 or not np.all(np.isfinite(lam)) or not np.all((lam > 0) & (lam <= 1)):
        raise ValueError(f"keep_fraction = {keep_fraction!r} must be a number or 1-D array in (0, 1]")
    return lam


def overlap_analytic(d, sigma):
    """Normalised inner product of two isotropic 2D Gaussians of width σ a distance d apart:
    exp(−d²/4σ²) (Fig 6b). Vectorised over d and σ."""
    sigma = _check_sigma(sigma)
    d = np.asarray(d, dtype=np.float64)
    return np.exp(-(d**2) / (4 * sigma**2))


def _pixel_cosine(dx, dy, sigma: float, frame: int) -> np.ndarray:
    """Cosine similarity of rendered bumps at (c, c) and (c + dx, c + dy), c = frame / 2."""
    dx, dy = np.atleast_1d(np.asarray(dx, float)), np.atleast_1d(np.asarray(dy, float))
    c = frame / 2
    ref = data.render_bumps(c, c, sigma, frame=frame)[0].ravel().astype(np.float64)
    moved = data.render_bumps(c + dx, c + dy, sigma, frame=frame).reshape(len(dx), -1)
    moved = moved.astype(np.float64)
    norms = np.linalg.norm(ref) * np.linalg.norm(moved, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, moved @ ref / norms, 0.0)


def overlap_pixel(d, sigma, frame: int = data.DEFAULT_FRAME):
    """Cosine similarity of the rendered images (:func:`compdiff.data.render_bumps`) of bumps at
    (c, c) and (c + d, c), c = frame / 2 (a pixel centre for even frames). Differs from
    :func:`overlap_analytic` where pixelation matters (σ ≲ 0.5). Vectorised over d."""
    sigma = float(_check_sigma(sigma))
    d = np.asarray(d, dtype=np.float64)
    if not np.all(np.isfinite(d)):
        raise ValueError("d must be finite")
    return _pixel_cosine(d.ravel(), np.zeros(d.size), sigma, int(frame)).reshape(d.shape)


def connection_radius(sigma, threshold):
    """2σ·sqrt(ln(1/threshold)): bumps overlap by more than ``threshold`` iff closer than this."""
    return 2 * _check_sigma(sigma) * np.sqrt(np.log(1 / _check_threshold(threshold)))


def neighbour_offsets(
    sigma=None,
    threshold=None,
    *,
    d=1.0,
    L=data.DEFAULT_FRAME,
    neighbours=None,
    overlap="analytic",
    frame=data.DEFAULT_FRAME,
) -> np.ndarray:
    """Lattice offsets (dx, dy), in sites, that join two kept sites — one of each ± pair (int array
    (K, 2)). ``neighbours="nearest"`` / ``"next-nearest"`` fix the set (σ, threshold ignored);
    otherwise the offsets whose overlap (``overlap`` = "analytic" or "pixel", at distance
    d·|offset|) exceeds ``threshold``, up to L − 1 sites away."""
    if neighbours not in NEIGHBOURS:
        raise ValueError(
            f"neighbours = {neighbours!r}; allowed: {', '.join(map(repr, NEIGHBOURS))}"
        )
    if neighbours == "nearest":
        return np.array([[1, 0], [0, 1]])
    if neighbours == "next-nearest":
        return np.array([[1, 0], [0, 1], [1, 1], [1, -1]])
    if overlap not in OVERLAPS:
        raise ValueError(f"overlap = {overlap!r}; allowed: {', '.join(OVERLAPS)}")
    sigma, threshold = float(_check_sigma(sigma)), _check_threshold(threshold)
    # the pixel overlap can exceed the analytic one for σ ≲ 0.5: search a wider box for it
    reach = connection_radius(sigma, threshold) * (1.0 if overlap == "analytic" else 1.5) + 1
    r = int(min(np.ceil(reach / d), L - 1))
    ax = np.arange(-r, r + 1)
    dx, dy = (a.ravel() for a in np.meshgrid(ax, ax, indexing="xy"))
    half = (dx > 0) | ((dx == 0) & (dy > 0))  # one of each ± pair, no (0, 0)
    dx, dy = dx[half], dy[half]
    if overlap == "analytic":
        ov = overlap_analytic(d * np.hypot(dx, dy), sigma)
    else:
        ov = _pixel_cosine(d * dx, d * dy, sigma, int(frame))
    keep = ov > threshold
    return np.stack([dx[keep], dy[keep]], axis=1)


def _lattice_edges(L: int, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All site pairs (i, j) of an open L×L lattice (site = x + L·y) separated by the offsets."""
    idx = np.arange(L * L).reshape(L, L)  # [y, x]
    src, dst = [], []
    for ox, oy in offsets:  # loop over offsets only (≤ a few hundred), vectorised over sites
        ys = slice(max(0, -oy), L - max(0, oy))
        xs = slice(max(0, -ox), L - max(0, ox))
        a = idx[ys, xs]
        src.append(a.ravel())
        dst.append((a + ox + L * oy).ravel())
    if not src:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(src), np.concatenate(dst)


def _largest_clusters(U: np.ndarray, src, dst, lam: np.ndarray) -> np.ndarray:
    """Largest cluster size (T, Λ) for site fields U (T, S) and lattice edges (src, dst)."""
    T, S = U.shape
    n_lam = len(lam)
    # spanning forest of each trial's graph; weights 1 + max(U_i, U_j) (> 0: csgraph drops zeros)
    rows, cols, wts = [], [], []
    per_chunk = max(1, _MAX_EDGES_PER_CHUNK // max(1, len(src)))
    for t0 in range(0, T, per_chunk):
        t1 = min(T, t0 + per_chunk)
        base = (np.arange(t0, t1) * S)[:, None]
        w = 1.0 + np.maximum(U[t0:t1, src], U[t0:t1, dst])
        n = (t1 - t0) * S
        g = coo_matrix(
            (w.ravel(), ((base - t0 * S + src).ravel(), (base - t0 * S + dst).ravel())),
            shape=(n, n),
        ).tocsr()
        f = minimum_spanning_tree(g).tocoo()
        rows.append(f.row + t0 * S)
        cols.append(f.col + t0 * S)
        wts.append(f.data - 1.0)
    r, c, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(wts)
    # copy the forest once per λ, keeping edges present at that λ; one components call for all
    n_nodes = T * S
    keep = w[None, :] < lam[:, None]  # (Λ, E)
    shift = (np.arange(n_lam) * n_nodes)[:, None]
    rr = np.broadcast_to(r[None, :] + shift, keep.shape)[keep]
    cc = np.broadcast_to(c[None, :] + shift, keep.shape)[keep]
    total = n_lam * n_nodes
    g = coo_matrix((np.ones(rr.size, np.int8), (rr, cc)), shape=(total, total)).tocsr()
    _, comp = connected_components(g, directed=False)
    size = np.bincount(comp)[comp].reshape(n_lam, T, S)
    kept = U[None, :, :] < lam[:, None, None]
    # un-kept sites are singletons: mask them out so a trial with no kept site scores 0
    return np.where(kept, size, 0).max(axis=2).T


def mass_ratio(
    keep_fraction,
    sigma=None,
    threshold=None,
    *,
    L=data.DEFAULT_FRAME,
    d=1.0,
    trials=50,
    seed=0,
    neighbours=None,
    denominator="kept",
    overlap="analytic",
):
    """Largest connected mass ratio of site percolation on an open L×L lattice of spacing d
    (Figs 6c, 13, 14b), averaged over ``trials`` random draws; a scalar λ gives a float, an array of
    λ an array.

    Sites are kept with probability λ; two kept sites are joined if their bumps' overlap exceeds
    ``threshold`` (see :func:`neighbour_offsets`; ``neighbours`` replaces that rule by fixed
    nearest / next-nearest links; ``overlap="pixel"`` uses the cosine of rendered images instead
    of the analytic overlap). The ratio is largest cluster / kept sites
    (``denominator="kept"``) or / L² (``"all"``); a trial with no kept site counts 0.
    Randomness: ``Generator(seed)``.
    """
    lam = _check_keep_fractions(keep_fraction)
    if denominator not in DENOMINATORS:
        raise ValueError(f"denominator = {denominator!r}; allowed: {', '.join(DENOMINATORS)}")
    if int(L) != L or L < 1:
        raise ValueError(f"L = {L!r} must be a positive integer")
    if int(trials) != trials or trials < 1:
        raise ValueError(f"trials = {trials!r} must be a positive integer")
    if not np.isfinite(d) or not d > 0:
        raise ValueError(f"d = {d!r} must be a finite number > 0")
    L, trials = int(L), int(trials)
    offsets = neighbour_offsets(sigma, threshold, d=d, L=L, neighbours=neighbours, overlap=overlap)
    src, dst = _lattice_edges(L, offsets)
    U = np.random.default_rng(seed).random((trials, L * L))
    largest = _largest_clusters(U, src, dst, lam)  # (T, Λ)
    if denominator == "kept":
        kept = (U[:, None, :] < lam[None, :, None]).sum(axis=2)
        ratio = np.divide(largest, kept, out=np.zeros(largest.shape), where=kept > 0)
    else:
        ratio = largest / (L * L)
    out = ratio.mean(axis=0)
    return float(out[0]) if np.ndim(keep_fraction) == 0 else out


def mass_ratio_curves(sigmas, keep_fractions, threshold, **kwargs) -> np.ndarray:
    """Mass ratio for each σ (rows) and λ (columns), same seed for every σ (Figs 6c, 13, 14b).
    Keyword arguments go to :func:`mass_ratio`."""
    sigmas = np.atleast_1d(_check_sigma(sigmas))
    lam = _check_keep_fractions(keep_fractions)
    return np.stack([mass_ratio(lam, s, threshold, **kwargs) for s in sigmas])


def crossing(keep_fractions, values, level=0.5):
    """The first λ at which ``values`` rises to ``level``, linearly interpolated; NaN if it never
    does; ``keep_fractions[0]`` if it starts there. 2-D ``values`` give one crossing per row."""
    x = np.asarray(keep_fractions, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or v.shape[-1:] != x.shape:
        raise ValueError(f"values must end in an axis of len(keep_fractions) = {x.size}, got {v.shape}")
    if v.ndim > 1:
        return np.array([crossing(x, row, level) for row in v.reshape(-1, x.size)]).reshape(
            v.shape[:-1]
        )
    above = np.flatnonzero(v >= level)
    if above.size == 0:
        return float("nan")
    i = above[0]
    if i == 0:
        return float(x[0])
    v0, v1 = v[i - 1], v[i]
    return float(x[i - 1] + (level - v0) / (v1 - v0) * (x[i] - x[i - 1]))
