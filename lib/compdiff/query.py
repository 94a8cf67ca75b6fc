"""One query layer: the runs a figure shows, each a record of (config, stored run or missing).

The notebooks, the report and the CLI (``status``, ``figure --dry-run``) all ask here. A record
carries its config and the swept values read from that config (:func:`params`): nothing is ever
recovered from a run's name. Overrides of a figure's sweep (``-p sigmas='[0.5, 1]'``) are the
fields of its grid (:class:`compdiff.experiments.EfficiencyGrid`,
:class:`compdiff.experiments.ComposeGrid`) and ``preset``; an unknown one is an error that lists
the allowed ones.

Imports only numpy and the store (torch only where a missing run is trained).
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Any

from . import experiments, store
from .experiments import ConfigError

# where each trained figure's runs come from: (source, tag of the figure in the sweep's points);
# a source is a sweep of experiments.SWEEP_POINTS or a single experiment of experiments.EXPERIMENTS
FIGURE_RUNS = {
    "fig02": ("periodic", None), "fig03": ("periodic", None), "fig08": ("periodic", None),
    "fig07": ("basic", None),
    "fig04": ("compose", "fig04"), "fig10": ("compose", "fig10"), "fig11": ("compose", "fig11"),
    "fig12": ("compose", "fig12"),
    "fig05": ("efficiency", "fig05"), "fig06": ("efficiency", "fig06"), "fig14": ("efficiency", "fig14"),
    "fig15": ("efficiency", "fig15"),
}
GRIDS = {"compose": experiments.ComposeGrid, "efficiency": experiments.EfficiencyGrid}

# INFERRED: a run whose accuracy on its own training labels is below this is "unconverged"
CONVERGENCE_BAR = 0.9


def override_names(figure: str) -> tuple[str, ...]:
    """The sweep fields a figure's runs can be overridden by (besides profile, seed, device)."""
    source, _ = _source(figure)
    if source not in GRIDS:
        return ()
    return tuple(f.name for f in dataclasses.fields(GRIDS[source])) + ("preset",)


def _source(figure: str) -> tuple[str, str | None]:
    experiments.figure(figure)
    if figure not in FIGURE_RUNS:
        return "", None
    return FIGURE_RUNS[figure]


def _check_overrides(figure: str, overrides: dict) -> dict:
    overrides = {k: v for k, v in overrides.items() if v is not None}
    allowed = override_names(figure)
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown override(s) {', '.join(unknown)} for {figure}; allowed: "
                          f"{', '.join(allowed) if allowed else 'none (its runs have no sweep)'}")
    return overrides


@dataclass(frozen=True)
class Record:
    """One run of a figure: its point (name, figures, config), its store experiment, and the
    stored run, or None when it is missing."""

    name: str
    figures: tuple
    experiment: str
    config: Any
    run: store.Run | None

    @property
    def stored(self) -> bool:
        return self.run is not None

    @property
    def run_id(self) -> str:
        return store.run_id(self.config)

    @property
    def params(self) -> dict:
        return params(self.config)


def params(cfg) -> dict:
    """The swept values of a run, read from its config: σ, λ (``keep_fraction``), frame size
    ``N``, how it is scored (``kind``: bump, mixed, sos), the dataset and its held-out region, seed."""
    out = {"sigma": float(cfg.sigma), "N": int(cfg.frame), "seed": int(cfg.train.seed)}
    if isinstance(cfg, experiments.ComposeRunConfig):
        out.update(kind=cfg.kind, dataset=cfg.dataset, keep_fraction=float(cfg.keep_fraction), rim=cfg.rim,
                   lesion_width=float(cfg.lesion_width), hole=cfg.hole, hole_width=float(cfg.hole_width))
    else:
        out.update(kind="bump", dataset="periodic" if cfg.periodic else "bump", keep_fraction=1.0)
    return out


def points(figure: str, profile: str, *, seed: int = 0, recipe: str | None = None,
           **overrides) -> list[tuple[str, experiments.Point]]:
    """(store experiment, point) of every run ``figure`` shows at ``profile``; ``recipe``: a cpu
    recipe (:data:`compdiff.experiments.CPU_RECIPES`; default the profile's)."""
    experiments.check_profile(profile)
    overrides = _check_overrides(figure, overrides)
    if recipe is not None:
        experiments.resolve_recipe(profile, recipe)
        overrides["recipe"] = recipe
    source, tag = _source(figure)
    if not source:
        return []
    if source in experiments.SWEEP_POINTS:
        exp = experiments.SWEEP_STORE[source]
        return [(exp, p) for p in experiments.SWEEP_POINTS[source](profile, seed=seed, **overrides)
                if tag in p.figures]
    cfg = experiments.experiment_config(source, profile, seed=seed, **overrides)
    return [(source, experiments.Point(source, tuple(f for f, (s, _) in FIGURE_RUNS.items() if s == source), cfg))]


