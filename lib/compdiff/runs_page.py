"""The runs page: every stored run at a glance, generated from ``results/`` (``book/runs.md``).

``python -m compdiff runs-page`` (run by ``make html``, like the report) writes it. One row per run
of the store: the figure(s) that show it, what it trains on, its seed and profile, whether it
converged (:func:`compdiff.query.converged`), its accuracy, what training it cost; then per run its
accuracy by label class beside the memoriser's (:func:`compdiff.claims.class_accuracies`) and the
command that remakes it. Nothing is typed by hand and nothing varies between two builds of the same
store, so ``make book`` leaves ``git status`` clean.

The figures a run belongs to are found the way the notebooks find them (:func:`compdiff.query.records`
of every trained figure, at every profile and searched seed); a run no figure asks for (made with
sweep overrides, or by code since changed) is listed too, marked so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, experiments, paths, query, store

TITLE = "Stored runs"


@dataclass
class Entry:
    """One stored run and what the page says about it."""

    run: store.Run
    records: list = field(default_factory=list)  # query.Record of every (figure, profile, seed) that uses it
    figures: list = field(default_factory=list)
    profile: str | None = None
    recipe: str | None = None  # the cpu recipe it was trained with (cpu runs only)
    unread: bool = False  # a run of a cpu recipe its figures do not read (yet)
    line: str = ""  # an unread run: the priority-list line that trains it again

    @property
    def where(self) -> str:
        """The profile, its recipe at the cpu profile, and whether its figures read that recipe."""
        return ((self.profile or "—") + (f", recipe {self.recipe}" if self.recipe else "")
                + (" (its figures read another recipe for now)" if self.unread else ""))

    @property
    def ref(self) -> str:
        return f"{self.run.experiment}/{self.run.run_id}"


def entries() -> list[Entry]:
    """Every stored run, with the figures and profile whose records name it (store order)."""
    from .claims import SEEDS_SEARCHED

    by_ref = {f"{r.experiment}/{r.run_id}": Entry(r) for r in store.list_runs()}
    seeds = sorted({int(e.run.config.get("train", {}).get("seed", 0)) for e in by_ref.values()} | {0})
    seeds = [s for s in seeds if s in SEEDS_SEARCHED] or [0]
    for fig in sorted(query.FIGURE_RUNS):
        for profile in experiments.PROFILES:
            for seed in seeds:
                for rec in query.records(fig, profile, seed=seed):
                    if not rec.stored:
                        continue
                    e = by_ref.get(f"{rec.experiment}/{rec.run_id}")
                    if e is None:
                        continue
                    e.records.append(rec)
                    if fig not in e.figures:
                        e.figures.append(fig)
                    e.profile = e.profile or profile
                    if e.profile == "cpu":
                        e.recipe = experiments.recipe_of(rec.config)
    # a run of a cpu recipe its figures do not read (experiments.figure_recipe): name its profile and recipe
    for fig in sorted(query.FIGURE_RUNS):
        shown = experiments.figure_recipe(fig)
        for name in [n for n in experiments.CPU_RECIPES if n != shown]:
            for seed in seeds:
                for rec in query.records(fig, "cpu", seed=seed, recipe=name):
                    e = by_ref.get(f"{rec.experiment}/{rec.run_id}") if rec.stored else None
                    if e is not None and e.profile is None:
                        e.profile, e.recipe, e.unread = "cpu", name, True
                        source = query.FIGURE_RUNS[fig][0]
                        named = f" {rec.name}" if source in experiments.SWEEPS else ""
                        e.line = f"{source} cpu {seed}{named} recipe={name}"
    return list(by_ref.values())


# ---------------------------------------------------------------------------------------------
# What each column says


def data_summary(cfg: dict, budget: bool = True) -> str:
    """What a run trains on, from its stored config: dataset, σ, frame, and the field that sets
    its split (λ, rim, lesion width, hole), with its training budget."""
    if "dataset" in cfg:
        parts = [cfg["dataset"].replace("_", " "), f"σ = {cfg['sigma']:g}", f"N = {cfg.get('n', '?')}"]
        ds = cfg["dataset"]
        if ds == "bump_lesion":
            parts.append(f"lesion w = {cfg['lesion_width']:g}")
        elif ds in ("bump_hole", "sos_hole"):
            parts.append(f"{cfg['hole']} hole W = {cfg['hole_width']:g}")
        elif ds in ("stripes", "sos_stripes", "sos_cross", "bump_stripes"):
            parts.append("with rim" if cfg.get("rim") else "no rim")
            if cfg.get("rim_keep_fraction", 1.0) != 1.0:  # Fig 10's rim sweep
                parts[-1] += f" (share {cfg['rim_keep_fraction']:g} of it)"
        if cfg.get("keep_fraction", 1.0) != 1.0:
            parts.append(f"λ = {cfg['keep_fraction']:g}")
    else:
        parts = ["periodic bumps" if cfg.get("periodic") else "bumps", f"σ = {cfg['sigma']:g}",
                 f"N = {cfg.get('frame', cfg.get('n', '?'))}"]
    encoding = (cfg.get("unet") or {}).get("label_encoding")
    if encoding:  # stored only when not the default (the Figs 2, 3, 8 ablation)
        parts.append(f"{encoding} label encoding")
    t = cfg.get("train", {})
    if budget and t.get("images"):
        parts.append(f"trained until its stop rule's bar, capped at {t['images']:,} images" if cfg.get("stop")
                     else f"{t['images']:,} images seen")
    return ", ".join(parts)


def _pct(x) -> str:
    return "—" if x is None else f"{100 * float(x):.1f}%"


def convergence(run: store.Run) -> str:
    """converged / unconverged (:func:`compdiff.query.converged`) with the final training-label
    accuracy; a stop-rule run says where it stopped."""
    acc, ok = query.training_accuracy(run), query.converged(run)
    if ok is None:
        return "— (no training labels scored)"
    how = {"bar": "at its bar", "cap": "at its cap"}.get(query.stop_outcome(run) or "", "")
    return f"{'converged' if ok else '**unconverged**'} ({', '.join(x for x in (how, _pct(acc)) if x and x != '—')})"


def accuracy(run: store.Run) -> str:
    m = run.json("metrics")
    regions = m.get("regions") or {}
    parts = [f"{_pct(m['accuracy'])} of {m.get('n_eval_labels', '?')}"]
    if regions.get("id") is not None and regions.get("ood") is not None:
        parts.append(f"ID {_pct(regions['id'])} · OOD {_pct(regions['ood'])}")
    return "; ".join(parts)


def _minutes(seconds) -> str:
    if not seconds:
        return "—"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def cost(run: store.Run) -> str:
    m = run.json("metrics")
    t = m.get("train", {})
    if not t.get("train_seconds"):
        return "—"
    ev = sum(float(c.get("eval_seconds", 0.0)) for c in m.get("curve", []))
    device = t.get("device", "?") + (", bf16" if t.get("bf16") else "")
    ips = query.train_speed(t) or 0.0
    return (f"{_minutes(t['train_seconds'])} training + {_minutes(ev)} scoring on {device} "
            f"({ips:.0f} images/s, {t.get('parameters', 0):,} parameters)")


def command(e: Entry) -> str:
    if e.unread:
        return (f"a run of the cpu recipe `{e.recipe}`: the priority line `{e.line}` trains it (in a list of your "
                "own: `make workers PRIORITY=FILE` here, `make gpu-slot` on a GPU)")
    if not e.records:
        return (f"no figure asks for this config (made with sweep overrides or by earlier code): its config is "
                f"`results/{e.ref}/config.json`")
    rec = e.records[0]
    fig = e.figures[0]
    seed = rec.params["seed"]
    return f"`python -m compdiff figure {fig} --profile {e.profile}" + (f" --seed {seed}" if seed else "") + \
        "` (training allowed: it trains what is missing, then scores and stores it)"


def class_accuracy(e: Entry) -> str:
    if not e.records:
        return "—"
    from .claims import class_accuracies

    try:
        return class_accuracies(e.records[0])
    except Exception as err:  # a label class that cannot be rebuilt is reported, not hidden
        return f"not computed ({type(err).__name__}: {err})"


def _figure_links(e: Entry, toc: set) -> str:
    from .report import figure_link

    return ", ".join(figure_link(f, toc) for f in e.figures) or "none"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------------------------------------
# The page


def render_markdown(items: list[Entry] | None = None) -> str:
    from .report import toc_files

    items = entries() if items is None else items
    toc = toc_files()
    n_conv = sum(1 for e in items if query.converged(e.run))
    n_unconv = sum(1 for e in items if query.converged(e.run) is False)
    lines = [
        f"# {TITLE}",
        "",
        "Every run the results store holds (`results/`), with the figures that show it. This page is "
        "**generated** from the store by `python -m compdiff runs-page` (which `make html` runs); no "
        "number on it is typed by hand.",
        "",
        f"Generated by compdiff {__version__} (engine {store.ENGINE_VERSION}): {len(items)} stored run(s), "
        f"{n_conv} converged and {n_unconv} unconverged (a run of a stop-rule recipe is *converged* when it "
        "stopped at its bar, its training-label accuracy above the rule's bar at two consecutive checks, "
        "not at its image cap; any other run when it scores at least "
        f"{query.CONVERGENCE_BAR:.0%} on labels it was trained on, 2D and 1D together for data with "
        "stripes; the percentage shown is that final accuracy; accuracy is the scorer's: one bump, "
        "at the label within ±1 px on both axes, or the stripes/SOS reading of SOS-scored runs). "
        "ID and OOD are the labels inside and outside the run's training region; *isolated* labels "
        "have no training label within the scorer's tolerance, so the memoriser (the image of the "
        "nearest training label) cannot hit them. The [report](report.md) judges the claims from "
        "these runs; `python -m compdiff status` prints the same counts per figure.",
        "",
        "## Overview",
        "",
        "| run | figures | data | seed | profile | training labels | accuracy | training |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in items:
        c = e.run.config
        seed = c.get("train", {}).get("seed", "?")
        t = e.run.json("metrics").get("train", {})
        mins = _minutes(t.get("train_seconds"))
        lines.append(f"| [`{e.ref}`](#{anchor(e)}) | {_figure_links(e, toc)} | {_cell(data_summary(c, budget=False))} | {seed} | "
                     f"{e.where} | {convergence(e.run)} | {_cell(accuracy(e.run))} | {mins} |")
    lines += ["", "## Each run", ""]
    for e in items:
        c = e.run.config
        m = e.run.manifest
        lines += [
            f"({anchor(e)})=",
            f"### `{e.ref}`",
            "",
            f"- **Figures:** {_figure_links(e, toc)}" + (f" ({e.where})" if e.profile else ""),
            f"- **Data and budget:** {data_summary(c)}; seed {c.get('train', {}).get('seed', '?')}",
            f"- **Convergence** (accuracy on its training labels): {convergence(e.run)}",
            f"- **Accuracy:** {accuracy(e.run)}",
            f"- **By label class:** {class_accuracy(e)}",
            f"- **Training cost:** {cost(e.run)}",
            f"- **Made by** compdiff {m.get('library_version', '?')}, engine {m.get('engine_version', '?')}, "
            f"commit {(m.get('git_commit') or 'unknown')[:10]}",
            f"- **Remake:** {command(e)}",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def anchor(e: Entry) -> str:
    return f"run-{e.run.experiment}-{e.run.run_id}"


def write(path: Path | None = None) -> Path:
    path = Path(path) if path else paths.BOOK / "runs.md"
    text = render_markdown()
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m compdiff.runs_page [OUTPUT]``: the same as ``python -m compdiff runs-page``."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    out = write(Path(argv[0]) if argv else None)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
