"""Every model-based claim's check, tried on planted runs: the phenomenon, its null, an
unconverged run and a single seed must read reproduced / not reproduced / undecided / provisional.

A planted run is a stored run of the `cpu` profile's real config whose samples are chosen, label
by label, from the run's own baselines (:mod:`compdiff.baselines`): ``truth`` (a perfect model),
``memoriser`` (the nearest training label's image), or anything else; nothing is trained.
"""

import re

import numpy as np
import pytest

from compdiff import baselines, claims, clouds, datasets, experiments, geometry, query, store

SEEDS = (0, 1, 2)


_DATA: dict = {}


def _data(cfg):
    """(training-set size, evaluation labels, region masks, baselines) of a config, computed once
    per data config (the training seed does not change them)."""
    key = claims._data_key(cfg)
    if key not in _DATA:
        if hasattr(cfg, "dataset"):
            ds, labels, masks, _ = datasets.compose_data(cfg)
        else:
            (ds, labels, _), masks = datasets.bump_run_data(cfg), {}
        _DATA[key] = (len(ds.labels), labels, masks, baselines.baselines(cfg))
    return _DATA[key]


def plant(experiment, cfg, correct, *, cloud=None, train_accuracy=None, x_shift=None):
    """Store a run of ``cfg`` whose samples are right exactly where ``correct`` says, each bump at
    its label (``x_shift``: moved by that many pixels along x, per label; within the ±1 px tolerance
    a shifted right sample stays right, as a copy of a neighbouring training label would be)."""
    n_train, labels, masks, _ = _data(cfg)
    correct = np.asarray(correct, bool)
    n_bumps = np.where(correct, 1, 0).astype(np.int16)
    x_hat = labels[:, 0] + (0 if x_shift is None else np.asarray(x_shift, np.float64))
    samples = {"labels": labels, "correct": correct, "x_hat": x_hat.astype(np.float32),
               "y_hat": labels[:, 1].astype(np.float32), "n_bumps": n_bumps,
               "grid_index": np.zeros(0, int), "grid_images": np.zeros((0, 4, 4), np.float16)}
    samples.update({f"mask_{k}": m for k, m in masks.items()})
    metrics = {"accuracy": float(correct.mean()), "n_eval_labels": len(labels), "n_train_images": n_train}
    if masks:
        metrics["regions"] = {k: (float(correct[m].mean()) if m.any() else None) for k, m in masks.items()}
        metrics["regions"]["overall"] = float(correct.mean())
        if not masks["id"].any():  # stripe models: their training labels are 1D, scored apart
            metrics["train_1d_accuracy"] = 1.0 if train_accuracy is None else train_accuracy
    artifacts = {"metrics": metrics, "samples": samples}
    if cloud is not None:
        artifacts["representations"] = {"images": np.array([1, 2]), "labels": labels,
                                        clouds.key(0, 0): cloud.astype(np.float16),
                                        clouds.key(1, 0): cloud.astype(np.float16)}
    return store.write(experiment, cfg, artifacts)


def _verdict(key):
    return claims.verdict(claims.measure_all("cpu", only=[key])[key])


def _points(figure, seed):
    return {p.name: p.config for _, p in query.points(figure, "cpu", seed=seed)}


def _model(cfg, kind):
    """Per-label correctness of a planted model: "truth", "memoriser", "none" (unconverged)."""
    b = _data(cfg)[3]
    return {"truth": b.truth, "memoriser": b.memoriser, "none": np.zeros_like(b.truth)}[kind]


# ---------------------------------------------------------------------------------------------
# bump generation (the basic experiment)


@pytest.mark.parametrize("model, seeds, expected", [
    ("truth", SEEDS, "reproduced"), ("blind", SEEDS, "undecided"), ("none", SEEDS, "undecided"),
    ("truth", (0,), "provisional")])
def test_bump_generation_planted(tmp_store, model, seeds, expected):
    """Every label is a training label here: the memoriser is the ceiling, and the null (a
    label-blind model) is by definition unconverged on its training labels, so it reads undecided
    (train longer), never reproduced."""
    for s in seeds:
        cfg = experiments.basic_config("cpu", seed=s)
        if model == "blind":  # a label-blind model: one bump at a random label
            correct = np.random.default_rng(s).random(1024) < 9 / 1024
        else:
            correct = _model(cfg, model)
        plant("basic", cfg, correct)
    assert _verdict("bump-generation") == expected


# ---------------------------------------------------------------------------------------------
# geometry of the periodic model (Figs 2, 3, 8)


def _hyper_torus(n=32, k=6, width=0.4):
    """A torus whose x-rings turn through k orthogonal planes as y goes round, and whose y-rings
    turn through k others as x goes round: x and y orthogonal, and no two distant rings of one
    feature aligned (median statistics x-on-y 0.17, x-on-x = y-on-y 0.06; two long-lived H₁)."""
    ang = np.arange(n) * 2 * np.pi / n
    th, ph = (a.ravel() for a in np.meshgrid(ang, ang, indexing="xy"))  # lattice order, x fastest

    def weights(t):
        d = np.angle(np.exp(1j * (t[:, None] - np.arange(k) * 2 * np.pi / k)))
        w = np.exp(-d ** 2 / (2 * width ** 2))
        return w / np.linalg.norm(w, axis=1, keepdims=True)

    a, b = weights(ph), weights(th)
    x_part = np.concatenate([a * np.cos(th)[:, None], a * np.sin(th)[:, None]], axis=1)
    y_part = np.concatenate([b * np.cos(ph)[:, None], b * np.sin(ph)[:, None]], axis=1)
    return np.concatenate([x_part, y_part], axis=1)


