"""The figure runner and the command line: bad input is an error that lists what is allowed."""

import json
import subprocess
import sys

import pytest

from compdiff import assumptions, cli, experiments, paths
from compdiff.experiments import ConfigError


def test_every_registered_figure_has_a_notebook_with_parameters():
    for key in experiments.FIGURES:
        params = cli.notebook_parameters(experiments.notebook_path(key))
        assert {"profile", "seed", "device"} <= set(params), key
        assert params["profile"] == experiments.DEFAULT_PROFILE


def test_unknown_figure_lists_available():
    with pytest.raises(ConfigError, match="available: .*fig13"):
        cli.resolve_parameters("fig99", "smoke", "cpu", 0, [])


def test_unknown_profile_lists_allowed():
    with pytest.raises(ConfigError, match="allowed: smoke, cpu, paper"):
        cli.resolve_parameters("fig13", "huge", "cpu", 0, [])


def test_unknown_device_lists_allowed():
    with pytest.raises(ConfigError, match="allowed: auto, cpu, cuda, mps"):
        cli.resolve_parameters("fig13", "smoke", "tpu", 0, [])


def test_unknown_parameter_lists_allowed():
    with pytest.raises(ConfigError, match="unknown parameter.*sigma_typo.*allowed: device, profile, seed"):
        cli.resolve_parameters("fig13", "smoke", "cpu", 0, ["sigma_typo=3"])
    with pytest.raises(ConfigError, match="name=value"):
        cli.resolve_parameters("fig13", "smoke", "cpu", 0, ["oops"])


def test_notebook_without_parameters_cell_is_an_error(tmp_path):
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": [], "execution_count": None}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    p = tmp_path / "nb.ipynb"
    p.write_text(json.dumps(nb))
    with pytest.raises(ConfigError, match="no cell tagged 'parameters'"):
        cli.notebook_parameters(p)


def test_command_line_exit_code_and_message():
    r = subprocess.run([sys.executable, "-m", "compdiff", "figure", "fig99", "--profile", "smoke"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "unknown figure 'fig99'" in r.stderr and "fig01" in r.stderr


def test_run_figure_smoke_end_to_end(tmp_path):
    out = tmp_path / "fig13.ipynb"
    cli.run_figure("fig13", profile="smoke", device="cpu", output=out, progress=False)
    nb = json.loads(out.read_text())
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "profile = \"smoke\"" in "".join(injected[0]["source"])
    text = json.dumps(nb)
    assert "Traceback" not in text and "rerun: python -m compdiff figure fig13 --profile smoke" in text


def test_assumptions_page_is_current():
    """The committed page equals what the code generates (regenerate: python -m compdiff assumptions)."""
    assert (paths.BOOK / "assumptions.md").read_text() == assumptions.render_markdown()


def test_config_overrides_are_validated():
    with pytest.raises(ConfigError, match="unknown field.*trails.*allowed"):
        experiments.percolation_config("cpu", trails=3)
    with pytest.raises(ConfigError, match="overlap"):
        experiments.percolation_config("cpu", overlap="fuzzy")
    with pytest.raises(ConfigError, match="keep_fractions"):
        experiments.percolation_config("cpu", keep_fractions=(0.0, 0.5))
