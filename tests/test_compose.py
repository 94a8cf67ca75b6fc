"""The composition experiments of Figs 4, 10, 11, 12: configs, data, region scoring, sweeps."""

import numpy as np
import pytest

from compdiff import data, datasets, evaluate, experiments, runs, sampling, store
from compdiff.experiments import ComposeRunConfig, ConfigError


def _base():
    b = experiments.compose_base("smoke", 0)
    return b


def test_sweep_names_and_grids():
    cpu = experiments.compose_sweep("cpu")
    assert {"fig04_sos_cross", "fig04_stripes", "fig04_sos_stripes", "fig10_stripes_norim"} <= set(cpu)
    assert sorted(c.lesion_width for c in cpu.values() if c.dataset == "bump_lesion") == [1.0, 3.5, 8.0]
    assert cpu["fig10_stripes_norim"].rim is False and cpu["fig04_stripes"].rim is True
    # the lesion models record their representation (Fig 11c); no other does
    assert all((c.representation is not None) == (c.dataset == "bump_lesion") for c in cpu.values())
    # every run of a sweep is a distinct run
    ids = [store.run_id(c) for c in cpu.values()]
    assert len(set(ids)) == len(ids)
    assert cpu["fig04_sos_cross"].kind == "sos" and cpu["fig04_sos_cross"].canvas == 44
    assert cpu["fig11_lesion1"].kind == "bump" and cpu["fig11_lesion1"].canvas is None
    assert cpu["fig04g_keep0.2"].kind == "mixed"


@pytest.mark.parametrize("field,value,match", [
    ("dataset", "swirls", "ComposeRunConfig.dataset"),
    ("hole", "middle", "ComposeRunConfig.hole"),
    ("keep_fraction", 0.0, "ComposeRunConfig.keep_fraction"),
    ("keep_fraction", 1.5, "ComposeRunConfig.keep_fraction"),
    ("rim", "yes", "ComposeRunConfig.rim"),
    ("train_label_eval", -1, "ComposeRunConfig.train_label_eval"),
    ("rim_keep_fraction", 0.0, r"ComposeRunConfig.rim_keep_fraction = 0.0 must be a finite number in \(0, 1\]"),
    ("rim_keep_fraction", 1.5, "ComposeRunConfig.rim_keep_fraction"),
    ("rim_keep_fraction", 0.5, "rim_keep_fraction = 0.5 is the share of the rim labels kept: it needs dataset"),
])
def test_bad_fields_are_named(field, value, match):
    with pytest.raises(ConfigError, match=match):
        ComposeRunConfig(**{field: value}, **_base())


def test_sweep_specific_fields_are_required():
    with pytest.raises(ConfigError, match="lesion_width"):
        ComposeRunConfig(dataset="bump_lesion", **_base())
    with pytest.raises(ConfigError, match="hole_width"):
        ComposeRunConfig(dataset="sos_hole", **_base())
    with pytest.raises(ConfigError, match="n = 16"):
        ComposeRunConfig(n=16, **_base())
    with pytest.raises(ConfigError, match="periodic"):
        ComposeRunConfig(periodic=True, **_base())


def test_region_masks_and_training_sets():
    b = _base()
    ds, labels, masks, _ = datasets.compose_data(ComposeRunConfig(dataset="sos_cross", **b))
    assert labels.shape == (1024, 2) and labels.min() == 6 and labels.max() == 37  # latent units
    # the cross 13–19 (7 values) on either axis of the 32×32 frame
    assert masks["ood"].sum() == 2 * 7 * 32 - 49 and masks["intersection"].sum() == 49
    assert len(ds.labels) == 1024 - masks["ood"].sum()
    assert not (masks["vertical"] & masks["horizontal"]).any()

    norim = datasets.compose_data(ComposeRunConfig(dataset="stripes", rim=False, **b))[0]
    rim = datasets.compose_data(ComposeRunConfig(dataset="stripes", rim=True, **b))[0]
    # no training image of the pure stripe set shows both stripes; the rim adds some that do
    both = lambda d: data.in_frame(d.labels[:, 0], offset=6.0) & data.in_frame(d.labels[:, 1], offset=6.0)
    assert not both(norim).any() and not both(rim).any()
    assert len(rim.labels) > len(norim.labels) and rim.masks["rim"].sum() == len(rim.labels) - len(norim.labels)

    ds, labels, masks, _ = datasets.compose_data(ComposeRunConfig(dataset="bump_lesion", lesion_width=3.5, **b))
    assert masks["ood"].sum() == 3 * 32  # μx ∈ {15, 16, 17}
    assert len(ds.labels) == 1024 - 96 and not data.lesion_mask(ds.labels, 3.5).any()

    for hole, w in (("interior", 4.0), ("exterior", 12.0)):
        ds, labels, masks, _ = datasets.compose_data(ComposeRunConfig(dataset="sos_hole", hole=hole, hole_width=w, **b))
        assert masks["ood"].sum() == w * w and len(ds.labels) == 1024 - w * w

    ds, labels, masks, _ = datasets.compose_data(ComposeRunConfig(dataset="bump_stripes", keep_fraction=0.2, **b))
    assert masks["id"].sum() == round(0.2 * 1024) == ds.masks["bump_2d"].sum()


