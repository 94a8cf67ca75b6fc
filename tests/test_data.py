"""compdiff.data: rendering conventions, lattices, splits, dataset builders, argument checks."""

import numpy as np
import pytest

from compdiff import data


def test_shapes_and_dtypes():
    labels = data.lattice(4, 2.0, start=10.0)
    for kind, canvas in [("bump", None), ("bump", 44), ("sos", 44), ("sos", None), ("mixed", 44)]:
        img = data.render(kind, labels, 1.0, canvas=canvas)
        assert img.shape == (16, 32, 32) and img.dtype == np.float32
        assert img.min() >= 0 and img.max() <= 1
    assert data.render_bumps(3.0, 4.0, 1.0, frame=8).shape == (1, 8, 8)
    assert data.render_stripes([5.0, 6.0], 1.0, "vertical", frame=16, canvas=20).shape == (
        2,
        16,
        16,
    )


def test_bump_peak_sits_at_the_label():
    img = data.render_bumps([5.0], [9.0], 1.0)[0]
    row, col = np.unravel_index(img.argmax(), img.shape)
    assert (row, col) == (9, 5) and img[9, 5] == pytest.approx(1.0)  # row = y, col = x
    # a half-integer label sits between two pixels, which must be equal (symmetry)
    img = data.render_bumps([5.5], [9.0], 1.0)[0]
    assert img[9, 5] == pytest.approx(img[9, 6]) and img[9, 5] == img.max()
    assert img[9, 5] == pytest.approx(np.exp(-0.25 / 2))


def test_latent_label_crops_to_frame_label():
    latent = data.render_bumps([22.0], [22.0], 1.0, canvas=44)
    frame = data.render_bumps([16.0], [16.0], 1.0)
    np.testing.assert_array_equal(latent, frame)
    assert data.frame_offset(32, 44) == 6 and data.frame_offset(32, None) == 0


def test_render_then_crop_is_what_we_compute():
    # evaluating at the frame's latent coordinates equals drawing the canvas, then cropping
    mu = np.array([[3.0, 40.0], [22.5, 7.25]])
    canvas = data.render("sos", mu, 1.3, frame=44, canvas=None)
    np.testing.assert_allclose(
        data.render("sos", mu, 1.3, canvas=44), canvas[:, 6:38, 6:38], atol=1e-7
    )


def test_transpose_symmetry():
    mx, my = np.array([3.2, 20.0]), np.array([11.7, 5.5])
    for fn in (data.render_bumps, data.render_sos):
        np.testing.assert_array_equal(fn(mx, my, 1.0), np.swapaxes(fn(my, mx, 1.0), 1, 2))
    np.testing.assert_array_equal(
        data.render_stripes([12.0], 1.0, "vertical"),
        data.render_stripes([12.0], 1.0, "horizontal").transpose(0, 2, 1),
    )


def test_periodic_wrap():
    a = data.render_bumps([3.0], [7.0], 1.0, periodic=True)
    b = data.render_bumps([35.0], [-25.0], 1.0, periodic=True)
    np.testing.assert_allclose(a, b, atol=1e-6)
    edge = data.render_bumps([0.0], [16.0], 1.0, periodic=True)[0]
    assert edge[16, 31] == pytest.approx(np.exp(-0.5))  # mass on the opposite edge
    assert data.render_bumps([0.0], [16.0], 1.0)[0, 16, 31] < 1e-6  # and none without wrap


def test_sos_normalisation_and_dimensionality():
    two_d = data.render_sos([20.0], [15.0], 1.0, canvas=44)[0]  # frame (14, 9)
    assert two_d.max() == pytest.approx(1.0) and two_d[9, 14] == pytest.approx(1.0)
    assert data.SOS_NORMALISATION == 2.0
    one_d = data.render_sos([20.0], [1.0], 1.0, canvas=44)[0]  # y hidden → a vertical stripe only
    assert one_d.max() == pytest.approx(0.5, abs=1e-5)  # + the hidden stripe's 2e-6 tail
    np.testing.assert_allclose(one_d, one_d[0][None, :].repeat(32, 0), atol=1e-5)
    zero_d = data.render_sos([1.0], [43.0], 1.0, canvas=44)[0]
    assert zero_d.max() < 1e-5


def test_mixed_renders_bump_stripe_or_blank():
    lab = np.array([[20.0, 15.0], [20.0, 1.0], [1.0, 15.0], [1.0, 1.0]])
    img = data.render("mixed", lab, 1.0, canvas=44)
    np.testing.assert_array_equal(img[0], data.render_bumps([20.0], [15.0], 1.0, canvas=44)[0])
    np.testing.assert_allclose(img[1], data.render_stripes([20.0], 1.0, "vertical")[0])
    np.testing.assert_allclose(img[2], data.render_stripes([15.0], 1.0, "horizontal")[0])
    assert img[3].max() == 0