def _cloud(kind, dim=128):
    n = 32
    if kind == "hyper":
        return _hyper_torus(n)
    points = {"clifford": geometry.clifford_torus(n), "torus3d": geometry.torus_3d(n),
              "disc": np.c_[geometry.lattice_angles(n) / (2 * np.pi), np.zeros((n * n, 1))]}[kind]
    return geometry.embed(points, dim, noise=0.01, seed=0)


def _plant_periodic(kind, seeds=SEEDS, accuracy="truth", **ablation):
    for s in seeds:
        cfg = experiments.periodic_config("cpu", seed=s, **ablation)
        plant("periodic", cfg, _model(cfg, accuracy), cloud=_cloud(kind))


@pytest.mark.parametrize("key, good, bad", [
    ("torus-topology", "clifford", "disc"),
    ("clifford-dimension", "clifford", "torus3d"),
])
def test_geometry_claims_planted(tmp_store, tmp_path, monkeypatch, key, good, bad):
    _plant_periodic(good)
    assert _verdict(key) == "reproduced"
    monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_path / "null"))
    _plant_periodic(bad)
    assert _verdict(key) == "not reproduced"
    monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_path / "unconverged"))
    _plant_periodic(good, seeds=(0,), accuracy="none")
    assert _verdict(key) == "undecided"
    monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_path / "one"))
    _plant_periodic(good, seeds=(0,))
    assert _verdict(key) == "provisional"


def test_geometry_claims_show_the_ablations_and_judge_the_default_only(tmp_store):
    """Fig 2's ablations (issue 20) are read by each geometry claim's own check, shown beside it and
    never judged: a Clifford torus planted as the periodic-label ablation passes there while the
    default run, a disc, still reads not reproduced; no ablation stored, no line."""
    _plant_periodic("disc")
    assert all(not claims.measure_all("cpu", only=[k])[k].shown for k in ("torus-topology", "clifford-dimension"))
    _plant_periodic("clifford", label_encoding="periodic")
    _plant_periodic("disc", seeds=(0,), preset="small")
    for key in ("torus-topology", "clifford-dimension"):
        res = claims.measure_all("cpu", only=[key])[key]
        assert claims.verdict(res) == "not reproduced" and res.seeds == SEEDS
        shown = dict(res.shown)["ablations"]
        assert f"periodic label encoding: {len(SEEDS)} of {len(SEEDS)} seed(s) pass" in shown
        assert "small UNet (4× parameters): 0 of 1 seed(s) pass" in shown


def test_hyper_factorized_planted(tmp_store, tmp_path, monkeypatch):
    """A hyper-factorized torus passes; its nulls fail (a 3D torus: x-on-y 0.5; a Clifford torus:
    x-on-x 1). The passing torus spreads over 18 directions (ED 95%): it is not Clifford-like, so
    the two claims cannot both hold for one cloud under our checks."""
    _plant_periodic("hyper")
    assert _verdict("hyper-factorized") == "reproduced"
    assert _verdict("clifford-dimension") == "not reproduced"
    monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_path / "one"))
    _plant_periodic("hyper", seeds=(0,))
    assert _verdict("hyper-factorized") == "provisional"
    for i, bad in enumerate(("torus3d", "clifford")):
        monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_path / f"null{i}"))
        _plant_periodic(bad)
        assert _verdict("hyper-factorized") == "not reproduced"
    monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_path / "unconverged"))
    _plant_periodic("torus3d", accuracy="none")
    assert _verdict("hyper-factorized") == "undecided"


def test_clifford_rule_separates_the_planted_tori():
    c, t = geometry.pca_summary(_cloud("clifford")), geometry.pca_summary(_cloud("torus3d"))
    assert 3 <= c["var95"] <= 5 and c["participation"] >= claims.CLIFFORD_PR
    assert t["participation"] < claims.CLIFFORD_PR


# ---------------------------------------------------------------------------------------------
# composition, interpolation, holes (Figs 4, 10, 11, 12)


def _plant_figure(figure, models, seeds=SEEDS, train_accuracy=None):
    """Plant every run of ``figure``: ``models`` maps a run name to "truth", "memoriser" or "none"
    (default "truth")."""
    for s in seeds:
        for name, cfg in _points(figure, s).items():
            plant("compose", cfg, _model(cfg, models.get(name, "truth")), train_accuracy=train_accuracy)


def _reset(monkeypatch, tmp_path, name):
    monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_path / name))
    claims._NULLS.clear()


def test_composition_planted(tmp_store, tmp_path, monkeypatch):
    _plant_figure("fig04", {})
    _plant_figure("fig10", {"fig10_stripes_norim": "memoriser"})
    assert _verdict("composition") == "reproduced"
    # Fig 10's rim sweep is shown beside it, never judged: every share, every seed, with its memoriser
    res = claims.measure_all("cpu", only=["composition"])["composition"]
    rim = dict(res.shown)["rim size"]
    shares = sorted({c.rim_keep_fraction for c in _points("fig10", 0).values() if c.rim})
    assert all(f"; {p:g}: " in rim for p in shares) and rim.startswith("accuracy in the held-out cross")
    assert rim.count("(seeds 0, 1, 2)") == len(shares) + 1 and rim.count("(memoriser ") == len(shares) + 1
    _reset(monkeypatch, tmp_path, "null")
    _plant_figure("fig04", {n: "memoriser" for n in _points("fig04", 0)})
    _plant_figure("fig10", {n: "memoriser" for n in _points("fig10", 0)})
    assert _verdict("composition") == "not reproduced"
    _reset(monkeypatch, tmp_path, "unconverged")
    _plant_figure("fig04", {}, train_accuracy=0.2, seeds=(0,))
    _plant_figure("fig10", {}, train_accuracy=0.2, seeds=(0,))
    assert _verdict("composition") == "undecided"
    _reset(monkeypatch, tmp_path, "one")
    _plant_figure("fig04", {}, seeds=(0,))
    _plant_figure("fig10", {}, seeds=(0,))
    assert _verdict("composition") == "provisional"