@pytest.mark.parametrize("name", ["fig04_sos_cross", "fig04g_keep0.2", "fig11_lesion3.5", "fig12_sos_interior8"])
def test_the_scorer_passes_true_images_and_fails_blank_ones(name):
    cfg = experiments.compose_sweep("smoke")[name]
    _, labels, _, score = datasets.compose_data(cfg)
    kind = "bump" if cfg.kind == "mixed" else cfg.kind
    truth = data.render(kind, labels, cfg.sigma, canvas=cfg.canvas)
    assert np.mean(score(truth, labels).correct) == 1.0
    assert np.mean(score(np.zeros_like(truth), labels).correct) == 0.0
    shifted = np.roll(truth, 3, axis=-1)  # every bump or vertical stripe 3 px off in x
    assert np.mean(score(shifted, labels).correct) == 0.0


def test_failure_modes_of_sos_readings():
    labels = data.lattice(32, 1.0, start=6.0)[:50]
    imgs = data.render("sos", labels, 1.0, canvas=44)
    imgs[:10] = np.roll(imgs[:10], 4, axis=-2)  # y read 4 px off
    s = evaluate.sos_accuracy(imgs, labels)
    fm = sampling.failure_modes(s)
    assert fm == {"x_wrong": 0, "y_wrong": 10, "correct": 40}


def test_sweep_trains_scores_stores_and_replays(tmp_store, monkeypatch):
    b = _base()
    small = experiments.replace(b["train"], images=320, checkpoint_every_images=(160, 320))
    ev = experiments.replace(b["eval"], steps=3, grid_samples=4, curve_labels=16)
    cfgs = {"lesion": ComposeRunConfig(dataset="bump_lesion", lesion_width=3.5, train=small, eval=ev,
                                       **{k: b[k] for k in ("unet", "diffusion")}),
            "stripes": ComposeRunConfig(dataset="stripes", rim=False, train=small, eval=ev, train_label_eval=8,
                                        **{k: b[k] for k in ("unet", "diffusion")})}
    with pytest.raises(ConfigError, match="unknown run"):
        runs.get_sweep("compose", cfgs, device="cpu", progress=False, only=["nope"])
    got = runs.get_sweep("compose", cfgs, device="cpu", progress=False, max_models=2)
    m = got["lesion"].json("metrics")
    assert [c["images"] for c in m["curve"]] == [160, 320]
    assert m["region_sizes"] == {"ood": 96, "id": 928} and set(m["regions"]) == {"overall", "ood", "id"}
    assert 0.0 <= m["regions"]["ood"] <= 1.0
    ms = got["stripes"].json("metrics")
    assert ms["train_1d_labels"] == 8 and ms["regions"]["id"] is None and ms["region_sizes"]["ood"] == 1024
    assert set(ms["regions"]) >= {"vertical", "horizontal", "intersection"}
    s = got["stripes"].arrays("samples")
    assert s["mask_intersection"].sum() == 49
    # trained together in one batch, each run alone in its own folder; a replay needs no training
    monkeypatch.setenv("COMPDIFF_NO_TRAIN", "1")
    again = runs.get_sweep("compose", cfgs, device="cpu", progress=False)
    assert again["lesion"].path == got["lesion"].path


def test_sweep_batch_size(monkeypatch):
    monkeypatch.delenv("COMPDIFF_SWEEP_MODELS", raising=False)
    assert runs.sweep_batch_size("cpu") == 1
    monkeypatch.setenv("COMPDIFF_SWEEP_MODELS", "4")
    assert runs.sweep_batch_size("cpu") == 4
    monkeypatch.setenv("COMPDIFF_SWEEP_MODELS", "four")
    with pytest.raises(ConfigError, match="COMPDIFF_SWEEP_MODELS"):
        runs.sweep_batch_size("cpu")


def test_compact_cloud_keeps_the_geometry():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 300)) + 5.0  # rank 8 in 300 dims
    C, kept = sampling.compact_cloud(X, 16)
    assert C.shape == (200, 16) and C.dtype == np.float16 and kept == pytest.approx(1.0, abs=1e-9)
    d = lambda A: np.linalg.norm(A[:, None] - A[None], axis=-1)
    assert np.allclose(d(C.astype(np.float64)), d(X), rtol=5e-3, atol=5e-2)
    C2, kept2 = sampling.compact_cloud(X, 4)  # dropping real variance is reported
    assert kept2 < 0.99
    full, k = sampling.compact_cloud(X, None)
    assert full.shape == X.shape and k == 1.0


def test_every_dataset_has_one_registry_entry():
    assert set(datasets.DATASETS) == set(experiments.COMPOSE_DATASETS)


def test_cloud_keys_are_written_and_read_in_one_place():
    from compdiff import clouds

    assert clouds.key(3, 0) == "s3_t0" and clouds.parse_key("s3_t980") == (3, 980)
    assert clouds.parse_key("labels") is None and clouds.parse_key("s1_t") is None
    arrays = {"images": np.array([10, 20]), "labels": np.zeros((4, 2)),
              clouds.key(0, 0): np.ones((4, 3)), clouds.key(1, 0): 2 * np.ones((4, 3)), clouds.key(1, 999): np.zeros((4, 3))}
    c = clouds.Clouds(arrays)
    assert c.images == [10, 20] and c.cloud().mean() == 2 and c.cloud(0).mean() == 1
    assert [x.mean() for x in c.series()] == [1, 2] and c.timesteps() == [999, 0] and c.timesteps(0) == [0]
    with pytest.raises(KeyError, match="no cloud at snapshot 0, t = 999"):
        c.cloud(0, 999)
