"""Sample efficiency and the percolation onset (Figs 5, 6e, 14c, 15): sweep configs, data at other
image sizes, the Fig 14c losses, the Fig 5c analysis."""

import numpy as np
import pytest
import torch

from compdiff import data, datasets, efficiency, experiments, query, runs, sampling, store
from compdiff.diffusion import make_schedule
from compdiff.experiments import ComposeRunConfig, ConfigError


def test_sweep_points_share_runs_across_figures():
    pts = experiments.efficiency_points("cpu")
    cpu = {p.name: p.config for p in pts}
    ids = {n: store.run_id(c) for n, c in cpu.items()}
    g = experiments.efficiency_grid("cpu")
    fig06 = [p for p in pts if "fig06" in p.figures and p.config.frame == 32]
    assert len(fig06) == len(g.sigmas) * len(g.keep_fractions)
    # the swept values are the config's fields (never read from the name)
    assert {(p.config.sigma, p.config.keep_fraction) for p in fig06} == {(s, k) for s in g.sigmas for k in g.keep_fractions}
    # Fig 6e's seed lattice: the same σ × λ grid on 16×16, shown by Fig 6 only; its σ = 1 column is Fig 5a's N = 16
    n16 = [p for p in pts if p.name.startswith("fig06n16_")]
    assert g.fig06_lattices == (32, 16) and all(p.figures == ("fig06",) and p.config.frame == p.config.n == 16 for p in n16)
    assert {(p.config.sigma, p.config.keep_fraction) for p in n16} == {(s, k) for s in g.sigmas for k in g.keep_fractions}
    assert all(p.config.unet == experiments.unet_at(fig06[0].config.unet, 16) for p in n16)
    assert all(p.config == experiments.replace(cpu[experiments.fig06_name(p.config.sigma, p.config.keep_fraction)],
                                               n=16, unet=p.config.unet) for p in n16)  # nothing else differs
    assert {store.run_id(p.config) for p in n16 if p.config.sigma == 1.0} == \
        {ids[f"fig05_bump_n16_p{lam:g}"] for lam in g.bump_keep_fractions}
    # Fig 5a at N = 32 is Fig 6e's σ = 1 column, one stored run each
    fig05 = {(p.config.frame, p.config.kind, p.config.keep_fraction): store.run_id(p.config) for p in pts if "fig05" in p.figures}
    for lam in g.bump_keep_fractions:
        assert fig05[(32, "bump", lam)] in {store.run_id(p.config) for p in fig06 if p.config.sigma == 1.0}
    # Fig 5b at N = 32 shares Fig 4g's models where λ matches, at one recipe (both sweeps built with
    # the default here; each figure reads its own: experiments.figure_recipe)
    compose = {store.run_id(c) for c in experiments.compose_sweep("cpu").values()}
    v_stop = {store.run_id(c) for c in experiments.compose_sweep("cpu", recipe="v-stop").values()}
    assert store.run_id(experiments.efficiency_sweep("cpu", recipe="v-stop")["fig05_mixed_n32_p0.2"]) in v_stop
    assert fig05[(32, "mixed", 0.2)] in compose and fig05[(32, "mixed", 0.05)] in compose
    assert fig05[(16, "mixed", 0.2)] not in compose
    # under v-stop the 2D-bump subsample runs train to their own, larger cap; the mixed runs keep
    # the composition cap (so the sharing above holds); wsd-eps runs keep their budget
    vs = experiments.efficiency_sweep("cpu", recipe="v-stop")
    ws = experiments.efficiency_sweep("cpu", recipe="wsd-eps")
    for name, c in vs.items():
        cap = experiments.EFFICIENCY_BUMP_CAP if c.dataset == "bump_subsample" else experiments.COMPOSE_CPU_IMAGES
        assert c.stop is not None and c.train.images == cap, name
        assert ws[name].stop is None and ws[name].train.images == experiments.COMPOSE_CPU_IMAGES
        assert c == experiments.replace(c, train=experiments.replace(ws[name].train, images=cap, decay_images=0,
                                                                      lr_schedule="constant"),
                                        diffusion=c.diffusion, stop=c.stop)
    assert experiments.EFFICIENCY_BUMP_CAP > experiments.COMPOSE_CPU_IMAGES
    # other sizes: the UNet's attention follows N, the canvas keeps a 6-px margin
    c16 = cpu["fig05_mixed_n16_p0.2"]
    assert c16.unet.image_size == 16 and c16.unet.attention_resolutions == (2, 4)
    assert c16.frame == 16 and c16.canvas == 28 and c16.n == 16
    assert cpu["fig05_bump_n24_p0.2"].unet.attention_resolutions == (3, 6)
    assert cpu["fig05_bump_n24_p0.2"].canvas is None
    # the Fig 6e models keep their losses and their bottleneck clouds (Figs 14c, 15)
    assert all(p.config.loss_draws > 0 and p.config.representation is not None for p in fig06)
    for profile in experiments.PROFILES:
        assert experiments.efficiency_sweep(profile)
    assert len(ids) == len(pts)