def _stability(key):
    res = claims.measure_all("cpu", only=[key], stability=True)[key]
    return res, claims.stability_text(res)


def test_leave_one_seed_out_planted(tmp_store, tmp_path, monkeypatch):
    """Issue 20: each claim is judged again without each seed. Three seeds that agree are stable;
    one outlier seed that alone makes the verdict is named; one seed allows no such check. Tried
    through both ways a claim gathers its runs: by figure (composition) and by experiment (bump
    generation)."""
    _plant_figure("fig04", {})
    _plant_figure("fig10", {})
    res, text = _stability("composition")
    assert claims.verdict(res) == "reproduced" and res.left_out == {0: "reproduced", 1: "reproduced", 2: "reproduced"}
    assert text.startswith("stable when any one seed is left out")
    _reset(monkeypatch, tmp_path, "outlier")  # seed 1's union model only copies: it alone makes "partly"
    for s in SEEDS:
        _plant_figure("fig04", {"fig04_sos_stripes": "memoriser"} if s == 1 else {}, seeds=(s,))
        _plant_figure("fig10", {}, seeds=(s,))
    res, text = _stability("composition")
    assert claims.verdict(res) == "partly"
    assert res.left_out == {0: "partly", 1: "reproduced", 2: "partly"}
    assert text == "leaving out seed 1 gives reproduced (all seeds: partly)"
    _reset(monkeypatch, tmp_path, "one")
    _plant_figure("fig04", {}, seeds=(0,))
    _plant_figure("fig10", {}, seeds=(0,))
    res, text = _stability("composition")
    assert claims.verdict(res) == "provisional" and res.left_out is None
    assert text == "one seed: no leave-one-seed-out check is possible"
    _reset(monkeypatch, tmp_path, "bumps")
    for s in SEEDS:  # seed 2 unconverged: without it the claim is decided
        cfg = experiments.basic_config("cpu", seed=s)
        plant("basic", cfg, _model(cfg, "none" if s == 2 else "truth"))
    res, text = _stability("bump-generation")
    assert claims.verdict(res) == "undecided" and res.left_out == {0: "undecided", 1: "undecided", 2: "reproduced"}
    assert text == "leaving out seed 2 gives reproduced (all seeds: undecided)"
    assert not claims._LEFT_OUT.get()  # the seeds come back after each rerun


def test_simulations_have_no_leave_one_out(tmp_store):
    res = claims.measure_all("smoke", only=["data-setup"], stability=True)["data-setup"]
    assert res.left_out is None and claims.stability_text(res) == ""


def test_interpolation_planted(tmp_store, tmp_path, monkeypatch):
    """A claim of a limit: the phenomenon is a model that does not interpolate (the memoriser in
    the held-out ranges), and its null is the perfect model."""
    limited = {n: "memoriser" for n in ["fig04_sos_cross", *_points("fig11", 0)]}
    _plant_figure("fig04", limited)
    _plant_figure("fig11", limited)
    assert _verdict("interpolation") == "reproduced"
    _reset(monkeypatch, tmp_path, "null")
    _plant_figure("fig04", {})
    _plant_figure("fig11", {})
    assert _verdict("interpolation") == "not reproduced"
    _reset(monkeypatch, tmp_path, "unconverged")
    _plant_figure("fig04", {n: "none" for n in limited}, seeds=(0,))
    _plant_figure("fig11", {n: "none" for n in limited}, seeds=(0,))
    assert _verdict("interpolation") == "undecided"
    _reset(monkeypatch, tmp_path, "one")
    _plant_figure("fig04", limited, seeds=(0,))
    _plant_figure("fig11", limited, seeds=(0,))
    assert _verdict("interpolation") == "provisional"


def test_holes_planted(tmp_store, tmp_path, monkeypatch):
    exterior = {n: "memoriser" for n, c in _points("fig12", 0).items() if c.hole == "exterior"}
    _plant_figure("fig12", exterior)  # interior filled, exterior only copied
    assert _verdict("holes") == "reproduced"
    _reset(monkeypatch, tmp_path, "null")
    _plant_figure("fig12", {n: "memoriser" for n in _points("fig12", 0)})
    assert _verdict("holes") == "not reproduced"
    _reset(monkeypatch, tmp_path, "perfect")  # no gap between interior and exterior
    _plant_figure("fig12", {})
    assert _verdict("holes") == "not reproduced"
    _reset(monkeypatch, tmp_path, "unconverged")
    _plant_figure("fig12", {n: "none" for n in _points("fig12", 0)}, seeds=(0,))
    assert _verdict("holes") == "undecided"
    _reset(monkeypatch, tmp_path, "one")
    _plant_figure("fig12", exterior, seeds=(0,))
    assert _verdict("holes") == "provisional"


# ---------------------------------------------------------------------------------------------
# the verdict rule itself


def _result(*passed, seeds=SEEDS, model_based=True, **kw):
    return claims.Result(value="x", checks=[(f"part {i}", p) for i, p in enumerate(passed)], seeds=seeds,
                         model_based=model_based, **kw)


