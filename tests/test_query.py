"""The query layer and the commands built on it: records keyed by config, `status`, `--dry-run`,
and `-p` overrides of a sweep's fields (Figs 5 and 6), replayed on the committed store."""

import ast
import subprocess
import sys

import pytest

from compdiff import cli, experiments, paths, query, store
from compdiff.experiments import ConfigError

LIB = paths.ROOT / "lib" / "compdiff"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "compdiff", *args], capture_output=True, text=True,
                          cwd=paths.ROOT, env={**__import__("os").environ, "COMPDIFF_NO_TRAIN": "1"})


def test_records_carry_the_config_and_its_swept_values():
    recs = query.records("fig06", "cpu", sigmas=[0.5, 1.0], keep_fractions=[0.1, 0.2])
    # the 32×32 sweep (Figs 6, 14, 15) and its 16×16 seed lattice (Fig 6 only)
    assert len(recs) == 8 and [r.figures for r in recs] == [("fig06", "fig14", "fig15")] * 4 + [("fig06",)] * 4
    assert [r.params["N"] for r in recs] == [32] * 4 + [16] * 4
    assert {(r.params["sigma"], r.params["keep_fraction"]) for r in recs} == {(s, k) for s in (0.5, 1.0) for k in (0.1, 0.2)}
    for r in recs:  # the values come from the config, whatever the record is called
        assert (r.config.sigma, r.config.keep_fraction) == (r.params["sigma"], r.params["keep_fraction"])
        assert r.run is None or r.run.run_id == store.run_id(r.config) == r.run_id
    # the committed store holds the cpu runs of Figs 2-4, 7, 8, 10-12 (but Fig 10's rim sweep, issue 20)
    for fig in ("fig02", "fig04", "fig07", "fig10", "fig11", "fig12"):
        assert all(r.stored for r in query.records(fig, "cpu") if not r.name.startswith("fig10_rim_p")), fig
    assert query.records("fig13", "cpu") == []


def test_unknown_override_names_the_allowed_fields():
    with pytest.raises(ConfigError, match="unknown override.*colour for fig05; allowed: sigmas, keep_fractions"):
        query.records("fig05", "cpu", colour=[1.0])
    with pytest.raises(ConfigError, match="unknown override.*hole_widths for fig07; allowed: none"):
        query.records("fig07", "cpu", hole_widths=[4.0])


def test_status_and_dry_run_on_figs_5_and_6():
    out = _cli("status", "fig05", "fig06", "--profile", "cpu")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("figure") and [ln.split()[0] for ln in lines[1:3]] == ["fig05", "fig06"]
    # then one line per figure still held on its older recipe (experiments.CPU_RECIPE_HELD)
    held = [f for f in ("fig05", "fig06") if f in experiments.CPU_RECIPE_HELD]
    assert [ln.split(" reads ")[0] for ln in lines[3:]] == held
    fig06 = lines[2].split()
    assert int(fig06[1]) == 48 and int(fig06[2]) + int(fig06[3]) == 48  # runs = stored + missing (32×32 and 16×16)
    dry = _cli("figure", "fig06", "--dry-run", "-p", "sigmas=[1]", "-p", "keep_fractions=[0.05, 0.1, 0.2, 0.4]")
    assert dry.returncode == 0, dry.stderr
    rows = [ln for ln in dry.stdout.splitlines() if ln.startswith("  fig06_")]
    assert len(rows) == 4 and all("stored" in ln for ln in rows)  # these four are committed
    assert all(f"compose/{store.run_id(r.config)}" in " ".join(rows)
               for r in query.records("fig06", "cpu", sigmas=[1], keep_fractions=[0.05, 0.1, 0.2, 0.4]) if r.params["N"] == 32)
    n16 = [ln for ln in dry.stdout.splitlines() if ln.startswith("  fig06n16_")]
    assert len(n16) == 4 and all("N=16" in ln for ln in n16)  # the 16×16 seed lattice (Fig 6e's seeds)
    miss = _cli("figure", "fig05", "--dry-run", "-p", "frame_sizes=[48]", "-p", "bump_keep_fractions=[0.5]",
                "-p", "mixed_keep_fractions=[0.5]")
    assert miss.returncode == 0 and miss.stdout.count("missing") == 2 and "to train:" in miss.stdout


@pytest.mark.parametrize("param, message", [
    ("frame_sizes=[20]", r"EfficiencyGrid.frame_sizes\[0\] = 20 is not allowed; allowed: 16, 24, 32"),
    ("keep_fractions=[0, 0.5]", r"EfficiencyGrid.keep_fractions\[0\] = 0 must be a finite number in \(0, 1\]"),
    ("sigmas=[0.5]", "unknown parameter.*sigmas for fig05; allowed: bump_keep_fractions"),
    ("preset=huge", "preset = 'huge' is not allowed; allowed: "),
])
def test_bad_overrides_are_named_before_anything_runs(param, message):
    fig = "fig06" if param.startswith("keep") else "fig05"
    with pytest.raises(ConfigError, match=message):
        cli.resolve_parameters(fig, "cpu", "cpu", 0, [param])
    out = _cli("figure", fig, "--dry-run", "-p", param)
    assert out.returncode == 2 and "error:" in out.stderr and "Traceback" not in out.stderr


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            for alias in node.names:
                yield node.module, alias.name


def test_no_module_imports_another_modules_private_names():
    bad = [(p.name, mod, name) for p in LIB.glob("*.py") for mod, name in _imports(p)
           if name.startswith("_") and not name.startswith("__")]
    assert bad == []
    # nor reaches into one through attribute access (``experiments._x``)
    mods = {p.stem for p in LIB.glob("*.py")}
    reach = []
    for p in LIB.glob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in mods
                    and node.value.id != p.stem and node.attr.startswith("_") and not node.attr.startswith("__")):
                reach.append((p.name, f"{node.value.id}.{node.attr}"))
    assert reach == []