def test_visibility_classes():
    u = np.array([2.9, 3.0, 5.9, 6.0, 37.0, 37.1, 40.0, 40.1])
    np.testing.assert_array_equal(
        data.visibility(u, 1.0),
        [
            data.HIDDEN,
            data.RIM,
            data.RIM,
            data.IN_FRAME,
            data.IN_FRAME,
            data.RIM,
            data.RIM,
            data.HIDDEN,
        ],
    )


def test_lattice_count_spacing_and_order():
    lab = data.lattice(32)
    assert lab.shape == (1024, 2) and lab.dtype == np.float64
    assert lab[1].tolist() == [1.0, 0.0] and lab[32].tolist() == [0.0, 1.0]  # x fastest
    assert lab.min() == 0 and lab.max() == 31
    fine = data.frame_lattice(0.5, canvas=44)
    assert fine.shape == (4096, 2) and fine.min() == 6 and fine.max() == 37.5
    assert np.allclose(np.diff(np.unique(fine[:, 0])), 0.5)
    assert data.canvas_lattice().shape == (44 * 44, 2)


def test_cross_counts_frame_and_latent():
    for labels, offset in [(data.lattice(32), 0.0), (data.frame_lattice(canvas=44), 6.0)]:
        m = data.cross_masks(labels, offset=offset)
        counts = {k: int(v.sum()) for k, v in m.items()}
        assert counts == {"vertical": 175, "horizontal": 175, "intersection": 49, "cross": 399}
    assert not (m["vertical"] & m["horizontal"]).any()


def test_square_and_lesion_counts():
    lab = data.lattice(32)
    interior = data.interior_square_mask(lab, 4)
    assert interior.sum() == 16 and set(lab[interior, 0]) == {14, 15, 16, 17}
    exterior = data.exterior_square_mask(lab, 4)
    assert exterior.sum() == 16 and set(lab[exterior, 1]) == {28, 29, 30, 31}
    assert data.interior_square_mask(data.frame_lattice(canvas=44), 4, offset=6).sum() == 16
    fine = data.lattice(64, 0.5)
    assert data.lesion_mask(fine, 1.0).sum() == 64  # only μx = 16
    assert data.lesion_mask(fine, 3.5).sum() == 7 * 64  # 14.5 … 17.5


def test_stripe_masks_and_dataset_sizes():
    lab = data.canvas_lattice()
    m = data.stripe_label_masks(lab, 1.0)
    # per axis: 32 in frame, 3 + 3 hidden (0–2, 41–43), 3 + 3 rim (3–5, 38–40)
    assert m["vertical_1d"].sum() == 32 * 6 and m["rim"].sum() == 2 * 32 * 6
    assert m["in_frame_2d"].sum() == 1024
    no_rim = data.stripe_dataset(1.0, rim=False)
    with_rim = data.stripe_dataset(1.0, rim=True)
    assert len(no_rim.labels) == 384 and len(with_rim.labels) == 768
    assert with_rim.masks["rim"].sum() == 384 and with_rim.images.dtype == np.float32
    union = data.sos_stripe_union_dataset(1.0, rim=False)
    assert len(union.labels) == (1024 - 399) + 384
    assert union.masks["sos_2d"].sum() == 625 and union.masks["stripes"].sum() == 384
    assert union.masks["pure_1d"].sum() == 384


def test_rim_share_keeps_a_seeded_share_of_each_rim_orientation():
    """Fig 10's rim sweep: p keeps round(p·192) labels of each rim orientation, never drops a 1D label,
    is the same for the same seed, and a smaller share keeps a subset of a larger one's."""
    full = data.stripe_dataset(1.0, rim=True)
    key = lambda ds: {tuple(v) for v in ds.labels.tolist()}
    kept = {}
    for p, k in ((0.5, 96), (0.2, 38), (0.05, 10), (0.01, 2)):
        ds = data.stripe_dataset(1.0, rim=True, rim_keep_fraction=p, rim_seed=0)
        assert ds.masks["vertical_rim"].sum() == ds.masks["horizontal_rim"].sum() == k
        assert ds.masks["pure_1d"].sum() == 384 and len(ds.labels) == 384 + 2 * k
        assert key(ds) <= key(full)
        again = data.stripe_dataset(1.0, rim=True, rim_keep_fraction=p, rim_seed=0)
        np.testing.assert_array_equal(ds.labels, again.labels)
        kept[p] = key(ds)
    assert kept[0.01] < kept[0.05] < kept[0.2] < kept[0.5]
    other = data.stripe_dataset(1.0, rim=True, rim_keep_fraction=0.2, rim_seed=1)
    assert key(other) != kept[0.2] and len(other.labels) == len(data.stripe_dataset(1.0, rim_keep_fraction=0.2).labels)
    # p = 1 is the whole rim, unchanged (and no draw)
    whole = data.stripe_dataset(1.0, rim=True, rim_keep_fraction=1.0, rim_seed=5)
    np.testing.assert_array_equal(whole.labels, full.labels)
    with pytest.raises(ValueError, match="rim_keep_fraction = 0.5 needs rim=True"):
        data.stripe_dataset(1.0, rim=False, rim_keep_fraction=0.5)
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="keep_fraction"):
            data.stripe_dataset(1.0, rim=True, rim_keep_fraction=bad)
    with pytest.raises(ValueError, match="seed"):
        data.stripe_dataset(1.0, rim=True, rim_keep_fraction=0.5, rim_seed=-1)


