"""Issue 20's experiments that tell causes apart: the rim's size (Fig 10) and the periodic label
encoding (Figs 2, 3, 8). Configs, their run ids, and the runs stored before them keeping theirs."""

import pytest

from compdiff import datasets, experiments, gpu_slot, query, store
from compdiff.experiments import ComposeRunConfig, ConfigError

# runs stored before these fields existed (results/): their ids must not move
STORED_BEFORE = {
    "periodic": ("periodic", lambda: experiments.periodic_config("cpu", recipe="wsd-eps"), "8fae072efd287010"),
    "fig04_stripes": ("compose", lambda: experiments.compose_sweep("cpu", recipe="wsd-eps")["fig04_stripes"],
                      "6fd57d523d601fc1"),
    "fig10_stripes_norim": ("compose",
                            lambda: experiments.compose_sweep("cpu", recipe="wsd-eps")["fig10_stripes_norim"],
                            "24b4ec326f0a1ae7"),
}


@pytest.mark.parametrize("name", sorted(STORED_BEFORE))
def test_runs_stored_before_keep_their_ids(name):
    _, make, rid = STORED_BEFORE[name]
    cfg = make()
    assert store.run_id(cfg) == rid
    text = store.canonical_json(cfg)
    assert "label_encoding" not in text and "rim_keep_fraction" not in text


def test_every_point_but_the_rim_sweep_keeps_the_whole_rim():
    for profile in experiments.PROFILES:
        for p in experiments.compose_points(profile) + experiments.efficiency_points(profile):
            assert (p.config.rim_keep_fraction < 1) == p.name.startswith("fig10_rim_p"), p.name


# ---------------------------------------------------------------------------------------------
# the rim's size (Fig 10)


def test_rim_sweep_points_per_profile():
    for profile, n in (("smoke", 1), ("cpu", 4), ("paper", 7)):
        grid = experiments.compose_grid(profile)
        assert len(grid.rim_keep_fractions) == n
        pts = [p for p in experiments.compose_points(profile) if p.name.startswith("fig10_rim_p")]
        assert [p.config.rim_keep_fraction for p in pts] == list(grid.rim_keep_fractions)
        assert all(p.figures == ("fig10",) and p.config.dataset == "stripes" and p.config.rim for p in pts)
        assert len({store.run_id(p.config) for p in pts}) == n
    cpu = experiments.compose_sweep("cpu")
    assert [n for n in cpu if n.startswith("fig10_rim")] == [
        "fig10_rim_p0.5", "fig10_rim_p0.2", "fig10_rim_p0.05", "fig10_rim_p0.01"]
    # the figure's query and an override of the grid (an empty grid: no sweep)
    names = [r.name for r in query.records("fig10", "cpu")]
    assert names[:2] == ["fig04_stripes", "fig10_stripes_norim"] and names[2:] == list(cpu)[4:8]
    assert [r.name for r in query.records("fig10", "cpu", rim_keep_fractions=[0.1])][2:] == ["fig10_rim_p0.1"]
    assert len(query.records("fig10", "cpu", rim_keep_fractions=())) == 2
    with pytest.raises(ConfigError, match="rim_keep_fractions"):
        experiments.compose_grid("cpu", rim_keep_fractions=(1.0,))  # p = 1 is fig04_stripes


def test_which_rim_labels_are_kept_depends_on_the_config_not_the_training_seed():
    def rim_of(seed, **kw):
        cfg = experiments.compose_sweep("smoke", seed=seed)["fig10_rim_p0.2"]
        ds = datasets.compose_data(experiments.replace(cfg, **kw))[0]
        return {tuple(v) for v in ds.labels[ds.masks["rim"]].tolist()}

    assert rim_of(0) == rim_of(1) == rim_of(2)
    assert len(rim_of(0)) == 2 * 38
    assert rim_of(0, split_seed=1) != rim_of(0)


# ---------------------------------------------------------------------------------------------
# the periodic label encoding (Figs 2, 3, 8)


def test_periodic_label_encoding_is_its_own_run_of_the_periodic_experiment():
    for profile in experiments.PROFILES:
        kw = {"recipe": "v-stop"} if profile == "cpu" else {}
        default = experiments.periodic_config(profile, **kw)
        abl = experiments.periodic_config(profile, label_encoding="periodic", **kw)
        assert experiments.periodic_config(profile, label_encoding="sinusoidal", **kw) == default
        assert abl.unet.label_encoding == "periodic" and default.unet.label_encoding == "sinusoidal"
        # nothing else differs
        assert experiments.replace(abl, unet=default.unet) == default
        assert store.run_id(abl) != store.run_id(default)
        assert abl == experiments.experiment_config("periodic", profile, label_encoding="periodic", **kw)
    with pytest.raises(ConfigError, match="UNetConfig.label_encoding = 'cos' is not allowed; "
                                          "allowed: 'sinusoidal', 'periodic'"):
        experiments.periodic_config("cpu", label_encoding="cos")
    # a lattice with edges cannot take it
    base = experiments.basic_config("smoke")
    with pytest.raises(ConfigError, match="label_encoding = 'periodic' needs periodic = True"):
        experiments.replace(base, unet=experiments.replace(base.unet, label_encoding="periodic"))