def test_verdict_vocabulary():
    assert claims.verdict(_result(True, True)) == "reproduced"
    assert claims.verdict(_result(True, False)) == "partly"
    assert claims.verdict(_result(False, False)) == "not reproduced"
    assert claims.verdict(_result(True, seeds=(0,))) == "provisional"
    assert claims.verdict_text(_result(True, False, seeds=(0,))) == "provisional (1 seed): reads partly"
    assert claims.verdict(_result(True, seeds=(), model_based=False)) == "reproduced"  # a simulation
    assert claims.verdict(_result(True, undecided="unconverged: a")) == "undecided"
    assert claims.verdict_text(_result(True, undecided="unconverged: a")) == "undecided: unconverged: a"
    assert claims.verdict(claims.not_yet_run("no runs")) == "undecided"
    assert claims.verdict(None) == "undecided"
    assert set(claims.VERDICTS) == {"reproduced", "partly", "not reproduced", "provisional", "undecided"}


def test_memoriser_matches_the_lattice_formula():
    """On a λ-subsample of the spacing-1 lattice the memoriser is right where a training label lies
    within ±1 px on both axes: 1 − (1 − λ)⁹ away from the edges."""
    cfg = experiments.efficiency_sweep("cpu")["fig06_s1_l0.1"]
    b = baselines.baselines(cfg)
    inner = (b.labels.min(1) >= 1) & (b.labels.max(1) <= 30)
    assert abs(b.memoriser[inner].mean() - (1 - 0.9 ** 9)) < 0.05
    assert b.truth.all() and not b.memoriser[b.isolated].any()
    cmp = baselines.beats(b.truth, b.memoriser, b.held_out)
    assert cmp.passed and not baselines.beats(b.memoriser, b.memoriser, b.held_out).passed


def test_isolated_outcomes_tell_copying_from_generalising():
    """On the isolated held-out labels: the memoriser's drawings all copy a training position, the
    ground truth is right and exact, a model one pixel off is right (±1 px) but not exact, and a
    model that draws nothing is neither."""
    cfg = experiments.efficiency_sweep("cpu")["fig06n16_s1_l0.2"]
    b = baselines.baselines(cfg)
    n = len(b.labels)

    def drawn(pos, correct, bumps=1):
        return {"labels": b.labels, "x_hat": pos[:, 0], "y_hat": pos[:, 1], "correct": np.asarray(correct, bool),
                "n_bumps": np.full(n, bumps)}

    tr = b.labels[b.train]
    nearest = tr[np.argmin(((b.labels[:, None] - tr[None]) ** 2).sum(-1), axis=1)]
    copy = baselines.isolated_outcomes(drawn(nearest, b.memoriser), cfg, b)
    assert copy.n == b.isolated.sum() > 10 and (copy.right, copy.exact, copy.copies, copy.other) == (0, 0, 1, 0)
    truth = baselines.isolated_outcomes(drawn(b.labels, np.ones(n)), cfg, b)
    assert (truth.right, truth.exact, truth.copies) == (1, 1, 0)
    off = baselines.isolated_outcomes(drawn(b.labels + [1.0, 0.0], np.ones(n)), cfg, b)
    assert (off.right, off.exact, off.copies) == (1, 0, 0)
    blank = baselines.isolated_outcomes(drawn(np.full((n, 2), np.nan), np.zeros(n), bumps=0), cfg, b)
    assert (blank.right, blank.copies, blank.other) == (0, 0, 1)
    assert baselines.isolated_outcomes({"labels": b.labels, "correct": np.ones(n, bool)}, cfg, b) is None  # SOS-scored


# ---------------------------------------------------------------------------------------------
# sample efficiency, percolation onset, continuous manifolds (Figs 5, 6e, 15)


def _plant_efficiency(figure, correct_fn, seeds=SEEDS, cloud_fn=None, lattices=None, shift_fn=None):
    """Plant every run of an efficiency figure (on the lattice sides ``lattices``, default all);
    ``correct_fn(cfg, baselines)`` gives its samples, ``shift_fn(cfg, baselines)`` their x shifts."""
    for s in seeds:
        for name, cfg in _points(figure, s).items():
            if lattices is not None and cfg.frame not in lattices:
                continue
            b = _data(cfg)[3]
            cloud = cloud_fn(cfg) if cloud_fn else None
            if store.lookup("compose", cfg) is None:
                plant("compose", cfg, correct_fn(cfg, b), cloud=cloud, x_shift=shift_fn(cfg, b) if shift_fn else None)


def test_sample_efficiency_planted(tmp_store, tmp_path, monkeypatch):
    """The phenomenon: 2D-only models never generalise (right on their training labels only),
    mixed ones generalise from λ = 0.02 (at
    N = 16 already at the smallest share, so that N is not read: there the 12N = 192 stripes alone
    outnumber what a converged 2D-only model can need). The null: both kinds need a fixed share of
    the 2D lattice (the stored runs' pattern), which also gives the paper's slopes (≈ N^1.2 with
    stripes, N² without): every part fails."""
    def efficient(cfg, b):
        if cfg.kind == "bump":
            return b.train & b.truth
        return b.truth if cfg.frame == 16 or cfg.keep_fraction >= 0.02 else b.train & b.truth

    def null(cfg, b):  # 2D-only: right once 10% is kept; mixed: right only from λ = 0.2
        ok = cfg.keep_fraction >= (0.1 if cfg.kind == "bump" else 0.2)
        return b.truth if ok else b.train & b.truth
    _plant_efficiency("fig05", efficient)
    assert _verdict("sample-efficiency") == "reproduced"
    _reset(monkeypatch, tmp_path, "null")
    _plant_efficiency("fig05", null)
    assert _verdict("sample-efficiency") == "not reproduced"
    _reset(monkeypatch, tmp_path, "one")
    _plant_efficiency("fig05", null, seeds=(0,))
    assert _verdict("sample-efficiency") == "provisional"
    _reset(monkeypatch, tmp_path, "unconverged")
    _plant_efficiency("fig05", lambda cfg, b: np.zeros_like(b.truth), seeds=(0,))
    assert _verdict("sample-efficiency") == "undecided"
    # three seeds of the claim, but the third reads N = 16 only (its other N not trained yet): a verdict
    # needs three seeds of each N its parts read
    _reset(monkeypatch, tmp_path, "thin")
    _plant_efficiency("fig05", null, seeds=(0, 1))
    _plant_efficiency("fig05", null, seeds=(2,), lattices=(16,))
    res = claims.measure_all("cpu", only=["sample-efficiency"])["sample-efficiency"]
    assert res.seeds == (0, 1, 2) and claims.verdict(res) == "provisional"
    assert claims.verdict_text(res) == "provisional (3 seeds; N = 24 at 2; N = 32 at 2 so far): reads not reproduced"