def records(figure: str, profile: str, *, seed: int = 0, **overrides) -> list[Record]:
    """The records of ``figure``'s runs at ``profile``: stored runs are looked up (verified), never trained."""
    return [Record(p.name, p.figures, exp, p.config, store.lookup(exp, p.config))
            for exp, p in points(figure, profile, seed=seed, **overrides)]


def seeds(figure: str, profile: str, *, seeds=range(10), **overrides) -> dict[str, dict[int, Record]]:
    """{point name: {seed: stored record}} of every run ``figure`` shows at ``profile``, over
    ``seeds`` (looked up, never trained): the per-seed runs behind a curve's spread (issue 20).
    Every point of the figure is a key, in the figure's order; one with no stored seed maps to {}."""
    out: dict = {}
    for s in seeds:
        for r in records(figure, profile, seed=int(s), **overrides):
            by_seed = out.setdefault(r.name, {})
            if r.stored:
                by_seed[int(s)] = r
    return out


def seed_records(by_name: dict) -> list[Record]:
    """The stored records of :func:`seeds`' answer, flattened (one per point and seed)."""
    return [r for by_seed in by_name.values() for r in by_seed.values()]


def fetch(figure: str, profile: str, *, seed: int = 0, device: str = "auto", progress: bool = True,
          quiet: bool = False, **overrides) -> list[Record]:
    """The records of ``figure``, training the missing runs first where training is allowed
    (``COMPDIFF_NO_TRAIN`` unset); prints how many of its distinct runs are stored."""
    pts = points(figure, profile, seed=seed, **overrides)
    if store.training_allowed():
        from . import runs

        by_exp: dict = {}
        for exp, p in pts:
            by_exp.setdefault(exp, {})[p.name] = p.config
        for exp, cfgs in by_exp.items():
            if isinstance(next(iter(cfgs.values())), experiments.ComposeRunConfig):
                runs.get_sweep(exp, cfgs, device=device, progress=progress)
            else:
                for cfg in cfgs.values():
                    runs.get_bump_run(exp, cfg, device=device, progress=progress)
    recs = records(figure, profile, seed=seed, **overrides)
    if not quiet:
        ids = {r.run_id for r in recs}
        have = {r.run_id for r in recs if r.stored}
        print(f"{len(have)} of {len(ids)} models of this figure's sweep ({profile} profile) are stored"
              + ("" if have == ids else "; the panels show those, and mark what is missing"))
    return recs


def stored_by_name(recs: list[Record]) -> dict[str, store.Run]:
    return {r.name: r.run for r in recs if r.stored}


# ---------------------------------------------------------------------------------------------
# Convergence and cost


def training_accuracy(run: store.Run) -> float | None:
    """Accuracy of a stored run on labels it was trained on: the ``id`` region of a composition
    run, its sampled 1D training labels for stripe data, else the accuracy over every label (the
    basic and periodic runs train on all of them)."""
    m = run.json("metrics")
    if "train_1d_accuracy" in m and (m.get("regions") or {}).get("id") is None:
        return float(m["train_1d_accuracy"])
    regions = m.get("regions")
    if regions:
        return None if regions.get("id") is None else float(regions["id"])
    return float(m["accuracy"])


def converged(run: store.Run) -> bool | None:
    a = training_accuracy(run)
    return None if a is None else a >= CONVERGENCE_BAR


def _speed_key(cfg) -> tuple:
    return (store.canonical_json(cfg.unet), cfg.train.batch_size)


def measured_speeds() -> dict[tuple, float]:
    """Median training images/s of the stored runs, by (UNet config, batch size)."""
    speeds: dict = {}
    for run in store.list_runs():
        c = run.config
        t = run.json("metrics").get("train", {}) if "metrics.json" in run.manifest["files"] else {}
        if "unet" in c and t.get("images_per_second"):
            key = (store.canonical_json(c["unet"]), c["train"]["batch_size"])
            speeds.setdefault(key, []).append(float(t["images_per_second"]))
    return {k: statistics.median(v) for k, v in speeds.items()}


