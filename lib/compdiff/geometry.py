"""Representation geometry: reference tori, PCA, persistent homology, the ring tests, UMAP.

Paper: spec §1.2 (the representation analysed) and §1.6 (the metrics); Figs 2a–g, 3, 8, 11c, 15.
Imports numpy only (and numpy-only :mod:`compdiff.data`): ripser and umap are imported inside the
functions that need them, so a machine without the analysis packages still imports this module
and runs PCA and the ring statistics.

Conventions (the one place they are stated)
-------------------------------------------
* **Cloud.** A representation cloud is an ``(M, D)`` float array, one row per label. On an n×n
  label lattice the rows are in :func:`compdiff.data.lattice` order: x varies fastest, so row
  ``iy * n + ix`` holds the label (x_ix, y_iy). A cloud reshaped to ``(n, n, D)`` is indexed
  ``[iy, ix]``.
* **Angles.** The reference tori put label (ix, iy) at θ = 2π·ix/n, φ = 2π·iy/n
  (:func:`lattice_angles`), in the same row order, so a torus and a learned cloud are compared
  row by row.
* **Rings** (Fig 3). The *x-ring at y_j* is A_j = {r(x_i, y_j)}_i (row j of the ``(n, n, D)``
  array: x varies along it); the *y-ring at x_i* is B_i = {r(x_i, y_j)}_j (column i). Point k of
  a ring is its k-th lattice label, so points correspond across rings by index.
* **Ring plane.** U ∈ R^{D×2}: the top two principal directions of the ring's mean-centred points.
* **Orthogonality** O(P, Q) = ‖U_Pᵀ U_Q‖_F² / 2 ∈ [0, 1], the mean squared cosine of the two
  principal angles between the ring planes: 0 = orthogonal planes, 1 = the same plane.
* **Parallelism** Π(P, Q) = mean_k cos∠(p_{k+1} − p_k, q_{k+1} − q_k) ∈ [−1, 1], the mean cosine
  between corresponding steps along the two rings (cyclic, k + 1 taken mod n, on the periodic
  lattice): 1 = translated (or scaled) copies, 0 = steps in orthogonal directions.
* **Pairs** over which the Fig 3 histograms are collected (:func:`ring_pairs`): "x-on-y" every
  (A_j, B_i), j-major (n² values); "x-on-x" every (A_j, A_j') with j < j'; "y-on-y" every
  (B_i, B_i') with i < i' (n(n−1)/2 values each, in ``np.triu_indices(n, 1)`` order).
* A ring whose plane is undefined (its second singular value is ≤ 1e-9 × the largest first
  singular value over the rings) gets NaN orthogonality; a step of zero length gets NaN
  parallelism. Nothing is silently replaced.

Analytic values the tests check (spec §1.6): Clifford torus x-on-y O = Π = 0, x-on-x and y-on-y
O = Π = 1; 3D torus x-on-y O = 1/2, x-on-x O = Π = 1, y-on-y O = (1 + cos²Δθ)/2 (mean 3/4).
"""

from __future__ import annotations

import sys

import numpy as np

from .data import lattice

COMPARISONS = ("x-on-y", "x-on-x", "y-on-y")  # the rows of Fig 3
STATISTICS = ("orthogonality", "parallelism")  # the columns of Fig 3
ED_KINDS = ("var95", "participation", "energy99", "rank")
PRIMARY_ED = "var95"  # spec §1.6: the effective dimension plotted in Fig 2c
RANK_RTOL = 1e-3  # numerical rank: λ_i > RANK_RTOL·λ_1 (the first author's σ₁·1e-3 on eigvalsh)
LONG_LIVED_REL = 0.5
LONG_LIVED_H0_GAP = 3.0
LONG_LIVED_RULE = (
    "H_k, k >= 1: bars with lifetime > rel x L, where L is the largest finite lifetime over all "
    "dimensions >= 1 (default rel = 0.5). H_0: the infinite bar(s), plus finite bars that die "
    "later than h0_gap x the median finite H_0 death (a cluster that joins far later than "
    "typical neighbours; default h0_gap = 3)."
)

_PLANE_RTOL = 1e-9


# ---------------------------------------------------------------------------------------------
# argument checks (each error names the argument)