def test_sample_efficiency_shows_the_strict_tolerance_and_the_isolated_labels(tmp_store, tmp_path, monkeypatch):
    """Shown beside the judged parts, never judged (issue 20): the parts read again at ±0.5 px, and
    the isolated held-out labels right at equal shares with and without stripes. A 2D-only model
    that copies (right at ±1 px exactly where the memoriser is, its bump on the nearest training
    label: 1 px off on a held-out label) reaches 60% cheaply at ±1 px, so the claim fails; at
    ±0.5 px it is right on its training labels only, and the parts where the mixed set then
    needs fewer images read otherwise. The verdict stays the ±1 px one."""
    def copies(cfg, b):  # the memoriser for 2D bumps; mixed models right from λ = 0.2 (at their label)
        if cfg.kind == "bump":
            return b.memoriser
        return b.truth if cfg.keep_fraction >= 0.2 else b.train & b.truth

    def shift(cfg, b):  # a copy sits at its training label: off by up to 1 px (here: along x)
        if cfg.kind != "bump":
            return None
        return np.where(b.train, 0.0, b.labels[b.nearest, 0] - b.labels[:, 0])

    def measure():
        return claims.measure_all("cpu", only=["sample-efficiency"])["sample-efficiency"]

    _plant_efficiency("fig05", copies, shift_fn=shift)
    res = measure()
    assert claims.verdict(res) == "not reproduced"
    shown = dict(res.shown)
    n_same, n_all = (int(x) for x in re.search(r"(\d+) of (\d+) parts read as judged", shown["at ±0.5 px"]).groups())
    assert n_all == len(SEEDS) * 3 and n_same < n_all
    # the memoriser scores 0 on isolated labels: the mixed models below λ = 0.2 too, above it all
    iso = shown["isolated labels"]
    assert "p = 0.01: 0% vs —" in iso and "p = 0.2: 100% vs 0%" in iso
    # a model that generalises exactly reads the same at both tolerances
    _reset(monkeypatch, tmp_path, "exact")
    _plant_efficiency("fig05", lambda cfg, b: b.truth if cfg.keep_fraction >= (0.1 if cfg.kind == "bump" else 0.2)
                      else b.train & b.truth)
    res = measure()
    assert claims.verdict(res) == "not reproduced"
    assert re.search(rf"{len(SEEDS) * 3} of {len(SEEDS) * 3} parts read as judged", dict(res.shown)["at ±0.5 px"])


def test_sample_efficiency_bounds_an_unconverged_run(tmp_store, tmp_path, monkeypatch):
    """An unconverged run leaves a part undecided only where some accuracy it could still reach
    reads the part otherwise (issue 20: two N = 32 mixed runs at their cap, below the crossing)."""
    def blank(cfg, b, fn, kind, shares):  # fn's model, with the N = 32 runs of ``kind`` at ``shares`` unconverged
        off = cfg.frame == 32 and cfg.kind == kind and any(np.isclose(cfg.keep_fraction, shares))
        return np.zeros_like(b.truth) if off else fn(cfg, b)

    def null(cfg, b):  # as in the planted null: every part fails
        return b.truth if cfg.keep_fraction >= (0.1 if cfg.kind == "bump" else 0.2) else b.train & b.truth

    def efficient(cfg, b):  # the phenomenon: 2D-only never generalises, mixed from λ = 0.02
        if cfg.kind == "bump":
            return b.train & b.truth
        return b.truth if cfg.frame == 16 or cfg.keep_fraction >= 0.02 else b.train & b.truth

    def measure():
        return claims.measure_all("cpu", only=["sample-efficiency"])["sample-efficiency"]

    # below the mixed crossing: at 0% nothing moves, at 100% the crossing lies in (12N, 394]: the
    # 12N = 384 stripes alone outnumber the 2D-only need, so the failing part fails either way
    _plant_efficiency("fig05", lambda cfg, b: blank(cfg, b, null, "mixed", (0.01, 0.02)))
    res = measure()
    assert claims.verdict(res) == "not reproduced" and not res.undecided
    assert "bounded" in res.note and "fig05_mixed_n32_p0.01" in res.note and "fig05_mixed_n32_p0.02" in res.note
    assert any("between 384 and" in d and not ok for d, ok in res.checks)
    # the same for a passing part
    _reset(monkeypatch, tmp_path, "passing")
    _plant_efficiency("fig05", lambda cfg, b: blank(cfg, b, efficient, "mixed", (0.01,)))
    assert _verdict("sample-efficiency") == "reproduced"
    # a 2D-only run that, right everywhere, would pull the 2D-only crossing below the mixed one
    _reset(monkeypatch, tmp_path, "flips")

    def late(cfg, b):  # 2D-only generalises from λ = 0.7: at N = 32 its crossing (≈ 494) is above mixed's (≈ 403)
        if cfg.kind == "bump":
            return b.truth if cfg.keep_fraction >= 0.7 else b.train & b.truth
        return efficient(cfg, b)
    _plant_efficiency("fig05", lambda cfg, b: blank(cfg, b, late, "bump", (0.2,)))
    res = measure()
    assert claims.verdict(res) == "undecided" and "fig05_bump_n32_p0.2" in claims.verdict_text(res)
    assert "bounded" not in res.note and not any(d.startswith("seed 0, N = 32") for d, _ in res.checks)
    assert len(res.open) == len(SEEDS) and all("N = 32" in o and "either way" in o for o in res.open)


