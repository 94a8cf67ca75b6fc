"""The query layer and the commands built on it: records keyed by config, `status`, `--dry-run`,
and `-p` overrides of a sweep's fields (Figs 5 and 6), replayed on the committed store."""

import ast
import subprocess
import sys

import pytest

from compdiff import cli, paths, query, store
from compdiff.experiments import ConfigError

LIB = paths.ROOT / "lib" / "compdiff"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "compdiff", *args], capture_output=True, text=True,
                          cwd=paths.ROOT, env={**__import__("os").environ, "COMPDIFF_NO_TRAIN": "1"})


def test_records_carry_the_config_and_its_swept_values():
    recs = query.records("fig06", "cpu", sigmas=[0.5, 1.0], keep_fractions=[0.1, 0.2])
    assert len(recs) == 4 and all(r.figures == ("fig06", "fig14", "fig15") for r in recs)
    assert {(r.params["sigma"], r.params["keep_fraction"]) for r in recs} == {(s, k) for s in (0.5, 1.0) for k in (0.1, 0.2)}
    for r in recs:  # the values come from the config, whatever the record is called
        assert (r.config.sigma, r.config.keep_fraction) == (r.params["sigma"], r.params["keep_fraction"])
        assert r.run is None or r.run.run_id == store.run_id(r.config) == r.run_id
    # the committed store holds the cpu runs of Figs 2-4, 7, 8, 10-12
    for fig in ("fig02", "fig04", "fig07", "fig10", "fig11", "fig12"):
        assert all(r.stored for r in query.records(fig, "cpu")), fig
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
    assert lines[0].startswith("figure") and [ln.split()[0] for ln in lines[1:]] == ["fig05", "fig06"]
    fig06 = lines[2].split()
    assert int(fig06[1]) == 24 and int(fig06[2]) + int(fig06[3]) == 24  # runs = stored + missing
    dry = _cli("figure", "fig06", "--dry-run", "-p", "sigmas=[0.5, 1]", "-p", "keep_fractions=[0.1, 0.2]")
    assert dry.returncode == 0, dry.stderr
    rows = [ln for ln in dry.stdout.splitlines() if ln.startswith("  fig06_")]
    assert len(rows) == 4 and all("stored" in ln for ln in rows)  # these four are committed
    assert all(f"compose/{store.run_id(r.config)}" in " ".join(rows)
               for r in query.records("fig06", "cpu", sigmas=[0.5, 1], keep_fractions=[0.1, 0.2]))
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


def test_a_recipe_picks_other_configs_and_is_checked():
    from compdiff import experiments
    default = query.points("fig07", "cpu")[0][1].config
    v = query.points("fig07", "cpu", recipe="v-stop")[0][1].config
    assert v == experiments.basic_config("cpu", recipe="v-stop") != default
    assert default == experiments.basic_config("cpu", recipe=experiments.CPU_RECIPE)
    assert all(p.config.stop is not None for _, p in query.points("fig06", "cpu", recipe="v-stop"))
    with pytest.raises(experiments.ConfigError, match="recipe"):
        query.points("fig06", "cpu", recipe="fast")
    with pytest.raises(experiments.ConfigError, match="cpu profile only"):
        query.points("fig07", "paper", recipe="v-stop")