def test_grid_overrides_are_checked_and_change_the_points():
    pts = experiments.efficiency_points("cpu", sigmas=[0.5, 1], keep_fractions=(0.2,))
    fig06 = [(p.config.frame, p.config.sigma, p.config.keep_fraction) for p in pts if "fig06" in p.figures]
    assert fig06 == [(32, 0.5, 0.2), (32, 1.0, 0.2), (16, 0.5, 0.2), (16, 1.0, 0.2)]
    # seeds on 32×32: the 32×32 sweep alone, with the same configs (the field is the grid's, no run's)
    alone = experiments.efficiency_points("cpu", sigmas=[0.5, 1], keep_fractions=(0.2,), seed_lattice=32)
    assert [p for p in pts if not p.name.startswith("fig06n16_")] == alone
    assert not any(p.name.startswith("fig06n") for p in experiments.efficiency_points("paper"))
    with pytest.raises(ConfigError, match="EfficiencyGrid.seed_lattice = 20 is not allowed; allowed: 16, 24, 32"):
        experiments.efficiency_grid("cpu", seed_lattice=20)
    assert experiments.efficiency_grid("cpu", sigmas=[0.5]).sigmas == (0.5,)
    with pytest.raises(ConfigError, match=r"EfficiencyGrid.keep_fractions\[0\] = 1.5"):
        experiments.efficiency_grid("cpu", keep_fractions=[1.5])
    with pytest.raises(ConfigError, match="frame_sizes.*allowed: 16, 24, 32"):
        experiments.efficiency_grid("cpu", frame_sizes=[20])
    with pytest.raises(ConfigError, match="unknown field.*sigma.*allowed: bump_keep_fractions"):
        experiments.efficiency_grid("cpu", sigma=[1])
    with pytest.raises(ConfigError, match="preset.*allowed"):
        experiments.efficiency_points("cpu", preset="huge")
    assert experiments.efficiency_points("smoke", preset="tiny")[0].config.unet.base_channels == 16


def test_sized_data_fields_are_checked():
    b = experiments.compose_base("smoke", 0)
    with pytest.raises(ConfigError, match="n = 32"):  # the lattice must be the frame's
        ComposeRunConfig(dataset="bump_subsample", n=32, **{**b, "unet": experiments.unet_at(b["unet"], 16)})
    with pytest.raises(ConfigError, match="unet.image_size"):
        ComposeRunConfig(dataset="bump_subsample", n=56,
                         **{**b, "unet": experiments.replace(b["unet"], image_size=56, attention_resolutions=(7,))})
    with pytest.raises(ConfigError, match="loss_draws"):
        ComposeRunConfig(dataset="bump_subsample", loss_draws=-1, **b)
    with pytest.raises(ConfigError, match="frame"):
        experiments.unet_at(b["unet"], 20)
    # the other datasets stay on the 32×32 frame
    with pytest.raises(ConfigError, match="image_size = 16 must be 32"):
        ComposeRunConfig(dataset="bump_lesion", lesion_width=2.0, n=16, **{**b, "unet": experiments.unet_at(b["unet"], 16)})