def test_a_recipe_picks_other_configs_and_is_checked(monkeypatch):
    monkeypatch.setitem(experiments.CPU_RECIPE_HELD, "fig06", "wsd-eps")
    default = query.points("fig07", "cpu")[0][1].config
    w = query.points("fig07", "cpu", recipe="wsd-eps")[0][1].config
    assert w == experiments.basic_config("cpu", recipe="wsd-eps") != default
    assert default == experiments.basic_config("cpu", recipe=experiments.CPU_RECIPE)
    # a held figure reads its held recipe by default, and the default when asked
    held = query.points("fig06", "cpu")[0][1].config
    assert experiments.recipe_of(held) == experiments.figure_recipe("fig06") == "wsd-eps"
    assert all(p.config.stop is not None for _, p in query.points("fig06", "cpu", recipe="v-stop"))
    with pytest.raises(experiments.ConfigError, match="recipe"):
        query.points("fig06", "cpu", recipe="fast")
    with pytest.raises(experiments.ConfigError, match="cpu profile only"):
        query.points("fig07", "paper", recipe="v-stop")


def test_each_figure_reads_one_recipe():
    """The cpu default is v-stop; a figure held back (experiments.CPU_RECIPE_HELD) reads its held
    recipe everywhere: every run a figure shows is of the recipe it reads, never a mix. The figures
    of one sweep are held apart: lifting Fig 5's hold moves Fig 5 alone, though Fig 5a at N = 32
    and Fig 6e's σ = 1 column are the same configs."""
    assert experiments.CPU_RECIPE == "v-stop"
    for fig in query.FIGURE_RUNS:
        want = experiments.figure_recipe(fig)
        got = {experiments.recipe_of(p.config) for _, p in query.points(fig, "cpu")}
        assert got == {want}, fig
    held = dict(experiments.CPU_RECIPE_HELD)
    try:
        experiments.CPU_RECIPE_HELD.clear()
        experiments.CPU_RECIPE_HELD.update({f: r for f, r in held.items() if f != "fig05"}, fig06="wsd-eps")
        assert {experiments.recipe_of(p.config) for _, p in query.points("fig05", "cpu")} == {"v-stop"}
        assert {experiments.recipe_of(p.config) for _, p in query.points("fig06", "cpu")} == {"wsd-eps"}
    finally:
        experiments.CPU_RECIPE_HELD.clear()
        experiments.CPU_RECIPE_HELD.update(held)
    # a source with no figure named builds the profile's default
    assert all(experiments.default_recipe(s) == experiments.CPU_RECIPE for s in experiments.RECIPE_SOURCES)
    with pytest.raises(experiments.ConfigError, match="source"):
        experiments.default_recipe("fig07")
    with pytest.raises(experiments.ConfigError, match="figure"):
        experiments.figure_recipe("efficiency")


def test_seeds_gathers_every_stored_seed_of_each_point(tmp_store):
    """query.seeds: per point of a figure, the stored runs by seed (issue 20's spread); a point
    with no stored seed is still a key."""

    for s in (0, 2):
        cfg = experiments.basic_config("cpu", seed=s)
        store.write("basic", cfg, {"metrics": {"accuracy": 0.5 + 0.1 * s, "n_eval_labels": 1}})
    by = query.seeds("fig07", "cpu", seeds=range(4))
    assert list(by) == ["basic"] and sorted(by["basic"]) == [0, 2]
    assert all(r.params["seed"] == s and r.stored for s, r in by["basic"].items())
    assert [r.params["seed"] for r in query.seed_records(by)] == [0, 2]
    assert query.seeds("fig07", "smoke", seeds=range(4)) == {"basic": {}}


def test_seed_curve_and_plotting_helpers():
    """efficiency.seed_curve groups rows by x and seed; plotting.seed_line draws the mean, the
    seeds' points from two seeds and a band from three; one seed is the plain curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from compdiff import efficiency, plotting

    rows = [{"keep_fraction": lam, "seed": s, "accuracy": acc, "sigma": 1.0}
            for lam, s, acc in [(0.1, 0, 0.2), (0.1, 1, 0.4), (0.1, 2, 0.3), (0.2, 0, 0.9), (0.2, 1, None)]]
    xs, vals = efficiency.seed_curve(rows, sigma=1.0)
    assert xs == [0.1, 0.2] and vals == [[0.2, 0.4, 0.3], [0.9]]
    fig, ax = plt.subplots()
    assert plotting.seed_line(ax, xs, vals, "o-", color="tab:blue") == [3, 1]
    assert list(ax.lines[0].get_ydata()) == pytest.approx([0.3, 0.9])  # the mean
    assert len(ax.lines) == 2 and len(ax.collections) == 1  # the seeds' points, one band (at 0.1)
    assert plotting.seed_note(ax, [[3, 1]]) == "1–3 seeds: mean, · each seed, min–max range"
    fig2, ax2 = plt.subplots()
    assert plotting.seed_line(ax2, [1, 2], [[0.5], [0.7]], "s--") == [1, 1]
    assert len(ax2.lines) == 1 and not ax2.collections  # one seed: exactly the old curve
    assert plotting.seed_note(ax2, 1) == "1 seed"
    assert plotting.seed_bars(ax2, [0, 1], [[10, 20, 30], [5]], 0.3) == [3, 1]
    with pytest.raises(ValueError, match="allowed"):
        plotting.seed_line(ax2, [1], [[1, 2, 3]], band="iqr")
    plt.close("all")