def test_capacity_is_its_own_run_of_the_periodic_experiment():
    """periodic_config(preset=): another UNet, otherwise the same run (and combinable with the label
    encoding); an unknown preset names the allowed ones."""
    from compdiff.config import PRESETS

    for profile in ("cpu", "smoke"):
        default = experiments.periodic_config(profile)
        small = experiments.periodic_config(profile, preset="small")
        assert small.unet == PRESETS["small"] and experiments.replace(small, unet=default.unet) == default
        assert store.run_id(small) != store.run_id(default)
        both = experiments.periodic_config(profile, preset="small", label_encoding="periodic")
        assert both.unet == experiments.replace(PRESETS["small"], label_encoding="periodic")
    with pytest.raises(ConfigError, match="preset = 'huge' is not allowed"):
        experiments.periodic_config("cpu", preset="huge")


def test_priority_preset_token(tmp_path):
    """A priority line's preset=NAME: resolved into the configs, written back by str(entry), refused
    on a source without presets or with an unknown name."""
    p = tmp_path / "prio.txt"
    p.write_text("periodic cpu 0,1 preset=small recipe=v-stop\ncompose cpu 0 fig11_lesion8 preset=small\n")
    e1, e2 = gpu_slot.read_priority(p)
    assert e1.preset == "small" and str(e1) == "periodic cpu 0,1 recipe=v-stop preset=small"
    jobs = gpu_slot.resolve([e1, e2])
    assert [j.config for j in jobs[:2]] == [experiments.periodic_config("cpu", seed=s, recipe="v-stop", preset="small")
                                            for s in (0, 1)]
    assert jobs[0].name == "periodic (preset=small)"
    assert jobs[2].config == experiments.compose_sweep("cpu", preset="small")["fig11_lesion8"]
    for bad, msg in (("basic cpu 0 preset=small", "preset= applies to periodic, compose, efficiency only"),
                     ("periodic cpu 0 preset=huge", "preset = 'huge' is not allowed; allowed: ")):
        p.write_text(bad + "\n")
        with pytest.raises(ConfigError, match=msg):
            gpu_slot.read_priority(p)


def test_priority_list_holds_both_ablations():
    entries = gpu_slot.read_priority()
    jobs = gpu_slot.resolve(entries)
    by_line = {e.line: e for e in entries}
    rim = [j for j in jobs if j.name.startswith("fig10_rim_p")]
    assert len(rim) == 4 * 3 and {j.config.stop is not None for j in rim} == {True}  # v-stop, seeds 0-2
    assert {j.config.train.seed for j in rim} == {0, 1, 2}
    # seed 0 of every composition run first (breadth first: the runs the figures need, then the rim
    # sweep), seeds 1 and 2 after (the runs claims 6-8 judge, then the ablations' seeds, the rim
    # sweep among them, before the runs a figure only shows); the ablation's seed 0 between the two
    compose = [e for e in entries if e.source == "compose"]
    rim_lines = [e for e in compose if e.filters == ("fig10",)]
    assert [by_line[rim[0].entry.line], by_line[rim[-1].entry.line]] == rim_lines == [compose[1], rim_lines[-1]]
    assert compose[1].seeds == (0,) and rim_lines[-1].seeds == (1, 2)
    assert "fig11_lesion8" in compose[2].filters and compose[2].seeds == (1, 2)
    shown_only = [e for e in compose if e.seeds == (1, 2) and "fig12" in e.filters]  # the rest of Figs 4, 11, 12
    assert len(shown_only) == 1 and compose[2].line < rim_lines[-1].line < shown_only[0].line
    abl = [j for j in jobs if j.config.unet.label_encoding == "periodic"]
    assert [(j.experiment, j.config.train.seed) for j in abl] == [("periodic", s) for s in (0, 1, 2)]
    assert all(j.config == experiments.periodic_config("cpu", seed=j.config.train.seed, recipe="v-stop",
                                                       label_encoding="periodic") for j in abl)
    assert compose[1].line < abl[0].entry.line < compose[2].line < abl[-1].entry.line < rim_lines[-1].line