def test_sized_training_sets_and_scorer():
    sweep = experiments.efficiency_sweep("smoke")
    cfg = sweep["fig05_bump_n16_p0.5"]
    ds, labels, masks, score = datasets.compose_data(cfg)
    assert labels.shape == (256, 2) and labels.min() == 0 and labels.max() == 15
    assert masks["id"].sum() == 128 == len(ds.labels) and ds.images.shape[1:] == (16, 16)
    truth = data.render("bump", labels, cfg.sigma, frame=16)
    assert np.mean(score(truth, labels).correct) == 1.0
    assert np.mean(score(np.roll(truth, 3, axis=-1), labels).correct) == 0.0

    cfg = sweep["fig05_mixed_n24_p0.1"]
    ds, labels, masks, score = datasets.compose_data(cfg)
    assert labels.min() == 6 and labels.max() == 29  # latent units, canvas 36
    assert ds.images.shape[1:] == (24, 24) and ds.masks["bump_2d"].sum() == round(0.1 * 576)
    stripes = ds.labels[ds.masks["stripe_1d"]]
    vis = data.in_frame(stripes[:, 0], frame=24, offset=6) ^ data.in_frame(stripes[:, 1], frame=24, offset=6)
    assert vis.all()  # every stripe shows one coordinate only
    truth = data.render("bump", labels, 1.0, frame=24, canvas=36)
    assert np.mean(score(truth, labels).correct) == 1.0


def test_data_needed_interpolates_in_log_size():
    n = efficiency.data_needed([10, 100, 1000], [0.0, 0.4, 0.8], 0.6)
    assert n.how == "interpolated" and n.value == pytest.approx(10 ** 2.5)
    assert efficiency.data_needed([10, 100], [0.7, 0.9]).how == "at_smallest"
    miss = efficiency.data_needed([10, 100], [0.1, 0.5])
    assert miss.how == "not_reached" and np.isnan(miss.value)
    with pytest.raises(ValueError, match="increasing"):
        efficiency.data_needed([100, 10], [0.1, 0.9])


def test_crossing_bounds_are_a_point_between_grid_neighbours_else_an_interval():
    B = efficiency.crossing_bounds
    point = B([10, 100, 1000], [0.0, 0.4, 0.8], [0, 1, 2], 3, least=0, level=0.6)
    assert point.lo == point.hi == pytest.approx(10 ** 2.5) and point.text() == "316"
    assert B([394, 404], [0.9, 1.0], [0, 1], 4, least=384) == (384, 394)  # below the smallest share
    assert B([394, 404], [0.9, 1.0], [1, 2], 4, least=384) == (384, 394)  # the first share not stored
    gap = B([10, 1000], [0.0, 0.8], [0, 2], 3, least=0, level=0.6)  # the share between not stored
    assert gap == (10, 1000) and gap.text() == "between 10 and 1000"
    never = B([10, 100], [0.1, 0.5], [0, 1], 2, least=0)
    assert never == (100, np.inf) and never.text() == "more than 100"
    with pytest.raises(ValueError, match="one non-zero length"):
        B([10, 100], [0.1], [0, 1], 2, least=0)


