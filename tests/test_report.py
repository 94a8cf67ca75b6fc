"""The reproduction report (``compdiff.report``): verdicts follow the written rule, stored runs are
attributed to the profile whose config made them, and the page has one row per claim."""

import re

import numpy as np
import pytest

from compdiff import cli, experiments, report, store


def _result(*passed, judged=True):
    return report.Result(value="x", checks=[(f"part {i}", p) for i, p in enumerate(passed)], judged=judged,
                         seeds=(0, 1, 2))


def test_verdict_rule():
    assert report.verdict(_result(True, True)) == "reproduced"
    assert report.verdict(_result(True, False)) == "partly"
    assert report.verdict(_result(False, False)) == "not reproduced"
    assert report.verdict(_result(True, judged=False)) == "undecided"
    assert report.verdict(report.not_yet_run("no runs")) == "undecided"
    assert report.verdict(None) == "undecided"
    assert set(report.BADGES) == set(report.VERDICTS)
    # open parts (runs missing or unconverged) leave it undecided unless it already reads partly
    for passed, expected in (((True, True), "undecided"), ((False, False), "undecided"), ((True, False), "partly")):
        res = _result(*passed)
        res.open = ["σ = 1 (unconverged: r)"]
        assert report.verdict(res) == expected
        text = report.verdict_text(res) if expected == "undecided" else report.open_text(res)
        assert text.endswith(": σ = 1 (unconverged: r)")
        assert ("could change the verdict" in text) == (expected == "undecided")
    # three seeds of the claim, fewer of one configuration its parts read: provisional, naming it
    res = _result(False, False)
    res.seed_groups = {"N = 16": [0, 1, 2], "N = 32": [0, 1]}
    assert report.verdict(res) == "provisional" and "N = 32 at 2 so far" in report.verdict_text(res)
    assert report.badge(res) == "{bdg-info}`provisional (3 seeds; N = 32 at 2 so far)` reads not reproduced"
    res.seed_groups["N = 32"].append(2)
    assert report.verdict(res) == "not reproduced"


def test_claim_registry_is_well_formed():
    assert len(report.CLAIMS) >= 10
    for c in report.CLAIMS.values():
        assert c.title and c.text and c.check and c.source and c.figures, c.key
    with pytest.raises(ValueError, match="figNN"):
        report.claim("bad-fig", title="t", text="t", source="s", figures=("Fig 6",), check="c")(lambda p: None)
    with pytest.raises(ValueError, match="registered twice"):
        report.claim("data-setup", title="t", text="t", source="s", figures=("fig01",), check="c")(lambda p: None)


def test_unknown_claim_or_profile_is_an_error_naming_the_allowed_ones():
    with pytest.raises(experiments.ConfigError, match="allowed: .*data-setup"):
        report.measure_all("smoke", only=["no-such-claim"])
    with pytest.raises(experiments.ConfigError, match="allowed: smoke, cpu, paper"):
        report.measure_all("laptop")


def _fake_basic_run(profile, seed, accuracy, **overrides):
    cfg = experiments.basic_config(profile, seed=seed, **overrides)
    n = cfg.n * cfg.n
    correct = np.arange(n) < round(accuracy * n)
    labels = np.zeros((n, 2), np.float32)
    metrics = {"accuracy": accuracy, "n_eval_labels": n}
    return store.write("basic", cfg, {"metrics": metrics, "samples": {"labels": labels, "correct": correct}})


@pytest.mark.parametrize("accuracies, expected", [((0.97, 0.99, 0.98), "reproduced"), ((0.97, 0.92, 0.99), "partly"),
                                                   ((0.97, 0.99), "provisional"), ((0.1, 0.2, 0.3), "undecided")])
def test_stored_runs_decide_the_verdict(tmp_store, accuracies, expected):
    for seed, acc in enumerate(accuracies):
        _fake_basic_run("cpu", seed, acc)
    res = report.measure_all("smoke", only=["bump-generation"])["bump-generation"]
    assert res.profile == "cpu" and res.seeds == tuple(range(len(accuracies)))
    assert report.verdict(res) == expected
    assert f"{100 * accuracies[0]:.1f}%" in res.value  # the number shown is the stored one


