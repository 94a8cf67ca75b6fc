"""Where a dense sweep's extra seeds go (issue 20: compdiff.placement): the cells around each
crossing, so that a seed after the first decides its curve's crossing exactly as the full curve
would, with fewer runs."""

import numpy as np
import pytest

from compdiff import efficiency, experiments, gpu_slot, placement, query, store
from compdiff.experiments import ConfigError

GRID = (0.05, 0.1, 0.2, 0.4, 0.7)


def test_frontier_starts_from_the_reference_bracket_and_stops_when_decided():
    ref = {0.05: 0.1, 0.1: 0.3, 0.2: 0.55, 0.4: 0.8, 0.7: 0.9}  # crosses 0.6 between 0.2 and 0.4
    assert placement.frontier(GRID, {}, ref, 0.6) == [0.2, 0.4]
    # the seed's own values take over: one grid step towards its crossing
    assert placement.frontier(GRID, {0.2: 0.7, 0.4: 0.9}, ref, 0.6) == [0.1]
    assert placement.frontier(GRID, {0.2: 0.3, 0.4: 0.5}, ref, 0.6) == [0.7]
    # decided: between neighbours, at the smallest share, or never reached on the whole grid
    assert placement.frontier(GRID, {0.1: 0.5, 0.2: 0.7}, ref, 0.6) == []
    assert placement.frontier(GRID, {0.05: 0.9}, ref, 0.6) == []
    assert placement.frontier(GRID, {0.4: 0.3, 0.7: 0.5}, ref, 0.6) == []
    # the reference's own end readings, and nothing while it is undecided
    assert placement.frontier(GRID, {}, {0.05: 0.8}, 0.6) == [0.05]
    assert placement.frontier(GRID, {}, {0.7: 0.1}, 0.6) == [0.7]
    assert placement.frontier(GRID, {}, {0.2: 0.1, 0.7: 0.9}, 0.6) == []
    assert placement.frontier(GRID, {}, {}, 0.6) == []


@pytest.mark.parametrize("seed", range(40))
def test_walking_the_frontier_reads_the_full_curves_crossing(seed):
    """From any reference, the seed's runs the frontier asks for read the same crossing as its full
    curve (efficiency.data_needed over every share), and never cost more than the full grid."""
    rng = np.random.default_rng(seed)
    grid = tuple(sorted(rng.choice([0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0], size=rng.integers(2, 8),
                                   replace=False)))
    full = dict(zip(grid, np.sort(rng.uniform(0, 1, len(grid)))))  # accuracy never falls as the share grows
    ref = dict(zip(grid, np.sort(rng.uniform(0, 1, len(grid)))))
    if placement.decided(grid, ref, 0.6) is None:
        ref = {}
    own = {}
    for _ in range(len(grid) + 1):
        todo = placement.frontier(grid, own, ref, 0.6) if ref else []
        if not todo:
            break
        assert not set(todo) & set(own)
        own.update({x: full[x] for x in todo})
    if not ref:
        assert own == {}
        return
    assert len(own) <= len(grid)
    want = efficiency.data_needed(grid, [full[x] for x in grid], 0.6)
    xs = sorted(own)
    got = efficiency.data_needed(xs, [own[x] for x in xs], 0.6)
    assert placement.decided(grid, own, 0.6) == want.how == got.how
    assert np.isclose(got.value, want.value, equal_nan=True)


def _write(cfg, metrics):
    store.write("compose", cfg, {"metrics": {"n_eval_labels": 1, "n_train_images": 1, **metrics}})


def _to_train(jobs) -> list[str]:
    return [j.name for j in jobs if store.lookup(j.experiment, j.config) is None]


def test_an_around_line_keeps_the_cells_next_to_seed_zeros_crossing(tmp_store, tmp_path):
    text = "efficiency cpu 1 fig05_bump_n16_* around=fig05\nefficiency cpu 1 fig06n16_s0.5_* around=fig06\n"
    (tmp_path / "p.txt").write_text(text)
    entries = gpu_slot.read_priority(tmp_path / "p.txt")
    assert entries[0].around == "fig05" and str(entries[0]).endswith("around=fig05")
    notes = []
    assert gpu_slot.resolve(entries, None, notes) == []  # nothing stored at seed 0: wait for it
    assert "0 run(s)" in notes[0] and "1 waiting for seed 0" in notes[0]
    sweep0 = experiments.efficiency_sweep("cpu", seed=0)
    g = experiments.efficiency_grid("cpu")
    for lam, acc in zip(g.bump_keep_fractions, (0.1, 0.2, 0.5, 0.8, 0.9, 1.0)):
        _write(sweep0[f"fig05_bump_n16_p{lam:g}"], {"accuracy": acc})
    for lam, ood in zip(g.keep_fractions, (0.0, 0.1, 0.6, 0.9, 0.9)):
        _write(sweep0[f"fig06n16_s0.5_l{lam:g}"], {"accuracy": ood, "regions": {"ood": ood}})
    jobs = gpu_slot.resolve(entries)
    assert [j.name for j in jobs] == ["fig05_bump_n16_p0.2", "fig05_bump_n16_p0.4",
                                      "fig06n16_s0.5_l0.1", "fig06n16_s0.5_l0.2"]
    assert all(j.config.train.seed == 1 for j in jobs)
    # seed 1 crosses later than seed 0: the next step is the next share up, then it is decided
    sweep1 = experiments.efficiency_sweep("cpu", seed=1)
    _write(sweep1["fig05_bump_n16_p0.2"], {"accuracy": 0.3})
    _write(sweep1["fig05_bump_n16_p0.4"], {"accuracy": 0.5})
    assert _to_train(gpu_slot.resolve(entries[:1])) == ["fig05_bump_n16_p0.7"]
    _write(sweep1["fig05_bump_n16_p0.7"], {"accuracy": 0.7})
    notes = []
    jobs = gpu_slot.resolve(entries[:1], None, notes)
    assert _to_train(jobs) == [] and "0 run(s) to train" in notes[0] and "1 decided" in notes[0]
    # a decided line still names the runs it stored (status --priority counts them, the trainer skips them)
    assert [j.name for j in jobs] == ["fig05_bump_n16_p0.2", "fig05_bump_n16_p0.4", "fig05_bump_n16_p0.7"]
    assert "3 stored" in notes[0]
    rows, _ = query.priority_rows(tmp_path / "p.txt", cpu_bf16=False)
    assert (rows[0]["runs"], rows[0]["stored"], rows[0]["missing"]) == (3, 3, 0)