def _lambda_c(L=32):
    pc = experiments.replace(experiments.percolation_config("cpu"), overlap="pixel", L=L)
    return claims.simulated_lambda_c(pc, tuple(experiments.efficiency_grid("cpu").sigmas))


def _follows(cfg, b):
    """Held-out labels right from the simulated λ_c of the run's own lattice (L = N) on, training labels always."""
    lam_c = _lambda_c(cfg.frame)[cfg.sigma]
    return b.truth if np.isfinite(lam_c) and cfg.keep_fraction >= lam_c else b.train & b.truth


def test_percolation_onset_planted(tmp_store, tmp_path, monkeypatch):
    """The 32×32 sweep alone (no 16×16 run stored): the claim as before the seed lattice."""
    _plant_efficiency("fig06", _follows, lattices=(32,))
    assert _verdict("percolation-onset") == "reproduced"
    # the descriptive copy-to-new switch (Fig 6's isolated-label panel) brackets each σ's λ_c
    recs = [r for r in query.records("fig06", "cpu") if r.stored and claims.lattice_of(r) == 32]
    sigmas = experiments.efficiency_grid("cpu").sigmas
    sw, lam_c = claims.copy_switch(recs, sigmas), _lambda_c(32)
    for s in sigmas:
        lo, hi = sw[s]
        if not np.isfinite(lam_c[s]):  # never percolates: the planted model never draws them right
            assert hi is None, (s, sw[s])
        else:
            assert hi is not None and (lo is None or lo < lam_c[s]) and hi >= lam_c[s], (s, sw[s], lam_c[s])
    shown = dict(claims.measure_all("cpu", only=["percolation-onset"])["percolation-onset"].shown)
    assert claims.switch_text({sd: sw for sd in SEEDS}) in shown["copying or generalising"]  # alike planted seeds
    _reset(monkeypatch, tmp_path, "null")  # the memoriser: its onset is λ ≈ 0.08 whatever σ
    _plant_efficiency("fig06", lambda cfg, b: b.memoriser, lattices=(32,))
    assert _verdict("percolation-onset") == "not reproduced"
    _reset(monkeypatch, tmp_path, "unconverged")
    _plant_efficiency("fig06", lambda cfg, b: np.zeros_like(b.truth), seeds=(0,), lattices=(32,))
    assert _verdict("percolation-onset") == "undecided"
    _reset(monkeypatch, tmp_path, "one")
    _plant_efficiency("fig06", _follows, seeds=(0,), lattices=(32,))
    assert _verdict("percolation-onset") == "provisional"


def _onset():
    return claims.measure_all("cpu", only=["percolation-onset"], stability=True)["percolation-onset"]


def test_percolation_onset_reads_the_seeds_on_the_16x16_lattice(tmp_store, tmp_path, monkeypatch):
    """Issue 20: the seeds live on the 16×16 sweep (judged against L = 16), the 32×32 sweep carries
    seed 0 (judged against L = 32) and must agree."""
    small = experiments.efficiency_grid("cpu").seed_lattice
    n_sigma = len(experiments.efficiency_grid("cpu").sigmas)
    assert small == 16 and _lambda_c(16) != _lambda_c(32)  # the two simulations differ (finite size)
    _plant_efficiency("fig06", _follows, lattices=(16,))
    _plant_efficiency("fig06", _follows, seeds=(0,), lattices=(32,))
    res = _onset()
    assert claims.verdict(res) == "reproduced" and res.seeds == SEEDS
    lines = [d for d, _ in res.checks]
    assert len(lines) == n_sigma * 4  # three 16×16 seeds and the 32×32 seed 0, every σ
    assert sum("(L = 16)" in d for d in lines) == 3 * n_sigma
    assert sum(d.startswith("32×32 seed 0") and "(agreement)" in d and "(L = 32)" in d for d in lines) == n_sigma
    assert not any("DISAGREES" in d for d in lines)
    # leaving a seed out hides its 16×16 runs only: the 32×32 agreement run is not a counted seed
    assert res.left_out == {0: "reproduced", 1: "reproduced", 2: "reproduced"}
    assert claims.stability_text(res).startswith("stable when any one seed is left out")
    # a 32×32 seed whose onset is the memoriser's disagrees with the 16×16 seeds: named, and failed
    _reset(monkeypatch, tmp_path, "disagree")
    _plant_efficiency("fig06", _follows, lattices=(16,))
    _plant_efficiency("fig06", lambda cfg, b: b.memoriser, seeds=(0,), lattices=(32,))
    res = _onset()
    assert claims.verdict(res) == "partly"
    bad = [d for d, ok in res.checks if not ok]
    assert len(bad) == n_sigma and all(d.startswith("32×32 seed 0") and "DISAGREES with the 16×16 seeds" in d
                                       and "3 of 3 pass" in d for d in bad)
    # one seed on each lattice: provisional, as any claim with one seed
    _reset(monkeypatch, tmp_path, "one")
    _plant_efficiency("fig06", _follows, seeds=(0,))
    assert _verdict("percolation-onset") == "provisional"


