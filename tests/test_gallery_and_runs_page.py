"""The galleries (``compdiff.gallery``) and the runs page (``compdiff.runs_page``), read from the
committed results store (issue 21): labels are chosen by rule, never by outcome; each sample carries
the scorer's call; the runs page lists every stored run and is the same on every build."""

import numpy as np
import pytest

from compdiff import gallery, paths, query, runs_page, store


def test_every_gallery_names_a_figure_with_trained_runs():
    for fig, spec in gallery.GALLERIES.items():
        assert fig in query.FIGURE_RUNS, fig
        names = {r.name for r in query.records(fig, "cpu")}
        assert spec.names is None or set(spec.names) <= names, (fig, set(spec.names) - names)


def test_spread_is_even_and_keeps_order():
    idx = np.arange(100, 200)
    assert list(gallery._spread(idx, 3)) == [100, 150, 199]
    assert list(gallery._spread(idx[:2], 5)) == [100, 101]
    assert gallery._spread(idx, 0).size == 0


def test_calls_name_what_the_scorer_saw():
    assert gallery._calls([True, False, False, False], np.array([1, 0, 2, 1])) == ["right", "none", "several", "wrong"]
    assert gallery._calls([True, False], None) == ["sos_right", "sos_wrong"]


@pytest.fixture(scope="module")
def fig04():
    recs = query.records("fig04", "cpu")
    if not any(r.stored for r in recs):
        pytest.skip("no stored Fig 4 run")
    return recs


def test_gallery_labels_do_not_depend_on_the_outcome(fig04, monkeypatch):
    """The same labels whatever the model got right: flipping every stored call changes no label."""
    rec = next(r for r in fig04 if r.stored and r.name == "fig04_sos_stripes")
    spec = gallery.GALLERIES["fig04"]
    a = gallery.strip(rec, spec)
    real = store.Run.arrays

    def flipped(self, name):
        out = real(self, name)
        if name == "samples":
            out = {**out, "correct": ~out["correct"]}
        return out

    monkeypatch.setattr(store.Run, "arrays", flipped)
    b = gallery.strip(rec, spec)
    assert np.array_equal(a.labels, b.labels)
    assert [c.endswith("right") for c in a.calls] == [not c.endswith("right") for c in b.calls]
    assert sum(c != "train" for c in a.classes) <= spec.held_out and a.classes.count("train") <= spec.train
    s = rec.run.arrays("samples")
    grid = {tuple(lab) for lab in s["labels"][s["grid_index"]]}
    assert all(tuple(lab) in grid for lab in a.labels.astype(np.float32))  # stored images only
    assert a.memoriser is not None and a.memoriser.shape == a.sample.shape == a.truth.shape


def test_gallery_figure_draws_every_named_model(fig04):
    import matplotlib.pyplot as plt

    fig = gallery.draw("fig04", fig04)
    assert fig is not None
    titles = [sf._suptitle.get_text() for sf in fig.subfigs]
    assert titles == [n for n in gallery.GALLERIES["fig04"].names if any(r.name == n and r.stored for r in fig04)]
    plt.close(fig)


def test_runs_page_lists_every_stored_run_and_is_deterministic():
    runs = store.list_runs()
    if not runs:
        pytest.skip("empty store")
    items = runs_page.entries()
    a = runs_page.render_markdown(items)
    assert a == runs_page.render_markdown(items)
    for r in runs:
        assert f"`{r.experiment}/{r.run_id}`" in a
    assert a.count("\n### `") == len(runs)


def test_runs_page_on_an_empty_store(tmp_store):
    text = runs_page.render_markdown()
    assert text.startswith(f"# {runs_page.TITLE}") and "0 stored run(s)" in text


def test_committed_runs_page_is_generated():
    text = (paths.BOOK / "runs.md").read_text()
    assert "generated" in text and "python -m compdiff runs-page" in text


def test_runs_page_names_a_non_default_recipe_and_a_stop_rule(tmp_path):
    """Every cpu run is labelled with its recipe; a run of a recipe its figures do not read (yet:
    experiments.figure_recipe) says so and shows no figure, and a stop-rule run's budget reads as
    a cap, not as the images it saw."""
    from compdiff import experiments, gpu_slot

    items = runs_page.entries()
    for e in items:
        budget = runs_page.data_summary(e.run.config)
        assert ("capped at" in budget) == bool(e.run.config.get("stop")) and ("images seen" in budget) != ("capped at" in budget)
        if e.profile == "cpu":
            assert e.recipe == experiments.recipe_of(e.run.config)
        if e.figures and e.profile == "cpu":  # a figure reads it: of the recipe its source reads
            assert not e.unread
    unread = [e for e in items if e.unread]
    if not unread:
        pytest.skip("no run of a cpu recipe its figures do not read is stored")
    for e in unread:
        assert e.recipe in experiments.CPU_RECIPES and not e.figures
    # the remake line it names is a priority-list line that trains exactly that run
    for e in unread[:5]:
        path = tmp_path / "line.txt"
        path.write_text(e.line + "\n")
        jobs = gpu_slot.resolve(gpu_slot.read_priority(path))
        assert f"{e.run.experiment}/{e.run.run_id}" in {f"{j.experiment}/{j.run_id}" for j in jobs}, e.line
        assert f"`{e.line}`" in runs_page.command(e)
    text = runs_page.render_markdown(items)
    assert text.count("(its figures read another recipe for now)") >= 2 * len(unread)