@pytest.mark.parametrize("accuracies, cell, line", [
    ((0.97, 0.99, 0.98), "stable without any one seed", "stable when any one seed is left out"),
    ((0.97, 0.92, 0.99), "seed 1 changes it", "leaving out seed 1 gives reproduced (all seeds: partly)"),
    ((0.97,), "no leave-one-out check", "one seed: no leave-one-seed-out check is possible")])
def test_page_says_what_leaving_one_seed_out_does(tmp_store, accuracies, cell, line):
    for seed, acc in enumerate(accuracies):
        _fake_basic_run("cpu", seed, acc)
    results = report.measure_all("smoke", only=["bump-generation"], stability=True)
    text = report.render_markdown("smoke", results)
    row = re.search(r"^\| 1 \| .*$", text, flags=re.M).group(0)
    assert cell in row
    assert f"- **Leave one seed out:** {line}" in text
    # a reading shown beside the check gets its own line, and the verdict does not read it
    res = results["bump-generation"]
    before = report.verdict(res)
    res.shown = [("at ±0.5 px", "every part reads otherwise")]
    assert "- **Shown, not judged (at ±0.5 px):** every part reads otherwise" in report.render_markdown("smoke", results)
    assert report.verdict(res) == before


def test_smoke_runs_are_shown_but_never_judged(tmp_store):
    _fake_basic_run("smoke", 0, 1.0)
    res = report.measure_all("smoke", only=["bump-generation"])["bump-generation"]
    assert res.profile == "smoke" and "100.0%" in res.value
    assert report.verdict(res) == "undecided" and "smoke" in report.verdict_text(res)


def test_a_run_no_profile_makes_is_not_used(tmp_store):
    _fake_basic_run("cpu", 0, 1.0, sigma=2.0)  # an override: no profile's config
    groups = report.profile_runs("basic", experiments.basic_config)
    assert groups.unmatched == 1 and not groups.judged
    res = report.measure_all("smoke", only=["bump-generation"])["bump-generation"]
    assert report.verdict(res) == "undecided" and "match no current config" in report.verdict_text(res)


def test_no_runs_means_not_yet_run(tmp_store):
    res = report.measure_all("smoke", only=["bump-generation"])["bump-generation"]
    assert report.verdict(res) == "undecided" and res.profile is None


def test_percolation_claim_can_fail(monkeypatch):
    """The simulation check is a real test: λ_c rising with σ makes it fail."""
    from compdiff import percolation

    assert report.verdict(report.measure_all("smoke", only=["percolation-simulation"])["percolation-simulation"]) \
        == "reproduced"
    monkeypatch.setattr(percolation, "crossing", lambda keep_fractions, values, level=0.5: np.linspace(0.2, 0.9, len(values)))
    res = report.measure_all("smoke", only=["percolation-simulation"])["percolation-simulation"]
    assert report.verdict(res) == "not reproduced"


def test_page_has_one_row_per_claim_and_links_to_built_figures(tmp_store):
    text = report.render_markdown("smoke")
    rows = re.findall(r"^\| (\d+) \| (.+)$", text, flags=re.M)
    assert [int(n) for n, _ in rows] == list(range(1, len(report.CLAIMS) + 1))
    for c, (_, row) in zip(report.CLAIMS.values(), rows):
        assert c.title in row
        assert row.count("{bdg-") == 1
    toc = report.toc_files()
    for link in re.findall(r"\]\(\.\./(notebooks/[^)]+)\.ipynb\)", text):
        assert link in toc, link
    assert report.VERDICT_RULE in text
    summary = re.search(r"\*\*Summary:\*\* (.*)\.", text).group(1)
    assert sum(int(n) for n in re.findall(r"(\d+) ", summary)) == len(report.CLAIMS)


def test_cli_writes_the_page_and_rejects_a_bad_profile(tmp_path, tmp_store, capsys):
    out = tmp_path / "report.md"
    assert cli.main(["report", "--output", str(out), "--profile", "smoke"]) == 0
    assert out.read_text().startswith("# Reproduction report")
    assert cli.main(["report", "--output", str(out), "--profile", "laptop"]) == 2
    assert "allowed: smoke, cpu, paper" in capsys.readouterr().err


def test_committed_page_is_generated():
    from compdiff import paths

    text = (paths.BOOK / "report.md").read_text()
    assert "generated" in text and "python -m compdiff report" in text
    assert len(re.findall(r"^\| \d+ \|", text, flags=re.M)) == len(report.CLAIMS)