def test_power_law_fit_recovers_slopes_with_honest_intervals():
    N = np.array([16, 24, 32, 48])
    exact = efficiency.power_law_fit(N, 3.0 * N ** 2.0)
    assert exact.slope == pytest.approx(2.0) and exact.hi - exact.lo == pytest.approx(0, abs=1e-9)
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(200):
        fit = efficiency.power_law_fit(N, 5.0 * N * np.exp(rng.normal(0, 0.1, N.size)))
        covered += fit.lo <= 1.0 <= fit.hi
    assert 0.88 <= covered / 200 <= 0.99  # a 95% interval covers the true slope about 95% of the time
    two = efficiency.power_law_fit([16, 32], [10, 40])
    assert two.slope == pytest.approx(2.0) and np.isnan(two.lo)
    with pytest.raises(ValueError, match="two distinct"):
        efficiency.power_law_fit([16], [10])


class _Zero(torch.nn.Module):
    def forward(self, x, t, labels):
        return torch.zeros_like(x)


def test_epsilon_mse_is_seeded_and_measures_the_noise():
    cfg = experiments.efficiency_sweep("smoke")["fig06_s1_l0.5"]
    labels = data.lattice(32, 1.0)[:200].astype(np.float32)
    imgs = data.render("bump", labels, 1.0)
    sched = make_schedule(cfg.diffusion)
    a = sampling.epsilon_mse(_Zero(), sched, imgs, labels, draws=3, seed=1)
    b = sampling.epsilon_mse(_Zero(), sched, imgs, labels, draws=3, seed=1)
    assert np.array_equal(a, b) and a.shape == (200,)
    assert a.mean() == pytest.approx(1.0, abs=0.02)  # predicting ε = 0 costs E|ε|² = 1 per pixel


def test_efficiency_run_stores_losses_and_clouds(tmp_store):
    cfg0 = experiments.efficiency_sweep("smoke")["fig05_bump_n16_p0.5"]
    tr = experiments.replace(cfg0.train, images=320, checkpoint_every_images=(160, 320))
    ev = experiments.replace(cfg0.eval, steps=3, grid_samples=4, curve_labels=16)
    cfgs = {"fig05_bump_n16_p0.5": experiments.replace(cfg0, train=tr, eval=ev)}
    got = runs.get_sweep("compose", cfgs, device="cpu", progress=False)["fig05_bump_n16_p0.5"]
    m = got.json("metrics")
    assert m["n_eval_labels"] == 256 and m["n_train_images"] == 128
    fl = m["final_loss"]
    assert fl["train"] > 0 and fl["validation"] > 0 and fl["draws"] == cfg0.loss_draws
    reps = got.arrays("representations")
    assert reps["s1_t0"].shape == (256, 32) and list(reps["images"]) == [160, 320]
    from compdiff.query import Record

    rec = Record("fig05_bump_n16_p0.5", ("fig05",), "compose", cfgs["fig05_bump_n16_p0.5"], got)
    rows = efficiency.sweep_table([rec])
    assert rows[0]["train_size"] == 128 and rows[0]["N"] == 16 and rows[0]["val_loss"] == fl["validation"]
    # copying or generalising (claim 9's shown readings): the run's samples against its memoriser
    from compdiff import baselines

    (row,) = efficiency.with_nulls([rec, Record("unstored", ("fig05",), "compose", cfgs["fig05_bump_n16_p0.5"], None)])
    b, samples = baselines.baselines(rec.config), got.arrays("samples")
    assert row["accuracy"] == rows[0]["accuracy"] and row["memoriser"] == pytest.approx(b.memoriser.mean())
    assert row["strict"] == pytest.approx(baselines.strict_correct(samples, rec.config).mean())
    assert row["strict"] <= row["accuracy"]
    assert row["n_isolated"] == b.isolated.sum() == 0 and row["isolated"] is None  # λ = 0.5: every label has a neighbour
    strict = efficiency.read_as([row, {**row, "strict": None}], "strict")
    assert len(strict) == 1 and strict[0]["accuracy"] == row["strict"] and strict[0]["memoriser"] == row["memoriser"]