@pytest.mark.parametrize("text, match", [
    ("compose cpu 1 fig10 around=fig10\n", "around= applies to efficiency only"),
    ("efficiency cpu 1 fig05 around=fig15\n", "around = 'fig15' is not allowed; allowed: fig05, fig06"),
])
def test_bad_around_is_named(tmp_path, text, match):
    (tmp_path / "p.txt").write_text(text)
    with pytest.raises(ConfigError, match=match):
        gpu_slot.read_priority(tmp_path / "p.txt")


def test_fig05_extensions_start_from_the_sigma_one_curves_and_refine_inside_their_brackets(tmp_store, tmp_path):
    """around=fig05x (issue 20): N = 40, 48 and σ = 0.5 start from the share where the seed's σ = 1
    curve first reaches 60% (at the largest decided N; at the same N) and walk from there; a finer
    share is trained only inside a σ = 1 curve's decided bracket."""
    (tmp_path / "p.txt").write_text("efficiency cpu 0 fig05x_bump_* around=fig05x\n"
                                    "efficiency cpu 1 fig05x_bump_* around=fig05x\n")
    entries = gpu_slot.read_priority(tmp_path / "p.txt")
    notes = []
    assert gpu_slot.resolve(entries, None, notes) == []  # no σ = 1 curve decided yet: every curve waits
    assert "0 run(s)" in notes[0] and "waiting" in notes[0]
    sweep0 = experiments.efficiency_sweep("cpu", seed=0)
    g = experiments.efficiency_grid("cpu")
    for N, accs in ((16, (0.1, 0.2, 0.5, 0.8, 0.9, 1.0)), (32, (0.3, 0.5, 0.7, 0.9, 1.0, 1.0))):
        for lam, acc in zip(g.bump_keep_fractions, accs):
            _write(sweep0[f"fig05_bump_n{N}_p{lam:g}"], {"accuracy": acc})
    names = [j.name for j in gpu_slot.resolve(entries[:1])]
    assert sorted(names) == sorted([
        "fig05x_bump_n40_p0.2", "fig05x_bump_n48_p0.2",  # N = 32 first reaches 60% at 0.2
        "fig05x_bump_s0.5_n16_p0.4", "fig05x_bump_s0.5_n32_p0.2",  # the σ = 1 curve at the same N
        "fig05x_bump_n16_p0.28", "fig05x_bump_n32_p0.14"])  # the midpoints of the two brackets
    # σ = 0.5 at N = 16 is below 60% at 0.4: one grid step up; the finer shares, once stored, are done
    _write(sweep0["fig05x_bump_s0.5_n16_p0.4"], {"accuracy": 0.4})
    _write(sweep0["fig05x_bump_n16_p0.28"], {"accuracy": 0.6})
    names = _to_train(gpu_slot.resolve(entries[:1]))
    assert "fig05x_bump_s0.5_n16_p0.7" in names and "fig05x_bump_n16_p0.28" not in names
    assert "fig05x_bump_n16_p0.28" in [j.name for j in gpu_slot.resolve(entries[:1])]  # kept, stored
    assert "fig05x_bump_n32_p0.14" in names
    # seed 1 takes seed 0's bracket where seed 0 decided it, and waits elsewhere
    _write(sweep0["fig05x_bump_s0.5_n16_p0.7"], {"accuracy": 0.9})
    notes = []
    names = _to_train(gpu_slot.resolve(entries[1:], None, notes))
    assert sorted(names) == ["fig05x_bump_s0.5_n16_p0.4", "fig05x_bump_s0.5_n16_p0.7"]
    assert all(j.config.train.seed == 1 for j in gpu_slot.resolve(entries[1:]))


def test_extension_runs_are_trained_only_when_named():
    """A priority line without a filter, or with a figure key, leaves Fig 5's extensions out; a
    pattern over their names keeps them."""
    pts = experiments.efficiency_points("cpu")
    ext = [p for p in pts if p.extends]
    assert ext and all(p.extends == "fig05" and p.figures == () and p.name.startswith("fig05x_") for p in ext)
    assert not any(gpu_slot.keeps((), p) or gpu_slot.keeps(("fig05",), p) for p in ext)
    assert all(gpu_slot.keeps(("fig05x_*",), p) for p in ext)
    assert all(gpu_slot.keeps((), p) for p in pts if not p.extends)