def _check_cloud(X, name: str = "X", *, min_points: int = 2) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2D (M, D) array, got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise ValueError(f"{name} must be a real numeric array, got dtype {X.dtype}")
    X = X.astype(np.float64, copy=False)
    if X.shape[0] < min_points or X.shape[1] < 1:
        raise ValueError(f"{name} must have >= {min_points} rows and >= 1 column, got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must contain only finite values")
    return X


def _check_int(value, name: str, minimum: int) -> int:
    try:
        ok = not isinstance(value, bool) and int(value) == value and value >= minimum
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} = {value!r} must be an integer >= {minimum}")
    return int(value)


def _check_positive(value, name: str) -> float:
    if np.ndim(value) != 0 or not np.isfinite(value) or not value > 0:
        raise ValueError(f"{name} = {value!r} must be a finite number > 0")
    return float(value)


def _check_lattice_cloud(X, n) -> tuple[np.ndarray, int]:
    n = _check_int(n, "n", 3)
    X = _check_cloud(X, "X", min_points=9)
    if X.shape[0] != n * n:
        raise ValueError(
            f"X has {X.shape[0]} rows but an n x n lattice with n = {n} needs n² = {n * n} "
            "(rows in compdiff.data.lattice order, x fastest)"
        )
    if X.shape[1] < 2:
        raise ValueError(f"X must have >= 2 columns for ring planes, got {X.shape[1]}")
    return X, n


# ---------------------------------------------------------------------------------------------
# reference tori (Fig 2a, Fig 3a/c)


def lattice_angles(n: int = 32) -> np.ndarray:
    """(n², 2) angles (θ, φ) = 2π·(x, y)/n of the n×n label lattice, rows in
    :func:`compdiff.data.lattice` order (x fastest: row = iy·n + ix). Fig 2a, Fig 3."""
    n = _check_int(n, "n", 1)
    return 2.0 * np.pi * lattice(n) / n


def torus_3d(n: int = 32, R: float = 2.0, r: float = 1.0) -> np.ndarray:
    """(n², 3) standard torus ((R + r cos φ) cos θ, (R + r cos φ) sin θ, r sin φ) on the n×n lattice
    (θ from x, φ from y; :func:`lattice_angles`). The coupled reference of Fig 2a (left) and
    Fig 3a. Needs R > r > 0 (a ring torus: otherwise it self-intersects)."""
    R = _check_positive(R, "R")
    r = _check_positive(r, "r")
    if not R > r:
        raise ValueError(f"R = {R!r} must exceed r = {r!r} (a ring torus)")
    theta, phi = lattice_angles(n).T
    ring = R + r * np.cos(phi)
    return np.stack([ring * np.cos(theta), ring * np.sin(theta), r * np.sin(phi)], axis=1)


def clifford_torus(n: int = 32) -> np.ndarray:
    """(n², 4) Clifford torus (cos θ, sin θ, cos φ, sin φ)/√2 on the n×n lattice (unit RMS
    radius). The factorized reference of Fig 2a (right) and Fig 3c."""
    theta, phi = lattice_angles(n).T
    return np.stack([np.cos(theta), np.sin(theta), np.cos(phi), np.sin(phi)], axis=1) / np.sqrt(2)


def rms_radius(X) -> float:
    """√(mean_m ‖x_m − x̄‖²): the size of a cloud, the unit of :func:`embed`'s noise (Fig 3)."""
    X = _check_cloud(X, "X", min_points=1)
    return float(np.sqrt(np.mean(np.sum((X - X.mean(axis=0)) ** 2, axis=1))))


