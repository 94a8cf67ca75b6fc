"""compdiff.geometry: reference tori, PCA/effective dimension, persistence, ring tests, UMAP.

The ring-statistic tests are the analytic table of spec §1.6 (Fig 3)."""

import subprocess
import sys
import time

import numpy as np
import pytest

from compdiff import data
from compdiff import geometry as geo

N = 32


@pytest.fixture(scope="module")
def tori():
    return {"3d": geo.torus_3d(N), "clifford": geo.clifford_torus(N)}


# ---------------------------------------------------------------------------------------------
# import constraint


def test_imports_and_runs_without_analysis_packages():
    """A GPU machine with only numpy + scipy must import the module and run PCA and ring stats."""
    code = (
        "import sys\n"
        "for m in ('ripser', 'persim', 'umap', 'torch', 'sklearn', 'matplotlib', 'numba'):\n"
        "    sys.modules[m] = None\n"
        "from compdiff import geometry as g\n"
        "X = g.embed(g.clifford_torus(8), 16)\n"
        "s = g.pca_summary(X); r = g.ring_statistics(X, 8)\n"
        "assert s['var95'] == 4 and r['x-on-y']['orthogonality'].size == 64\n"
        "try:\n"
        "    g.persistence(X)\n"
        "except ImportError:\n"
        "    print('lazy ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "lazy ok" in out.stdout


# ---------------------------------------------------------------------------------------------
# reference tori


def test_lattice_angles_follow_data_lattice_order():
    ang = geo.lattice_angles(4)
    np.testing.assert_allclose(ang, 2 * np.pi * data.lattice(4) / 4)
    # row = iy * n + ix: x fastest
    np.testing.assert_allclose(ang[1], [2 * np.pi / 4, 0.0])
    np.testing.assert_allclose(ang[4], [0.0, 2 * np.pi / 4])


def test_reference_tori(tori):
    t3, cl = tori["3d"], tori["clifford"]
    assert t3.shape == (N * N, 3) and cl.shape == (N * N, 4)
    k = 3 * N + 5  # (ix, iy) = (5, 3)
    th, ph = 2 * np.pi * 5 / N, 2 * np.pi * 3 / N
    np.testing.assert_allclose(
        t3[k], [(2 + np.cos(ph)) * np.cos(th), (2 + np.cos(ph)) * np.sin(th), np.sin(ph)]
    )
    expected = np.array([np.cos(th), np.sin(th), np.cos(ph), np.sin(ph)]) / np.sqrt(2)
    np.testing.assert_allclose(cl[k], expected)
    np.testing.assert_allclose(np.linalg.norm(cl, axis=1), 1.0)
    assert geo.rms_radius(cl) == pytest.approx(1.0)
    assert geo.rms_radius(t3) == pytest.approx(np.sqrt(5.0))  # R² + r²


def test_embed_is_an_isometry_plus_scaled_noise(tori):
    cl = tori["clifford"]
    Y0 = geo.embed(cl, 64, noise=0.0, seed=3)
    assert Y0.shape == (N * N, 64)
    G = cl @ cl.T
    np.testing.assert_allclose(Y0 @ Y0.T, G, atol=1e-12)
    Y = geo.embed(cl, 64, noise=0.05, seed=3)
    rms_disp = np.sqrt(np.mean(np.sum((Y - Y0) ** 2, axis=1)))
    assert rms_disp == pytest.approx(0.05 * geo.rms_radius(cl), rel=0.05)
    np.testing.assert_array_equal(Y, geo.embed(cl, 64, noise=0.05, seed=3))
    assert not np.allclose(Y, geo.embed(cl, 64, noise=0.05, seed=4))


@pytest.mark.parametrize(
    "call",
    [
        lambda: geo.torus_3d(4, R=1.0, r=1.0),
        lambda: geo.torus_3d(4, R=-2.0),
        lambda: geo.clifford_torus(0),
        lambda: geo.lattice_angles(2.5),
        lambda: geo.embed(np.ones((4, 3)), 2),
        lambda: geo.embed(np.ones((4, 3)), 5, noise=-0.1),
        lambda: geo.embed(np.ones(4), 5),
    ],
)
def test_tori_and_embed_reject_bad_input(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------------------------
# PCA and effective dimension (Fig 2c–g)


def test_pca_spectrum_of_reference_tori(tori):
    np.testing.assert_allclose(geo.pca_spectrum(tori["clifford"]), [0.25] * 4, atol=1e-12)
    # 3D torus: variances (R² + r²/2)/2 twice and r²/2: 2.25, 2.25, 0.5 of 5
    np.testing.assert_allclose(geo.pca_spectrum(tori["3d"]), [0.45, 0.45, 0.1], atol=1e-12)
    wide = geo.pca_spectrum(geo.embed(geo.clifford_torus(12), 300, noise=0.0))  # M < D: Gram
    assert wide.shape == (144,)
    np.testing.assert_allclose(wide[:4], 0.25, atol=1e-9)
    assert wide[4:].max() < 1e-12


@pytest.mark.parametrize("shape", [(40, 7), (7, 40)])
def test_pca_spectrum_and_projection_match_svd(shape):
    X = np.random.default_rng(0).normal(size=shape) * np.linspace(3, 0.1, shape[1])
    s = np.linalg.svd(X - X.mean(0), compute_uv=False)
    ratios = geo.pca_spectrum(X)
    np.testing.assert_allclose(ratios[: len(s)], s**2 / np.sum(s**2), atol=1e-12)
    assert ratios.sum() == pytest.approx(1.0)
    P = geo.pca_project(X, 3)
    assert P.shape == (shape[0], 3)
    np.testing.assert_allclose(np.linalg.norm(P, axis=0), s[:3], rtol=1e-9)
    np.testing.assert_allclose(P.T @ P, np.diag(s[:3] ** 2), atol=1e-8)
    # sign convention: the largest-magnitude score of each PC is positive
    assert np.all(P[np.argmax(np.abs(P), axis=0), np.arange(3)] > 0)


def test_effective_dimension_definitions():
    lam = np.array([0.5, 0.3, 0.15, 0.05])
    assert geo.effective_dimension(lam, "var95") == 3  # exactly 95% after 3 PCs
    assert geo.effective_dimension(lam, "energy99") == 4
    assert geo.effective_dimension(lam, "participation") == pytest.approx(1 / np.sum(lam**2))
    assert geo.effective_dimension(lam, "rank") == 4
    with_tail = np.r_[lam, 4e-4, 1e-6] * 7.0  # variances, unsorted tail: normalised here
    assert geo.effective_dimension(with_tail[::-1], "rank") == 4  # 4e-4 < 1e-3 · 0.5
    assert geo.effective_dimension(np.r_[lam, 6e-4], "rank") == 5
    assert geo.effective_dimension([1.0], "var95") == 1
    assert geo.effective_dimension(np.ones(8), "participation") == pytest.approx(8.0)


def test_pca_summary(tori):
    s = geo.pca_summary(geo.embed(tori["clifford"], 256, noise=0.01))
    assert s["ratios"].shape == (15,)
    assert s["top4_cumulative"] > 0.99
    assert (s["var95"], s["energy99"]) == (4, 4)
    assert s["participation"] == pytest.approx(4.0, rel=0.01)
    assert s["rank"] == 4
    assert (s["n_points"], s["dim"]) == (N * N, 256)
    assert set(geo.ED_KINDS) <= set(s)
    assert geo.pca_summary(tori["3d"])["var95"] == 3


@pytest.mark.parametrize(
    "call",
    [
        lambda: geo.pca_spectrum(np.ones((5, 3))),  # zero variance
        lambda: geo.pca_spectrum(np.array([[0.0, np.nan], [1.0, 2.0]])),
        lambda: geo.pca_spectrum(np.ones(5)),
        lambda: geo.pca_project(np.eye(4), 5),
        lambda: geo.pca_project(np.eye(4), 0),
        lambda: geo.effective_dimension([0.5, 0.5], "median"),
        lambda: geo.effective_dimension([0.5, -0.1]),
        lambda: geo.effective_dimension([]),
        lambda: geo.pca_summary(np.eye(4), n_show=0),
    ],
)
def test_pca_rejects_bad_input(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------------------------
# ring statistics (Fig 3): the analytic table of spec §1.6


def test_ring_pairs_and_output_shapes(tori):
    st = geo.ring_statistics(tori["clifford"], N)
    assert tuple(st) == geo.COMPARISONS
    pairs = geo.ring_pairs(N)
    for comp in geo.COMPARISONS:
        assert tuple(st[comp]) == geo.STATISTICS
        for stat in geo.STATISTICS:
            assert st[comp][stat].shape == (len(pairs[comp][0]),)
    assert len(pairs["x-on-y"][0]) == N * N and len(pairs["x-on-x"][0]) == N * (N - 1) // 2 == 496
    assert np.all(pairs["y-on-y"][0] < pairs["y-on-y"][1])


def test_clifford_torus_table(tori):
    st = geo.ring_statistics(tori["clifford"], N)
    for comp, O, P in [("x-on-y", 0, 0), ("x-on-x", 1, 1), ("y-on-y", 1, 1)]:
        np.testing.assert_allclose(st[comp]["orthogonality"], O, atol=1e-10)
        np.testing.assert_allclose(st[comp]["parallelism"], P, atol=1e-10)


def test_3d_torus_table(tori):
    st = geo.ring_statistics(tori["3d"], N)
    np.testing.assert_allclose(st["x-on-y"]["orthogonality"], 0.5, atol=1e-10)
    np.testing.assert_allclose(st["x-on-x"]["orthogonality"], 1.0, atol=1e-10)
    np.testing.assert_allclose(st["x-on-x"]["parallelism"], 1.0, atol=1e-10)
    i, i2 = geo.ring_pairs(N)["y-on-y"]
    dtheta = 2 * np.pi * (i2 - i) / N
    expected = (1 + np.cos(dtheta) ** 2) / 2
    np.testing.assert_allclose(st["y-on-y"]["orthogonality"], expected, atol=1e-10)
    # mean of (1 + cos²Δθ)/2 over all Δθ is 3/4; over i ≠ i' it is (32·3/4 − 1)/31
    assert st["y-on-y"]["orthogonality"].mean() == pytest.approx((N * 0.75 - 1) / (N - 1))
    # x-on-y and y-on-y parallelism are spread, not constant
    assert np.ptp(st["x-on-y"]["parallelism"]) > 0.5 and np.ptp(st["y-on-y"]["parallelism"]) > 0.5


def test_statistics_separate_the_tori_after_noisy_embedding(tori):
    """Fig 3a/c: embedded in D = 64 with 1% noise the medians stay near the noiseless values."""
    med = {}
    for name, T in tori.items():
        clean = geo.ring_statistics(T, N)
        noisy = geo.ring_statistics(geo.embed(T, 64, noise=0.01, seed=1), N)
        for comp in geo.COMPARISONS:
            for stat in geo.STATISTICS:
                a, b = np.median(clean[comp][stat]), np.median(noisy[comp][stat])
                assert abs(a - b) < 0.03, (name, comp, stat, a, b)
                assert np.ptp(noisy[comp][stat]) > 0  # the noise gives the histograms a width
        med[name] = np.median(noisy["x-on-y"]["orthogonality"])
    assert med["3d"] == pytest.approx(0.5, abs=0.02)
    assert med["clifford"] == pytest.approx(0.0, abs=0.02)


def test_ring_statistics_invariant_under_isometry(tori):
    a = geo.ring_statistics(tori["3d"], N)
    b = geo.ring_statistics(geo.embed(tori["3d"], 50, noise=0.0, seed=2) + 3.0, N)
    for comp in geo.COMPARISONS:
        for stat in geo.STATISTICS:
            np.testing.assert_allclose(a[comp][stat], b[comp][stat], atol=1e-9)


def test_non_periodic_rings_and_degenerate_planes():
    n = 6
    st = geo.ring_statistics(geo.clifford_torus(n), n, periodic=False)
    np.testing.assert_allclose(st["x-on-x"]["parallelism"], 1.0, atol=1e-12)
    # a cloud that depends on x only: y-rings are single points, their planes are undefined
    ang = geo.lattice_angles(n)
    X = np.stack([np.cos(ang[:, 0]), np.sin(ang[:, 0]), np.zeros(n * n)], axis=1)
    st = geo.ring_statistics(X, n)
    assert np.all(np.isnan(st["y-on-y"]["orthogonality"]))
    assert np.all(np.isnan(st["y-on-y"]["parallelism"]))
    np.testing.assert_allclose(st["x-on-x"]["orthogonality"], 1.0, atol=1e-12)


@pytest.mark.parametrize(
    "X, n",
    [
        (np.zeros((1024, 8)), 31),  # M != n²
        (np.zeros((16, 1)), 4),  # D < 2
        (np.zeros((4, 4)), 2),  # n < 3
        (np.full((16, 3), np.inf), 4),
        (np.zeros((16, 3, 1)), 4),
    ],
)
def test_ring_statistics_rejects_bad_input(X, n):
    with pytest.raises(ValueError):
        geo.ring_statistics(X, n)


def test_coding_parallelism_alternative(tori):
    cl, t3 = tori["clifford"], tori["3d"]
    ring_par = geo.ring_statistics(t3, N)
    np.testing.assert_allclose(
        geo.coding_parallelism(t3, N, feature="y", steps=(1,)),
        ring_par["y-on-y"]["parallelism"],
        atol=1e-12,
    )
    np.testing.assert_allclose(geo.coding_parallelism(cl, N, feature="x"), 1.0, atol=1e-10)
    np.testing.assert_allclose(geo.coding_parallelism(cl, N, feature="y"), 1.0, atol=1e-10)
    # the documented blind spot: the 3D torus's x code is a scaled copy at every y
    np.testing.assert_allclose(geo.coding_parallelism(t3, N, feature="x"), 1.0, atol=1e-10)
    assert geo.coding_parallelism(t3, N, feature="y").mean() < 0.6
    assert geo.coding_parallelism(cl, N, feature="x", periodic=False).shape == (496,)
    with pytest.raises(ValueError):
        geo.coding_parallelism(cl, N, feature="z")
    with pytest.raises(ValueError):
        geo.coding_parallelism(cl, N, steps=(N,))


# ---------------------------------------------------------------------------------------------
# persistent homology (Fig 2b)


def _circle(m, centre=(0.0, 0.0), radius=1.0):
    a = 2 * np.pi * np.arange(m) / m
    return np.stack([centre[0] + radius * np.cos(a), centre[1] + radius * np.sin(a)], axis=1)


def test_long_lived_rule_on_hand_made_diagrams():
    dgms = [
        np.array([[0, 0.1], [0, 0.12], [0, 0.11], [0, 0.9], [0, np.inf]]),
        np.array([[0.1, 1.1], [0.1, 0.9], [0.2, 0.5], [0.2, 0.25]]),
        np.array([[0.5, 1.0], [0.6, 0.65]]),
    ]
    # L = 1.0 (H1), threshold 0.5: H1 bars 1.0, 0.8; H2 bar 0.5 is not > 0.5
    assert geo.long_lived(dgms) == [2, 2, 0]
    assert geo.long_lived(dgms, rel=0.4) == [2, 2, 1]
    assert geo.long_lived({"dgms": dgms[:1]}) == [2]  # H0 only
    assert geo.long_lived([dgms[0], np.zeros((0, 2))]) == [2, 0]


@pytest.mark.parametrize(
    "dgms",
    [
        [],
        [np.array([[0.0, 1.0, 2.0]])],
        [np.array([[1.0, 0.5]])],
        {"x": 1},
        [np.array([[np.nan, 1.0]])],
    ],
)
def test_long_lived_rejects_bad_input(dgms):
    with pytest.raises(ValueError):
        geo.long_lived(dgms)


def test_persistence_of_circles():
    pytest.importorskip("ripser")
    res = geo.persistence(_circle(60), n_perm=None)
    assert geo.long_lived(res) == [1, 1, 0]
    assert (res["n_perm"], res["pca_dim"], res["r_cover"]) == (60, 2, 0.0)
    two = np.r_[_circle(40), _circle(40, centre=(5.0, 0.0))]
    assert geo.long_lived(geo.persistence(two, maxdim=1, n_perm=None)) == [2, 2]


def test_persistence_of_tori(tori):
    """Fig 2b: a torus has one H0, two long-lived H1 and one long-lived H2 feature."""
    pytest.importorskip("ripser")
    t0 = time.perf_counter()
    res = geo.persistence(tori["3d"], maxdim=2, n_perm=200, seed=0)
    assert geo.long_lived(res) == [1, 2, 1]
    assert (res["n_perm"], res["pca_dim"], res["maxdim"], res["n_points"]) == (200, 3, 2, N * N)
    assert res["idx_perm"].shape == (200,) and len(np.unique(res["idx_perm"])) == 200
    assert 0 < res["r_cover"] < 0.5
    cl = geo.embed(tori["clifford"], 64, noise=0.01, seed=1)  # PCA 64 -> 10 dims first
    res = geo.persistence(cl, maxdim=2, n_perm=150, seed=0)
    assert geo.long_lived(res) == [1, 2, 1]
    assert res["pca_dim"] == 10 and res["scale"] > 0
    assert time.perf_counter() - t0 < 30


def test_persistence_rejects_bad_input():
    with pytest.raises(ValueError):
        geo.persistence(np.zeros((10, 3)))  # zero variance
    with pytest.raises(ValueError):
        geo.persistence(np.eye(5), n_perm=2)
    with pytest.raises(ValueError):
        geo.persistence(np.eye(5), maxdim=-1)
    with pytest.raises(ValueError):
        geo.persistence(np.eye(5), pca_dim=0)


# ---------------------------------------------------------------------------------------------
# UMAP (Fig 11c, Fig 15)


@pytest.mark.slow  # umap-learn's first call compiles its numba kernels (~20 s on 2 busy cores)
def test_umap_embed_is_deterministic_with_a_seed():
    pytest.importorskip("umap")
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 2 * np.pi, 200)
    X = np.stack([np.cos(a), np.sin(a)], axis=1) + 0.05 * rng.normal(size=(200, 2))
    Y1 = geo.umap_embed(X, seed=0)
    Y2 = geo.umap_embed(X, seed=0)
    assert Y1.shape == (200, 2) and np.all(np.isfinite(Y1))
    # same seed, one thread: the same embedding (compared by summaries, not coordinates)
    np.testing.assert_allclose(
        [Y1.mean(0), Y1.std(0)], [Y2.mean(0), Y2.std(0)], rtol=1e-6, atol=1e-6
    )
    Y3 = geo.umap_embed(geo.embed(X, 64, noise=0.0), pca_dim=50, n_components=3)
    assert Y3.shape == (200, 3) and np.all(np.isfinite(Y3))


@pytest.mark.parametrize(
    "kwargs",
    [{"n_neighbors": 1}, {"n_neighbors": 20}, {"min_dist": -1.0}, {"init": "tsne"}, {"pca_dim": 0}],
)
def test_umap_embed_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        geo.umap_embed(np.random.default_rng(0).normal(size=(20, 3)), **kwargs)


def test_umap_leaves_torch_threads_alone():
    """umap-learn resets the shared OpenMP thread count; umap_embed restores torch's setting."""
    import torch

    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        x = np.random.default_rng(0).standard_normal((60, 4))
        geo.umap_embed(x, n_neighbors=5)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(n)