def estimated_seconds(cfg, speeds: dict | None = None) -> float | None:
    """Training time of ``cfg`` at the measured speed of stored runs of the same model and batch
    size (None where none is stored): the machine that made those runs, one core."""
    speeds = measured_speeds() if speeds is None else speeds
    ips = speeds.get(_speed_key(cfg))
    return None if not ips else cfg.train.images / ips


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (no stored run of this model size to time)"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def summary(figure: str, profile: str, *, seed: int = 0, speeds: dict | None = None, **overrides) -> dict:
    """Counts for ``status``: distinct runs, stored, missing, unconverged; estimated cost of the missing."""
    recs = records(figure, profile, seed=seed, **overrides)
    distinct = {r.run_id: r for r in recs}
    stored = [r for r in distinct.values() if r.stored]
    missing = [r for r in distinct.values() if not r.stored]
    unconv = [r for r in stored if converged(r.run) is False]
    speeds = measured_speeds() if speeds is None else speeds
    est = [estimated_seconds(r.config, speeds) for r in missing]
    known = [e for e in est if e is not None]
    return {"figure": figure, "profile": profile, "runs": len(distinct), "stored": len(stored),
            "missing": len(missing), "unconverged": len(unconv), "missing_names": [r.name for r in missing],
            "unconverged_names": [r.name for r in unconv],
            "missing_seconds": sum(known) if known else (0.0 if not missing else None),
            "missing_unknown": len(est) - len(known)}


def status_lines(figures: list[str], profile: str, *, seed: int = 0, verbose: bool = False) -> list[str]:
    """The lines ``python -m compdiff status`` prints."""
    speeds = measured_speeds()
    lines = [f"{'figure':<7} {'runs':>5} {'stored':>7} {'missing':>8} {'unconverged':>12}   training the missing "
             f"(one core of the machine that made the stored runs; convergence: training-label accuracy ≥ "
             f"{CONVERGENCE_BAR:.0%})"]
    for fig in figures:
        if fig not in FIGURE_RUNS:
            lines.append(f"{fig:<7} {'—':>5} {'—':>7} {'—':>8} {'—':>12}   no trained model")
            continue
        s = summary(fig, profile, seed=seed, speeds=speeds)
        cost = "—" if not s["missing"] else _hours(s["missing_seconds"])
        if s["missing"] and s["missing_unknown"] and s["missing_seconds"] is not None:
            cost += f" (+{s['missing_unknown']} untimed)"
        lines.append(f"{fig:<7} {s['runs']:>5} {s['stored']:>7} {s['missing']:>8} {s['unconverged']:>12}   {cost}")
        if verbose:
            lines += [f"        missing: {n}" for n in s["missing_names"]]
            lines += [f"        unconverged: {n}" for n in s["unconverged_names"]]
    return lines


def dry_run_lines(figure: str, profile: str, *, seed: int = 0, **overrides) -> list[str]:
    """What ``figure FIG --dry-run`` prints: every config of the figure, its run id, whether it is
    stored (and converged), and the estimated cost of what is missing; nothing is run."""
    recs = records(figure, profile, seed=seed, **overrides)
    if not recs:
        return [f"{figure} ({profile}): no trained model; the notebook only simulates or draws (seconds)"]
    speeds = measured_speeds()
    lines = [f"{figure} ({profile} profile, seed {seed}"
             + (", " + ", ".join(f"{k}={v!r}" for k, v in overrides.items() if v is not None) if any(
                 v is not None for v in overrides.values()) else "") + f"): {len(recs)} run(s)"]
    total, unknown = 0.0, 0
    seen = set()
    for r in recs:
        p = r.params
        keys = {"bump_lesion": ("lesion_width",), "bump_hole": ("hole", "hole_width"), "sos_hole": ("hole", "hole_width"),
                "stripes": ("rim",)}.get(p["dataset"], ("keep_fraction",))
        what = ", ".join(f"{k}={p[k]:g}" if isinstance(p[k], float) else f"{k}={p[k]}"
                         for k in ("dataset", "sigma", *keys, "N"))
        if r.stored:
            conv = converged(r.run)
            state = "stored" + ("" if conv is None else ", converged" if conv else ", UNCONVERGED")
        else:
            est = estimated_seconds(r.config, speeds)
            state = f"missing (≈ {_hours(est)})"
            if r.run_id not in seen:
                total += est or 0.0
                unknown += est is None
        seen.add(r.run_id)
        lines.append(f"  {r.name:<26} {r.experiment}/{r.run_id}  {what}; {r.config.train.images:,} images  {state}")
    lines.append(f"to train: {_hours(total) if total else 'nothing'}"
                 + (f" (+{unknown} run(s) of an untimed model size)" if unknown else "")
                 + f"; train with `python -m compdiff figure {figure} --profile {profile}` (training allowed)")
    return lines