def embed(points, dim: int, *, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """Embed a reference cloud in R^dim by a random (Haar) orthogonal map, plus Gaussian noise.

    Fig 3a/c: the ideal tori are compared with a D-dimensional learned cloud, and the noise gives
    their histograms a width. The noise is isotropic with per-coordinate standard deviation
    ``noise · rms_radius(points) / √dim``, so a point moves by ``noise`` × the cloud's RMS radius
    (root mean square displacement), whatever ``dim`` is. ``noise = 0`` gives an exact isometry.
    The orthogonal map and the noise both come from ``numpy.random.default_rng(seed)``.
    """
    P = _check_cloud(points, "points", min_points=1)
    d = P.shape[1]
    dim = _check_int(dim, "dim", 1)
    if dim < d:
        raise ValueError(f"dim = {dim} must be >= the points' dimension {d}")
    if np.ndim(noise) != 0 or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise = {noise!r} must be a finite number >= 0")
    rng = np.random.default_rng(seed)
    Q, Rq = np.linalg.qr(rng.standard_normal((dim, d)))
    Q = Q * np.where(np.diag(Rq) < 0, -1.0, 1.0)  # sign fix: Haar-distributed columns
    Y = P @ Q.T
    if noise > 0:
        Y = Y + rng.standard_normal(Y.shape) * (noise * rms_radius(P) / np.sqrt(dim))
    return Y


# ---------------------------------------------------------------------------------------------
# PCA and effective dimension (Fig 2c–g)


def _pca_eigh(Xc: np.ndarray):
    """Eigen-decomposition of the smaller of the Gram (M×M) and scatter (D×D) matrices of a
    centred cloud, descending; eigenvalues are the squared singular values (clipped at 0)."""
    M, D = Xc.shape
    small_gram = M <= D
    G = Xc @ Xc.T if small_gram else Xc.T @ Xc
    w, V = np.linalg.eigh(G)
    return np.clip(w[::-1], 0.0, None), V[:, ::-1], small_gram


def pca_spectrum(X) -> np.ndarray:
    """Explained-variance ratios (descending, summing to 1, length min(M, D)) of the mean-centred
    cloud X (M, D). Fig 2c/2d: the eigenspectrum of the 1024 × 4096 representation cloud."""
    X = _check_cloud(X)
    w, _, _ = _pca_eigh(X - X.mean(axis=0))
    total = w.sum()
    if not total > 0:
        raise ValueError("X has zero variance: every row is the same point")
    return w / total


def effective_dimension(ratios, kind: str = PRIMARY_ED):
    """Effective dimension of a PCA spectrum (Fig 2c, bottom; spec §1.6).

    ``ratios``: the full spectrum, descending or not (explained-variance ratios or variances: it
    is normalised here). ``kind``:

    * ``"var95"`` (primary): the number of PCs whose cumulative explained variance reaches 95%;
    * ``"participation"``: the participation ratio (Σλ)² / Σλ² (a float);
    * ``"energy99"``: the number of PCs reaching 99% of the total variance ("energy" = Σλ = Σσ²
      of the centred cloud, the first author's S8 notebook);
    * ``"rank"``: the numerical rank, the number of λ_i > RANK_RTOL·λ_1 (RANK_RTOL = 1e-3).
    """
    lam = np.asarray(ratios, dtype=np.float64)
    if lam.ndim != 1 or lam.size < 1:
        raise ValueError(f"ratios must be a non-empty 1D array, got shape {lam.shape}")
    if not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("ratios must be finite and >= 0")
    if not lam.sum() > 0:
        raise ValueError("ratios must not be all zero")
    if kind not in ED_KINDS:
        raise ValueError(f"kind = {kind!r} must be one of {ED_KINDS}")
    lam = np.sort(lam)[::-1] / lam.sum()
    if kind == "participation":
        return float(1.0 / np.sum(lam**2))
    if kind == "rank":
        return int(np.sum(lam > RANK_RTOL * lam[0]))
    level = 0.95 if kind == "var95" else 0.99
    # a tiny slack so that e.g. exactly 19/20 of the variance counts as reaching 95%
    return int(np.searchsorted(np.cumsum(lam), level - 1e-12) + 1)


def pca_summary(X, n_show: int = 15) -> dict:
    """The Fig 2c/2d numbers of one cloud: the first ``n_show`` explained-variance ratios
    ("ratios"), the cumulative ratio of the top 4 PCs ("top4_cumulative"), the four effective
    dimensions (keys ``ED_KINDS``; "var95" is the one plotted), and the cloud's shape."""
    n_show = _check_int(n_show, "n_show", 1)
    X = _check_cloud(X)
    ratios = pca_spectrum(X)
    out = {
        "ratios": ratios[:n_show].copy(),
        "top4_cumulative": float(ratios[:4].sum()),
        "n_points": int(X.shape[0]),
        "dim": int(X.shape[1]),
    }
    for kind in ED_KINDS:
        out[kind] = effective_dimension(ratios, kind)
    return out


def pca_project(X, k: int) -> np.ndarray:
    """(M, k) scores of the mean-centred cloud on its top-k principal directions (Fig 2e–g: PCs
    1–3 or the PC1–2 / PC3–4 panels; also the pre-reduction for ripser and UMAP). The sign of
    each component is fixed so that its largest-magnitude score is positive."""
    X = _check_cloud(X)
    M, D = X.shape
    k = _check_int(k, "k", 1)
    if k > min(M, D):
        raise ValueError(f"k = {k} must be <= min(M, D) = {min(M, D)}")
    Xc = X - X.mean(axis=0)
    w, V, small_gram = _pca_eigh(Xc)
    if small_gram:  # V holds left singular vectors: scores = U·s
        scores = V[:, :k] * np.sqrt(w[:k])
    else:  # V holds principal directions
        scores = Xc @ V[:, :k]
    big = np.argmax(np.abs(scores), axis=0)
    signs = np.where(scores[big, np.arange(k)] < 0, -1.0, 1.0)
    return scores * signs


# ---------------------------------------------------------------------------------------------
# persistent homology (Fig 2b)


def persistence(
    X, *, maxdim: int = 2, n_perm: int | None = 400, pca_dim: int | None = 10, seed: int = 0
) -> dict:
    """Vietoris–Rips persistence diagrams of a cloud with ripser (Fig 2b; spec §1.6).

    Preprocessing: centre; project on the top ``pca_dim`` principal directions (skipped when
    ``pca_dim`` is None or D <= pca_dim); divide by the RMS radius, so that lifetimes are in
    units of the cloud's size (a global scale: the PCs keep their relative variances, which a
    per-component standardisation would distort). Then ripser with greedy (farthest-point)
    subsampling to ``n_perm`` points (all points when ``n_perm`` is None or >= M). ripser starts
    the greedy permutation at row 0, so the rows are first shuffled with
    ``numpy.random.default_rng(seed)``: the seed picks the start point.

    Returns a dict: "dgms" (list of (k, 2) birth–death arrays, H_0 … H_maxdim, H_0 with one
    infinite bar), and the settings to record: "maxdim", "n_perm" (points used), "pca_dim"
    (dimensions used), "seed", "n_points" (M), "scale" (the RMS radius divided out), "r_cover"
    (ripser's covering radius of the subsample, in the same units; 0 without subsampling) and
    "idx_perm" (the rows of X used). ripser's memory and time grow fast with the number of
    points: n_perm = 400 with maxdim = 2 takes seconds to tens of seconds.
    """
    X = _check_cloud(X, min_points=3)
    maxdim = _check_int(maxdim, "maxdim", 0)
    M, D = X.shape
    if n_perm is not None:
        n_perm = _check_int(n_perm, "n_perm", 3)
    if pca_dim is not None:
        pca_dim = _check_int(pca_dim, "pca_dim", 1)
    if pca_dim is not None and D > pca_dim:
        Y = pca_project(X, min(pca_dim, M))
    else:
        Y = X - X.mean(axis=0)
    scale = rms_radius(Y)
    if not scale > 0:
        raise ValueError("X has zero variance: every row is the same point")
    Y = Y / scale
    from ripser import ripser  # lazy: an analysis-only dependency

    order = np.random.default_rng(seed).permutation(M)
    use_perm = n_perm is not None and n_perm < M
    res = ripser(Y[order], maxdim=maxdim, n_perm=n_perm if use_perm else None)
    idx = order[np.asarray(res["idx_perm"])] if use_perm else np.arange(M)
    return {
        "dgms": [np.asarray(d, dtype=np.float64) for d in res["dgms"]],
        "maxdim": maxdim,
        "n_perm": int(len(idx)),
        "pca_dim": int(Y.shape[1]),
        "seed": int(seed),
        "n_points": int(M),
        "scale": float(scale),
        "r_cover": float(res.get("r_cover", 0.0)) if use_perm else 0.0,
        "idx_perm": np.sort(idx),
    }


def _check_diagrams(diagrams) -> list[np.ndarray]:
    if isinstance(diagrams, dict):
        if "dgms" not in diagrams:
            raise ValueError("diagrams: a dict must be persistence()'s output, with key 'dgms'")
        diagrams = diagrams["dgms"]
    if not isinstance(diagrams, (list, tuple)) or len(diagrams) == 0:
        raise ValueError("diagrams must be a non-empty list of (k, 2) arrays, H_0 first")
    out = []
    for k, dg in enumerate(diagrams):
        dg = np.asarray(dg, dtype=np.float64)
        if dg.size == 0:
            dg = dg.reshape(0, 2)
        if dg.ndim != 2 or dg.shape[1] != 2:
            raise ValueError(f"diagrams[{k}] must be a (k, 2) array, got shape {dg.shape}")
        if np.any(np.isnan(dg)) or not np.all(np.isfinite(dg[:, 0])):
            raise ValueError(f"diagrams[{k}] must have finite births and no NaN")
        if np.any(dg[:, 1] < dg[:, 0]):
            raise ValueError(f"diagrams[{k}] has a bar that dies before it is born")
        out.append(dg)
    return out


def long_lived(
    diagrams, *, rel: float = LONG_LIVED_REL, h0_gap: float = LONG_LIVED_H0_GAP
) -> list[int]:
    """Number of long-lived features per dimension [H_0, H_1, …] (Fig 2b: a torus has 1, 2, 1;
    a circle 1, 1, 0). ``diagrams``: :func:`persistence`'s dict or its "dgms" list.

    The rule (LONG_LIVED_RULE): in H_k, k >= 1, a bar is long-lived if its lifetime exceeds
    ``rel`` × L, L the largest finite lifetime over all dimensions >= 1 (so a sphere's one H_2 bar
    sets the scale, and a circle's tiny H_2 bars fall far below its H_1 bar). In H_0, the
    infinite bar counts as one, plus any finite bar that dies later than ``h0_gap`` × the median
    finite H_0 death: with (greedy-subsampled) well-covered connected data all finite H_0 deaths
    are within a factor ~2 of each other, and a separate cluster joins much later.
    Robustness (measured with :func:`persistence` on the 32×32 reference tori, raw and embedded
    in R^64 with 1% noise, seeds 0–3): the standard torus R = 2, r = 1 is the hard case. With
    200–250 greedy points its H_2 bar is at 0.57–0.77 L and its largest noise H_1 bar at
    0.27–0.37 L (Clifford: 0.75–0.88 L and <= 0.28 L), so rel = 0.5 has a margin of about 0.1 L;
    with 150 points one of eight runs put the 3D torus's H_2 bar at 0.46 L (missed). The finite
    H_0 deaths stayed within 1.1–1.5 × their median. Use >= 200 points, and read the diagram too.
    """
    dgms = _check_diagrams(diagrams)
    rel = _check_positive(rel, "rel")
    h0_gap = _check_positive(h0_gap, "h0_gap")
    life = [dg[:, 1] - dg[:, 0] for dg in dgms]
    finite_high = [lt[np.isfinite(lt)] for lt in life[1:]]
    L = max((float(lt.max()) for lt in finite_high if lt.size), default=0.0)
    counts = []
    h0 = life[0]
    deaths = dgms[0][:, 1][np.isfinite(h0)]
    n0 = int(np.sum(~np.isfinite(h0)))
    if deaths.size:
        n0 += int(np.sum(deaths > h0_gap * np.median(deaths)))
    counts.append(n0)
    for lt in life[1:]:
        n_inf = int(np.sum(~np.isfinite(lt)))
        fin = lt[np.isfinite(lt)]
        counts.append(n_inf + (int(np.sum(fin > rel * L)) if L > 0 else 0))
    return counts


# ---------------------------------------------------------------------------------------------
# orthogonality and parallelism of rings (Fig 3, Fig 8; definitions in the module docstring)



TORUS_N_PERM = 300  # INFERRED: greedy points ripser sees of a Fig 2 cloud (memory grows with their square)


def torus_h_counts(X, *, seed: int = 0, n_perm: int = TORUS_N_PERM) -> list[int]:
    """[H₀, H₁, H₂] long-lived feature counts of a representation cloud (Fig 2b): ripser to
    dimension 2 on ``n_perm`` greedy points, read by :func:`long_lived`. The Fig 2 notebook and
    the report's torus check both call this."""
    return long_lived(persistence(X, maxdim=2, n_perm=n_perm, seed=seed))

def ring_pairs(n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each comparison of :data:`COMPARISONS`, the (first, second) ring indices of the pairs,
    in the order :func:`ring_statistics` returns them. "x-on-y": (j, i) = (the y index of the
    x-ring A_j, the x index of the y-ring B_i), j-major; "x-on-x": (j, j'), j < j'; "y-on-y":
    (i, i'), i < i'. Fig 3."""
    n = _check_int(n, "n", 2)
    jj, ii = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    tri = np.triu_indices(n, 1)
    return {"x-on-y": (jj.ravel(), ii.ravel()), "x-on-x": tri, "y-on-y": tri}


def _rings(X: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    grid = X.reshape(n, n, X.shape[1])  # [iy, ix, :]
    return grid, grid.transpose(1, 0, 2)  # x-rings A_j = grid[j]; y-rings B_i = grid[:, i]


def _ring_planes(rings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, 2, D) plane bases (top-2 principal directions) of m rings (m, n, D), and the (m, 2)
    top two singular values of the centred rings. Through the small n×n Gram matrices: a batched
    SVD of 32 × 4096 rings is ~30× slower."""
    centred = rings - rings.mean(axis=1, keepdims=True)
    w, u = np.linalg.eigh(centred @ centred.transpose(0, 2, 1))  # ascending
    s = np.sqrt(np.clip(w[:, ::-1][:, :2], 0.0, None))
    u = u[:, :, ::-1][:, :, :2]  # (m, n, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        V = np.einsum("mnd,mna->mad", centred, u) / s[:, :, None]
    return V, s


def _unit_steps(rings: np.ndarray, periodic: bool) -> np.ndarray:
    steps = (np.roll(rings, -1, axis=1) - rings) if periodic else np.diff(rings, axis=1)
    norm = np.linalg.norm(steps, axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, steps / norm, np.nan)


def ring_statistics(X, n: int, *, periodic: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """The Fig 3 (and Fig 8) orthogonality and parallelism statistics of a lattice cloud.

    ``X``: (n², D) in lattice order (x fastest); ``periodic``: the rings close (k + 1 mod n, the
    periodic bumps of Fig 2) or not (n − 1 steps). Returns ``stats[comparison][statistic]``, a 1D
    array over the pairs of :func:`ring_pairs` (comparison in :data:`COMPARISONS`, statistic in
    :data:`STATISTICS`). Definitions: module docstring. Vectorised: one batched SVD per ring
    family and two matrix products; no loop over pairs.
    """
    X, n = _check_lattice_cloud(X, n)
    x_rings, y_rings = _rings(X, n)
    Ux, sx = _ring_planes(x_rings)
    Uy, sy = _ring_planes(y_rings)
    # a plane needs a second direction: its singular value against the largest ring's scale
    tol = _PLANE_RTOL * max(float(sx[:, 0].max()), float(sy[:, 0].max()))
    Ux = np.where((sx[:, 1] > tol)[:, None, None], Ux, np.nan)
    Uy = np.where((sy[:, 1] > tol)[:, None, None], Uy, np.nan)
    dx = _unit_steps(x_rings, periodic)
    dy = _unit_steps(y_rings, periodic)

    def orth(UP, UQ):  # (p, 2, D), (q, 2, D) -> ‖U_Pᵀ U_Q‖_F² / 2, as one matrix product
        m = UP.reshape(-1, UP.shape[2]) @ UQ.reshape(-1, UQ.shape[2]).T
        return 0.5 * np.sum(m.reshape(UP.shape[0], 2, UQ.shape[0], 2) ** 2, axis=(1, 3))

    def par(dP, dQ):  # mean over k of the step cosines, as one matrix product
        return (dP.reshape(dP.shape[0], -1) @ dQ.reshape(dQ.shape[0], -1).T) / dP.shape[1]

    tri = np.triu_indices(n, 1)
    return {
        "x-on-y": {"orthogonality": orth(Ux, Uy).ravel(), "parallelism": par(dx, dy).ravel()},
        "x-on-x": {"orthogonality": orth(Ux, Ux)[tri], "parallelism": par(dx, dx)[tri]},
        "y-on-y": {"orthogonality": orth(Uy, Uy)[tri], "parallelism": par(dy, dy)[tri]},
    }


def coding_parallelism(
    X, n: int, *, feature: str = "x", steps=None, periodic: bool = True
) -> np.ndarray:
    """The neuroscience "parallelism score", an alternative to Fig 3's ring parallelism
    (spec §1.6; shown as a second panel).

    For ``feature = "x"`` the coding vector of a pair of x values at context y_c is
    v = r(x_{a+s}, y_c) − r(x_a, y_c); the score of two contexts c < c' is the mean, over all a
    and all separations s in ``steps``, of cos∠(v(c), v(c')). ``feature = "y"`` swaps the roles.
    Default ``steps``: every separation 1 … ⌊n/2⌋ (periodic; s and n − s give the same cosine)
    or 1 … n − 1. Returns a 1D array over context pairs in ``np.triu_indices(n, 1)`` order (the
    "x-on-x" / "y-on-y" order of :func:`ring_pairs`). With ``steps = (1,)`` it equals the ring
    parallelism Π of x-on-x (or y-on-y). Unlike the ring tests it has no x-on-y version, and it
    does not see the coupling of a 3D torus's x code to y (its x coding vectors at different y
    are scaled copies, cosine 1, as on a Clifford torus): that is why the ring statistics are
    the primary choice.
    """
    X, n = _check_lattice_cloud(X, n)
    if feature not in ("x", "y"):
        raise ValueError(f"feature = {feature!r} must be 'x' or 'y'")
    max_step = n // 2 if periodic else n - 1
    if steps is None:
        steps = range(1, max_step + 1)
    steps = [_check_int(s, "steps", 1) for s in np.atleast_1d(np.asarray(list(steps)))]
    if not steps or max(steps) > (n - 1):
        raise ValueError(f"steps must be a non-empty set of separations in 1 … {n - 1}")
    x_rings, y_rings = _rings(X, n)
    rings = x_rings if feature == "x" else y_rings  # [context, value, :]
    total = np.zeros((n, n))
    count = 0
    for s in steps:
        v = (np.roll(rings, -s, axis=1) - rings) if periodic else (rings[:, s:] - rings[:, :-s])
        norm = np.linalg.norm(v, axis=2, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(norm > 0, v / norm, np.nan)
        flat = u.reshape(n, -1)
        total += flat @ flat.T
        count += u.shape[1]
    return (total / count)[np.triu_indices(n, 1)]


# ---------------------------------------------------------------------------------------------
# UMAP (Fig 11c, Fig 15)


def umap_embed(
    X,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
    n_components: int = 2,
    pca_dim: int | None = 50,
    init: str = "spectral",
) -> np.ndarray:
    """(M, n_components) UMAP embedding of a cloud (Fig 11c, Fig 15; spec §1.6).

    The cloud is first reduced to its top ``pca_dim`` PCs (:func:`pca_project`; skipped when
    ``pca_dim`` is None or D <= pca_dim). Euclidean metric, ``random_state = seed``,
    ``n_jobs = 1``: UMAP is deterministic only with a fixed random state and one thread, so the
    same call gives the same coordinates on the same machine and library versions; compare
    shapes and summaries, not coordinates, across machines. umap-learn's first call in a process
    compiles its numba kernels (about 20 s here).
    """
    X = _check_cloud(X, min_points=3)
    M, D = X.shape
    n_neighbors = _check_int(n_neighbors, "n_neighbors", 2)
    if n_neighbors >= M:
        raise ValueError(f"n_neighbors = {n_neighbors} must be < the number of points {M}")
    if np.ndim(min_dist) != 0 or not np.isfinite(min_dist) or min_dist < 0:
        raise ValueError(f"min_dist = {min_dist!r} must be a finite number >= 0")
    n_components = _check_int(n_components, "n_components", 1)
    if n_components >= M - 1:
        raise ValueError(f"n_components = {n_components} must be < M − 1 = {M - 1}")
    if init not in ("spectral", "pca", "random"):
        raise ValueError(f"init = {init!r} must be 'spectral', 'pca' or 'random'")
    if pca_dim is not None:
        pca_dim = _check_int(pca_dim, "pca_dim", 1)
        if D > pca_dim:
            X = pca_project(X, min(pca_dim, M))
    import umap  # lazy: an analysis-only dependency (and slow to import)

    # umap-learn (through threadpoolctl) resets the process's OpenMP thread count, which torch
    # shares: a later training step would silently run on another number of threads (and so
    # round differently). Restore torch's setting if torch is loaded; never import it here.
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    try:
        return _umap_fit(umap, X, n_neighbors, min_dist, n_components, init, seed)
    finally:
        if torch is not None and torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)


def _umap_fit(umap, X, n_neighbors, min_dist, n_components, init, seed) -> np.ndarray:
    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        min_dist=float(min_dist),
        n_components=n_components,
        metric="euclidean",
        init=init,
        random_state=int(seed),
        transform_seed=int(seed),
        n_jobs=1,
    )
    return np.asarray(reducer.fit_transform(X), dtype=np.float64)