def test_percolation_onset_leaves_a_sigma_with_an_unconverged_run_open(tmp_store, tmp_path, monkeypatch):
    """A σ column with an unconverged run is open: the claim is undecided while the decided σ all
    pass, and reads partly, naming the open σ, once the decided σ both pass and fail."""
    g = experiments.efficiency_grid("cpu")
    hi, lo = max(g.sigmas), min(g.sigmas)

    def blank_at(sigma, lam, fn):  # fn's model with the 32×32 run at (σ, λ) unconverged
        return lambda cfg, b: (np.zeros_like(b.truth) if (cfg.sigma, cfg.keep_fraction) == (sigma, lam) else fn(cfg, b))

    lam = g.keep_fractions[2]
    _plant_efficiency("fig06", _follows, lattices=(16,))
    _plant_efficiency("fig06", blank_at(hi, lam, _follows), seeds=(0,), lattices=(32,))
    res = _onset()
    assert claims.verdict(res) == "undecided" and not res.undecided
    assert res.open == [o for o in res.open if o.startswith(f"32×32 seed 0, σ = {hi:g}")] and len(res.open) == 1
    assert f"fig06_s{hi:g}_l{lam:g}" in res.open[0] and "could change the verdict" in claims.verdict_text(res)
    # the same with the 32×32 σ = lo memoriser-like (its agreement fails): partly, whatever σ = hi reads
    _reset(monkeypatch, tmp_path, "partly")
    _plant_efficiency("fig06", _follows, lattices=(16,))
    mem = lambda cfg, b: b.memoriser if cfg.sigma == lo else _follows(cfg, b)
    _plant_efficiency("fig06", blank_at(hi, lam, mem), seeds=(0,), lattices=(32,))
    res = _onset()
    assert claims.verdict(res) == "partly" and len(res.open) == 1 and not res.undecided
    assert claims.open_text(res).startswith("1 part not decided yet; the verdict stands whatever it reads")


def test_percolation_onset_with_only_16x16_runs_is_undecided(tmp_store):
    """Three 16×16 seeds and no 32×32 run: every 16×16 part is read, but the claim stays undecided
    until the 32×32 seed 0 shows that the paper's lattice agrees."""
    _plant_efficiency("fig06", _follows, lattices=(16,))
    res = _onset()
    assert claims.verdict(res) == "undecided" and claims.reading(res) == "reproduced"
    assert res.undecided.startswith("no 32×32 run is stored") and "efficiency cpu 0 fig06" in res.undecided


def test_onset_readings_simulate_on_the_records_lattice(tmp_store):
    """claims.onset_readings runs the simulation at L = the records' N, and refuses a mix of lattices."""
    pc = experiments.percolation_config("cpu")
    g = experiments.efficiency_grid("cpu")
    recs = {N: [query.Record(n, (), "compose", c, None) for n, c in _points("fig06", 0).items() if c.frame == N]
            for N in (16, 32)}
    for N in (16, 32):
        sim = {o.sigma: o.simulated for o in claims.onset_readings(recs[N], g, pc)}
        assert sim.keys() == _lambda_c(N).keys()
        assert all(np.isnan(v) and np.isnan(_lambda_c(N)[s]) or v == _lambda_c(N)[s] for s, v in sim.items())
    empty = claims.onset_readings([], g, pc, lattice=16)  # nothing stored: the lattice is named
    assert [o.simulated for o in empty] == [o.simulated for o in claims.onset_readings(recs[16], g, pc)]
    with pytest.raises(ValueError, match="16×16 and 32×32"):
        claims.onset_readings(recs[16] + recs[32], g, pc)


def _blobs(k, n=120, dim=8):
    """A cloud of ``k`` far-apart pieces: a k-piece representation."""
    rng = np.random.default_rng(k)
    centres = 1000 * rng.standard_normal((k, dim))
    return centres[np.arange(n) % k] + rng.standard_normal((n, dim))


def test_continuous_manifold_planted(tmp_store, tmp_path, monkeypatch):
    g = experiments.efficiency_grid("cpu")
    rank = lambda cfg: g.sigmas.index(cfg.sigma) + g.keep_fractions.index(cfg.keep_fraction)
    top = len(g.sigmas) + len(g.keep_fractions)
    truth = lambda cfg, b: b.truth
    _plant_efficiency("fig15", truth, cloud_fn=lambda cfg: _blobs(top - rank(cfg)))  # fewer pieces as σ, λ grow
    assert _verdict("continuous-manifold") == "reproduced"
    # the note says how the reading depends on k: far-apart blobs stay apart at every k shown
    n = len(g.sigmas) * len(g.keep_fractions) * len(SEEDS)
    shown = dict(claims.measure_all("cpu", only=["continuous-manifold"])["continuous-manifold"].shown)
    assert shown["the neighbour count k"].endswith(f"at k = 3 / 4 / 5 / 8: {n} / {n} / {n} / {n} of {n}")
    _reset(monkeypatch, tmp_path, "null")
    _plant_efficiency("fig15", truth, cloud_fn=lambda cfg: _blobs(1 + rank(cfg)))  # more pieces as σ, λ grow
    assert _verdict("continuous-manifold") == "not reproduced"
    _reset(monkeypatch, tmp_path, "unconverged")
    _plant_efficiency("fig15", lambda cfg, b: np.zeros_like(b.truth), seeds=(0,), cloud_fn=lambda cfg: _blobs(1))
    assert _verdict("continuous-manifold") == "undecided"
    _reset(monkeypatch, tmp_path, "one")
    _plant_efficiency("fig15", truth, seeds=(0,), cloud_fn=lambda cfg: _blobs(top - rank(cfg)))
    assert _verdict("continuous-manifold") == "provisional"