def test_builders():
    per = data.periodic_bump_dataset(1.0)
    assert per.labels.shape == (1024, 2) and per.labels.dtype == np.float32
    assert per.images[0, 0, 31] > 0.5  # label (0, 0) wraps
    holdout = data.interior_square_mask(data.lattice(32), 8)
    bumps = data.bump_dataset(1.0, holdout=holdout)
    assert len(bumps.labels) == 1024 - 64
    mixed = data.mixed_dataset(1.0, keep=data.subsample_mask(1024, 0.1, 0))
    assert mixed.masks["bump_2d"].sum() == 102 and mixed.masks["stripe_1d"].sum() == 384
    assert np.allclose(mixed.images[mixed.masks["stripe_1d"]].max(axis=(1, 2)), 1.0)


def test_subsample_mask():
    m = data.subsample_mask(1024, 0.1, seed=3)
    assert m.sum() == 102 and m.dtype == bool
    np.testing.assert_array_equal(m, data.subsample_mask(1024, 0.1, seed=3))
    assert not np.array_equal(m, data.subsample_mask(1024, 0.1, seed=4))
    assert data.subsample_mask(10, 0.01, 0).sum() == 1 and data.subsample_mask(10, 1.0, 0).all()


def test_model_range_round_trip():
    x = np.linspace(0, 1, 5)
    np.testing.assert_allclose(data.from_model_range(data.to_model_range(x)), x)
    assert data.to_model_range(np.array([0.0, 1.0])).tolist() == [-1.0, 1.0]


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: data.render_bumps([1.0], [1.0], 0.0), "sigma"),
        (lambda: data.render_bumps([1.0], [1.0], -1.0), "sigma"),
        (lambda: data.render_bumps([1.0], [1.0], 1.0, canvas=30), "canvas"),
        (lambda: data.render_bumps([1.0], [1.0], 1.0, canvas=45), "canvas"),
        (lambda: data.render_bumps([1.0], [1.0], 1.0, canvas=44, periodic=True), "canvas"),
        (lambda: data.render_bumps([np.nan], [1.0], 1.0), "mu_x"),
        (lambda: data.render_bumps([1.0, 2.0], [1.0], 1.0), "mu_y"),
        (lambda: data.render("blob", np.zeros((1, 2)), 1.0), "kind"),
        (lambda: data.render("bump", np.zeros((3,)), 1.0), "labels"),
        (lambda: data.render("bump", np.array([[0.0, np.inf]]), 1.0), "labels"),
        (lambda: data.render_stripes([1.0], 1.0, "diagonal"), "orientation"),
        (lambda: data.subsample_mask(10, 0.0, 0), "keep_fraction"),
        (lambda: data.subsample_mask(10, 1.5, 0), "keep_fraction"),
        (lambda: data.interior_square_mask(data.lattice(4), 0), "width"),
        (lambda: data.exterior_square_mask(data.lattice(4), 40), "width"),
        (lambda: data.lesion_mask(data.lattice(4), -1.0), "lesion_width"),
        (lambda: data.lesion_mask(data.lattice(4), 33.0), "lesion_width"),
        (lambda: data.lattice(0), "n"),
        (lambda: data.frame_lattice(0.7), "d"),
        (lambda: data.bump_dataset(1.0, holdout=np.zeros(5, bool)), "holdout"),
        (lambda: data.visibility([1.0], 1.0, rim_sigmas=-1), "rim_sigmas"),
    ],
)
def test_bad_arguments_name_themselves(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_same_renderings_finds_one_pixel_widths():
    """σ = 0.1 and 0.25 draw the same one-pixel bumps on integer centres; wider σ differ."""
    assert data.same_renderings((0.1, 0.25, 0.5, 0.75, 1.0)) == [(0.1, 0.25)]
    assert data.same_renderings((0.25, 0.5)) == []
    with pytest.raises(ValueError, match="sigma"):
        data.same_renderings((0.0, 1.0))