def test_stored_model_regenerates_the_stored_samples(tmp_store):
    cfg0 = experiments.efficiency_sweep("smoke")["fig05_bump_n16_p0.5"]
    cfg = experiments.replace(cfg0, train=experiments.replace(cfg0.train, images=160, checkpoint_every_images=(160,)),
                              eval=experiments.replace(cfg0.eval, steps=3, grid_samples=4, curve_labels=16),
                              representation=None, loss_draws=0)
    run = runs.get_compose_run(cfg, device="cpu", progress=False)
    model = runs.stored_model(run, cfg)
    s = run.arrays("samples")
    idx = s["grid_index"]
    again = sampling.generate(model, make_schedule(cfg.diffusion), s["labels"], cfg.eval, image_size=16, device="cpu")
    assert np.allclose(again[idx], s["grid_images"].astype(np.float32), atol=2e-2)
    run.weights("model_ema.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(store.StoreError):  # the store reports the corrupt artifact, never uses it
        runs.stored_model(store.lookup("compose", cfg), cfg)


def test_cluster_dispatch_with_submitits_local_executor(tmp_store, tmp_path):
    from compdiff import cluster

    b = experiments.compose_base("smoke", 0)
    small = experiments.replace(b["train"], images=160, checkpoint_every_images=(160,))
    ev = experiments.replace(b["eval"], steps=2, grid_samples=4, curve_labels=16)
    base = dict(unet=b["unet"], diffusion=b["diffusion"], train=small, eval=ev)
    cfgs = {"a": ComposeRunConfig(dataset="bump_lesion", lesion_width=3.5, **base),
            "b": ComposeRunConfig(dataset="bump_lesion", lesion_width=8.0, **base),
            "a_again": ComposeRunConfig(dataset="bump_lesion", lesion_width=3.5, **base)}
    assert cluster.missing_runs("compose", cfgs) == ["a", "b"]  # one name per distinct config
    with pytest.raises(ConfigError, match="executor"):
        cluster.make_executor("kubernetes")
    jobs = cluster.submit_sweep("compose", cfgs, executor="local", runs_per_job=1, device="cpu", wait=True,
                                folder=tmp_path / "jobs", timeout_min=10)
    assert len(jobs) == 2 and all(j.state in ("DONE", "FINISHED", "COMPLETED") or j.done() for j in jobs)
    # the jobs stored the runs where this process finds them; a second submission has nothing to do
    assert {n for j in jobs for n in j.result()} == {"a", "b"}
    assert cluster.missing_runs("compose", cfgs) == []
    assert cluster.submit_sweep("compose", cfgs, executor="local", folder=tmp_path / "jobs") == []


def _rows(figure, pts, **fields):
    return [{"figure": figure, "keep_fraction": x, "train_size": 100 * (i + 1), "accuracy": a, "run": None, **fields}
            for i, (x, a) in enumerate(pts)]


def test_onset_reads_partial_columns_only_where_the_grid_decides():
    grid = [0.05, 0.1, 0.2, 0.4, 0.7, 1.0]
    on = lambda pts: efficiency.onset(_rows("fig06", pts, sigma=0.5), 0.5, grid=grid)
    full = on([(0.05, 0.0), (0.1, 0.1), (0.2, 0.3), (0.4, 0.7), (0.7, 0.9), (1.0, 1.0)])
    assert full.how == "interpolated" and full.value == pytest.approx(0.3) and full.monotone
    part = on([(0.2, 0.3), (0.4, 0.7)])  # grid neighbours: the same reading as the full column
    assert part.how == "interpolated" and part.value == pytest.approx(full.value)
    gap = on([(0.1, 0.1), (0.7, 0.9)])  # not neighbours: only an interval
    assert gap.how == "bounded" and (gap.lo, gap.hi) == (0.1, 0.7) and np.isnan(gap.value)
    assert on([(1.0, 0.2)]).how == "never"
    later = on([(0.4, 0.2)])
    assert later.how == "bounded" and np.isinf(later.hi) and "never" in later.describe()
    assert on([(0.05, 0.8), (0.1, 0.9)]).how == "at_smallest"
    assert on([(0.1, 0.8)]).how == "bounded"  # λ = 0.05 might already pass
    assert on([]).how == "none"
    assert not on([(0.2, 0.6), (0.4, 0.5)]).monotone
    with pytest.raises(ValueError, match="not on the grid"):
        on([(0.3, 0.5)])
    # the check decides only where the stored λ decide it
    m = efficiency.onset_matches
    assert m(part, 0.35, 0.15) is True and m(part, 0.6, 0.15) is False
    assert m(gap, 0.4, 0.15) is None  # (0.1, 0.7] straddles [0.25, 0.55]
    assert m(efficiency.onset(_rows("fig06", [(0.2, 0.3), (0.4, 0.7)], sigma=1), 1, grid=grid), float("nan"), 0.15) is False
    assert m(on([(1.0, 0.2)]), float("nan"), 0.15) is True and m(on([(1.0, 0.2)]), 0.6, 0.15) is False
    assert m(later, float("nan"), 0.15) is None and m(later, 0.1, 0.15) is False
    assert m(on([(0.05, 0.8)]), 0.05, 0.15) is True and m(on([(0.05, 0.8)]), 0.5, 0.15) is False


def test_scaling_reads_a_crossing_only_between_grid_neighbours():
    grid = [0.01, 0.02, 0.05, 0.2]
    rows = (_rows("fig05", [(0.05, 0.4), (0.2, 0.9)], kind="mixed", N=24)
            + _rows("fig05", [(0.01, 0.1), (0.2, 0.9)], kind="mixed", N=32)
            + _rows("fig05", [(0.02, 0.1), (0.05, 0.3)], kind="mixed", N=16))
    need = efficiency.scaling(rows, [16, 24, 32], "mixed", grid=grid)
    assert need[24].how == "interpolated" and need[32].how == "gap" and need[16].how == "gap"
    assert efficiency.scaling(rows, [32], "mixed")[32].how == "interpolated"  # no grid: as stored


def test_fewer_with_stripes_reads_both_curves_at_any_accuracy_of_their_unconverged_runs():
    """Claim 9's comparison at one N, as the report's ±0.5 px reading and Fig 5's printed cell use it:
    True / False where the two crossings are apart, None where an unconverged run could move one
    across the other, None where a curve has no run."""
    grid = [0.01, 0.02, 0.05, 0.2, 1.0]
    N = 16

    def rows(kind, pts, off=()):
        extra = 12 * N if kind == "mixed" else 0  # a mixed set holds all 12N stripes
        return [{"kind": kind, "N": N, "keep_fraction": p, "accuracy": a, "run": "off" if p in off else f"{kind}{p}",
                 "train_size": data.subsample_count(N * N, p) + extra} for p, a in pts]

    read = lambda r: efficiency.fewer_with_stripes(r, N, lambda kind: grid, lambda run: run == "off")
    mixed = rows("mixed", [(0.01, 0.2), (0.02, 0.8)])
    late = rows("bump", [(0.2, 0.1), (1.0, 0.65)])  # 2D-only crosses near all 256 labels
    m, b, ok = read(mixed + late)
    assert ok is True and m.hi < b.lo
    early = rows("bump", [(0.05, 0.3), (0.2, 0.9)])  # 2D-only crosses below 51 images: the stripes cost more
    assert read(mixed + early)[2] is False
    # the 2D-only run at 1.0 unconverged: at 100% its crossing falls below the mixed one, at 0% it is never reached
    assert read(mixed + rows("bump", [(0.2, 0.1), (1.0, 0.65)], off=(1.0,)))[2] is None
    assert read(mixed) is None
    iso = [{"N": N, "keep_fraction": 0.05, "kind": "mixed", "isolated": 0.5, "n_isolated": 10},
           {"N": N, "keep_fraction": 0.05, "kind": "bump", "isolated": 0.1, "n_isolated": 12},
           {"N": N, "keep_fraction": 0.2, "kind": "mixed", "isolated": 1.0, "n_isolated": 4},
           {"N": N, "keep_fraction": 0.01, "kind": "bump", "isolated": None, "n_isolated": 0}]
    assert efficiency.isolated_text(iso, N) == "p = 0.05: 50% vs 10% (of 10), p = 0.2: 100% vs — (of 4)"
    assert efficiency.isolated_text(iso, 24) == ""


def test_knn_components_count_the_pieces_of_a_cloud():
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    ring = np.c_[np.cos(t), np.sin(t)]
    assert efficiency.knn_components(ring) == 1
    two = np.r_[ring, ring[:50] + 100.0]  # a ring and a far-away arc
    sizes = efficiency.knn_component_sizes(two)
    assert sizes.tolist() == [200, 50] and efficiency.knn_components(two) == 2
    with pytest.raises(ValueError, match="M > k"):
        efficiency.knn_components(ring[:3])


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_every_fig06_sigma_renders_its_own_images(profile):
    """No two σ of a profile's Fig 6e grid are the same data set under two names, and a grid that
    has such a pair is refused with the field named."""
    from compdiff import data

    assert data.same_renderings(experiments.efficiency_grid(profile).sigmas) == []
    with pytest.raises(ValueError, match="EfficiencyGrid.sigmas"):
        experiments.efficiency_grid(profile, sigmas=(0.1, 0.25, 1.0))


def test_fig05_extensions_share_runs_and_stay_out_of_the_figures_own_runs():
    """Fig 5's extensions (issue 20): N = 40, 48, σ = 0.5 and finer shares; the 2D-only σ = 0.5
    runs at N = 16 and 32 are Fig 6e's σ = 0.5 cells; a figure's own records leave them out."""
    g = experiments.efficiency_grid("cpu")
    assert g.extension_frame_sizes == (40, 48) and g.extension_sigma == 0.5
    assert g.fig05_fine_shares("bump") == (0.071, 0.14, 0.28, 0.53, 0.84)
    assert g.fig05_fine_shares("mixed") == (0.014, 0.032, 0.1)
    sweep = experiments.efficiency_sweep("cpu")
    ids = {n: store.run_id(c) for n, c in sweep.items()}
    for lam in g.bump_keep_fractions:
        assert ids[f"fig05x_bump_s0.5_n32_p{lam:g}"] == ids[f"fig06_s0.5_l{lam:g}"]
        assert ids[f"fig05x_bump_s0.5_n16_p{lam:g}"] == ids[f"fig06n16_s0.5_l{lam:g}"]
    assert sweep["fig05x_mixed_s0.5_n24_p0.2"].sigma == 0.5 and sweep["fig05x_mixed_n48_p0.2"].frame == 48
    assert sweep["fig05x_mixed_n32_p0.1"] == experiments.replace(sweep["fig05_mixed_n32_p0.2"], keep_fraction=0.1)
    main = {i for n, i in ids.items() if not n.startswith("fig05x_")}
    new = {n for n, i in ids.items() if n.startswith("fig05x_") and i not in main}
    assert new == {n for n in ids if n.startswith("fig05x_")} - {n for n in ids if n.startswith("fig05x_bump_s0.5_n")
                                                                 and not n.startswith("fig05x_bump_s0.5_n24")}
    with_ext = {p.name for _, p in query.points("fig05", "cpu", extensions=True)}
    own = {p.name for _, p in query.points("fig05", "cpu")}
    assert own < with_ext and not any(n.startswith("fig05x_") for n in own)
    assert with_ext - own == {n for n in sweep if n.startswith("fig05x_")}
    for profile in ("paper", "smoke"):  # the paper's grid has its own N; smoke stays small
        assert not any(p.extends for p in experiments.efficiency_points(profile))