def test_continuous_manifold_reads_a_partial_line_only_where_it_rises(tmp_store, tmp_path, monkeypatch):
    """Seeds 1 and 2 of the 16×16 sweep are stored around the onset only: a line with cells missing
    passes nothing (a missing cell could hold a rise), a rise among its stored cells fails it."""
    g = experiments.efficiency_grid("cpu")
    rank = lambda cfg: g.sigmas.index(cfg.sigma) + g.keep_fractions.index(cfg.keep_fraction)
    top = len(g.sigmas) + len(g.keep_fractions)
    truth = lambda cfg, b: b.truth

    def plant_some(seed, lams, pieces):
        for cfg in _points("fig06", seed).values():
            if cfg.frame == 16 and cfg.keep_fraction in lams:
                plant("compose", cfg, truth(cfg, _data(cfg)[3]), cloud=_blobs(pieces(cfg)))

    joins = lambda cfg: top - rank(cfg)  # fewer pieces as σ, λ grow: every full line passes
    _plant_efficiency("fig06", truth, seeds=(0,), lattices=(16,), cloud_fn=lambda cfg: _blobs(joins(cfg)))
    _plant_efficiency("fig15", truth, seeds=(0,), cloud_fn=lambda cfg: _blobs(joins(cfg)))
    for s in (1, 2):
        plant_some(s, g.keep_fractions[:2], joins)  # two λ of every σ: no rise, 4 of 6 cells missing
    res = claims.measure_all("cpu", only=["continuous-manifold"])["continuous-manifold"]
    assert all(ok for _, ok in res.checks) and claims.reading(res) == "reproduced"
    assert not any(" seed 1, σ" in d or " seed 2, σ" in d for d, _ in res.checks)  # the partial σ lines are not read
    assert any(d.startswith("16×16 seed 1, λ = ") for d, _ in res.checks)  # its full λ lines (every σ) are
    assert claims.verdict(res) == "undecided" and "could change the verdict" in claims.verdict_text(res)
    assert any(o.startswith("16×16 seed 1, σ = 1 (2 of 6 cells") for o in res.open)
    # a rise among the stored cells of a partial line fails it, whatever the missing cells hold
    _reset(monkeypatch, tmp_path, "rise")
    _plant_efficiency("fig06", truth, seeds=(0,), lattices=(16,), cloud_fn=lambda cfg: _blobs(joins(cfg)))
    _plant_efficiency("fig15", truth, seeds=(0,), cloud_fn=lambda cfg: _blobs(joins(cfg)))
    for s in (1, 2):
        plant_some(s, g.keep_fractions[:2], lambda cfg: 1 + rank(cfg))  # more pieces as λ grows
    res = claims.measure_all("cpu", only=["continuous-manifold"])["continuous-manifold"]
    assert claims.verdict(res) == "partly" and not res.undecided
    assert all(not ok for d, ok in res.checks if " seed 1, σ" in d or " seed 2, σ" in d)
    assert any(d.startswith("16×16 seed 1, σ = 1: components along λ [") for d, _ in res.checks)


def test_continuous_manifold_reads_the_seeds_on_the_16x16_lattice(tmp_store, tmp_path, monkeypatch):
    """Issue 20: as for the onset, the seeds live on the 16×16 sweep of Fig 6e and Fig 15's 32×32
    runs (seed 0) must agree: a fragmenting 32×32 seed fails its parts; no 32×32 run leaves it undecided."""
    g = experiments.efficiency_grid("cpu")
    rank = lambda cfg: g.sigmas.index(cfg.sigma) + g.keep_fractions.index(cfg.keep_fraction)
    top = len(g.sigmas) + len(g.keep_fractions)
    truth = lambda cfg, b: b.truth
    joins = lambda cfg: _blobs(top - rank(cfg))  # fewer pieces as σ, λ grow
    _plant_efficiency("fig06", truth, lattices=(16,), cloud_fn=joins)
    res = claims.measure_all("cpu", only=["continuous-manifold"])["continuous-manifold"]
    assert claims.verdict(res) == "undecided" and claims.reading(res) == "reproduced"
    assert res.undecided.startswith("no 32×32 run is stored") and res.seeds == SEEDS
    _plant_efficiency("fig15", truth, seeds=(0,), cloud_fn=joins)
    res = claims.measure_all("cpu", only=["continuous-manifold"], stability=True)["continuous-manifold"]
    assert claims.verdict(res) == "reproduced" and res.seeds == SEEDS
    assert {d.split(" seed")[0] for d, _ in res.checks} == {"16×16", "32×32"}
    assert res.left_out == {0: "reproduced", 1: "reproduced", 2: "reproduced"}
    _reset(monkeypatch, tmp_path, "disagree")
    _plant_efficiency("fig06", truth, lattices=(16,), cloud_fn=joins)
    _plant_efficiency("fig15", truth, seeds=(0,), cloud_fn=lambda cfg: _blobs(1 + rank(cfg)))
    res = claims.measure_all("cpu", only=["continuous-manifold"])["continuous-manifold"]
    assert claims.verdict(res) == "partly"
    assert all(d.startswith("32×32 seed 0") for d, ok in res.checks if not ok)


def test_a_value_over_seeds_names_its_seeds():
    assert claims.over_seeds([12.94], [0]) == "12.9%"
    assert claims.over_seeds([12.94, 17.0], [0, 2]) == "12.9 / 17.0% (seeds 0, 2)"
