"""compdiff.percolation: overlaps, connection radius, site percolation of the training lattice."""

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from compdiff import percolation as perc


def test_overlap_analytic():
    assert perc.overlap_analytic(0.0, 0.7) == 1.0
    d = np.linspace(0, 5, 11)
    ov = perc.overlap_analytic(d, 1.0)
    assert np.all(np.diff(ov) < 0)
    np.testing.assert_array_equal(ov, perc.overlap_analytic(-d, 1.0))
    assert perc.overlap_analytic(2.0, 1.0) == pytest.approx(np.exp(-1.0))


def test_overlap_pixel_matches_analytic_only_for_wide_bumps():
    d = np.array([0.5, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(perc.overlap_pixel(d, 1.5), perc.overlap_analytic(d, 1.5), rtol=0.03)
    assert perc.overlap_pixel(0.0, 0.2) == pytest.approx(1.0)
    # σ = 0.2: the rendered bump is one pixel, so a one-pixel shift leaves almost no overlap
    assert perc.overlap_pixel(1.0, 0.2) < 0.1 * perc.overlap_analytic(1.0, 0.2)


def test_connection_radius_is_where_overlap_hits_threshold():
    r = perc.connection_radius(0.8, 0.005)
    assert perc.overlap_analytic(r, 0.8) == pytest.approx(0.005)
    assert perc.connection_radius(1.0, 0.005) == pytest.approx(2 * np.sqrt(np.log(200)))


def test_neighbour_offsets():
    assert len(perc.neighbour_offsets(0.3, 0.005)) == 2  # radius 1.38: nearest only
    assert (
        len(perc.neighbour_offsets(0.5, 0.005)) == 10
    )  # radius 2.3: half of 4 + 4 + 4 + 8 offsets
    assert len(perc.neighbour_offsets(0.2, 0.005)) == 0


def test_full_lattice_and_no_edges():
    assert perc.mass_ratio(1.0, 1.0, 0.005, trials=2) == pytest.approx(1.0)
    # σ tiny: no edges, every cluster is a single site: ratio = 1 / kept (≈ 1 / (λ L²))
    lam = np.array([0.25, 0.5])
    r = perc.mass_ratio(lam, 0.05, 0.005, L=16, trials=20)
    np.testing.assert_allclose(r, 1 / (lam * 256), rtol=0.15)
    assert perc.mass_ratio(1.0, 0.05, 0.005, L=16, trials=1, denominator="all") == pytest.approx(
        1 / 256
    )


def test_mass_ratio_matches_brute_force():
    """Against direct components of each (trial, λ) graph, on the same random field (one uniform
    field per trial from Generator(seed), site kept iff U < λ)."""
    L, trials, seed, lam = 10, 3, 7, np.array([0.3, 0.6, 0.9])
    sigma, threshold = 0.6, 0.01  # radius 2.6: offsets up to (2, 1)
    U = np.random.default_rng(seed).random((trials, L * L))
    pos = np.stack(np.meshgrid(np.arange(L), np.arange(L), indexing="xy"), -1).reshape(-1, 2)
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    linked = perc.overlap_analytic(dist, sigma) > threshold
    expect = np.zeros((trials, len(lam)))
    for t in range(trials):
        for k, lm in enumerate(lam):
            kept = np.flatnonzero(U[t] < lm)
            a = linked[np.ix_(kept, kept)]
            _, comp = connected_components(coo_matrix(a), directed=False)
            expect[t, k] = np.bincount(comp).max() / len(kept)
    got = perc.mass_ratio(lam, sigma, threshold, L=L, trials=trials, seed=seed)
    np.testing.assert_allclose(got, expect.mean(axis=0))


def test_site_percolation_thresholds():
    """Nearest-neighbour links give the square-lattice site threshold 0.5927; adding diagonals
    lowers it to 0.4073 (L = 128, 12 trials)."""
    lam = np.round(np.arange(0.40, 0.80, 0.02), 2)
    nn = perc.mass_ratio(lam, L=128, trials=12, neighbours="nearest")
    assert abs(perc.crossing(lam, nn) - perc.SITE_PERCOLATION_THRESHOLD) < 0.03
    assert nn[lam == 0.5][0] < 0.1 and nn[lam == 0.7][0] > 0.9
    lam2 = np.round(np.arange(0.30, 0.52, 0.02), 2)
    nnn = perc.mass_ratio(lam2, L=128, trials=12, neighbours="next-nearest")
    assert abs(perc.crossing(lam2, nnn) - perc.NNN_PERCOLATION_THRESHOLD) < 0.03


def test_wider_bumps_percolate_earlier():
    lam = np.linspace(0.05, 1.0, 20)
    curves = perc.mass_ratio_curves([0.3, 0.5, 1.0], lam, 0.005, trials=10)
    assert curves.shape == (3, 20)
    x = perc.crossing(lam, curves)
    assert x[0] > x[1] > x[2]


def test_seed_determinism():
    lam = [0.4, 0.6]
    a = perc.mass_ratio(lam, 0.5, 0.05, trials=5, seed=1)
    np.testing.assert_array_equal(a, perc.mass_ratio(lam, 0.5, 0.05, trials=5, seed=1))
    assert not np.array_equal(a, perc.mass_ratio(lam, 0.5, 0.05, trials=5, seed=2))


def test_crossing():
    lam = np.array([0.1, 0.2, 0.3, 0.4])
    assert perc.crossing(lam, [0.0, 0.2, 0.6, 1.0]) == pytest.approx(0.275)
    assert np.isnan(perc.crossing(lam, [0.0, 0.1, 0.2, 0.3]))
    assert perc.crossing(lam, [0.7, 0.8, 0.9, 1.0]) == pytest.approx(0.1)
    np.testing.assert_allclose(perc.crossing(lam, [[0, 0, 1, 1], [0, 1, 1, 1]]), [0.25, 0.15])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: perc.mass_ratio(0.0, 1.0, 0.01), "keep_fraction"),
        (lambda: perc.mass_ratio([0.5, 1.2], 1.0, 0.01), "keep_fraction"),
        (lambda: perc.mass_ratio(0.5, -1.0, 0.01), "sigma"),
        (lambda: perc.mass_ratio(0.5, 1.0, 1.0), "threshold"),
        (lambda: perc.mass_ratio(0.5, 1.0, 0.0), "threshold"),
        (lambda: perc.mass_ratio(0.5, 1.0, 0.01, denominator="sites"), "denominator"),
        (lambda: perc.mass_ratio(0.5, neighbours="third"), "neighbours"),
        (lambda: perc.mass_ratio(0.5, 1.0, 0.01, trials=0), "trials"),
        (lambda: perc.overlap_analytic(1.0, 0.0), "sigma"),
        (lambda: perc.connection_radius(1.0, 2.0), "threshold"),
    ],
)
def test_bad_arguments_name_themselves(call, name):
    with pytest.raises(ValueError, match=name):
        call()
