"""One query layer: the runs a figure shows, each a record of (config, stored run or missing).

The notebooks, the report and the CLI (``status``, ``status --priority``, ``figure --dry-run``) all ask here. A record
carries its config and the swept values read from that config (:func:`params`): nothing is ever
recovered from a run's name. Overrides of a figure's sweep (``-p sigmas='[0.5, 1]'``) are the
fields of its grid (:class:`compdiff.experiments.EfficiencyGrid`,
:class:`compdiff.experiments.ComposeGrid`) and ``preset``; an unknown one is an error that lists
the allowed ones.

Imports only numpy and the store (torch only where a missing run is trained).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import experiments, paths, store
from .config import PRESETS, DiffusionConfig, TrainConfig, UNetConfig
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


def points(figure: str, profile: str, *, seed: int = 0, recipe: str | None = None, extensions: bool = False,
           **overrides) -> list[tuple[str, experiments.Point]]:
    """(store experiment, point) of every run ``figure`` shows at ``profile``; ``recipe``: a cpu
    recipe (:data:`compdiff.experiments.CPU_RECIPES`; default the one the figure reads:
    :func:`compdiff.experiments.figure_recipe`); ``extensions``: also
    the runs that extend the figure (:attr:`compdiff.experiments.Point.extends`: trained only around
    a crossing, never by the figure's own rerun)."""
    experiments.check_profile(profile)
    overrides = _check_overrides(figure, overrides)
    if recipe is not None:
        experiments.resolve_recipe(profile, recipe)
        overrides["recipe"] = recipe
    elif profile == "cpu" and figure in FIGURE_RUNS:
        overrides["recipe"] = experiments.figure_recipe(figure)
    source, tag = _source(figure)
    if not source:
        return []
    if source in experiments.SWEEP_POINTS:
        exp = experiments.SWEEP_STORE[source]
        return [(exp, p) for p in experiments.SWEEP_POINTS[source](profile, seed=seed, **overrides)
                if tag in p.figures or extensions and p.extends == tag]
    cfg = experiments.experiment_config(source, profile, seed=seed, **overrides)
    return [(source, experiments.Point(source, tuple(f for f, (s, _) in FIGURE_RUNS.items() if s == source), cfg))]


def records(figure: str, profile: str, *, seed: int = 0, **overrides) -> list[Record]:
    """The records of ``figure``'s runs at ``profile`` (``extensions=True``: and of the runs that
    extend it): stored runs are looked up (verified), never trained."""
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
    run; for data with 1D stripes, its sampled 1D training labels too, weighted by their counts
    (a Fig 5b set of 3 bumps and 192 stripes is read on all 195, not on its 3 bumps alone, where
    one miss reads 67%); else the accuracy over every label (the basic and periodic runs train on
    all of them)."""
    m = run.json("metrics")
    regions = m.get("regions") or {}
    if "train_1d_accuracy" in m:
        a1, n1 = float(m["train_1d_accuracy"]), m.get("train_1d_labels")
        a2, n2 = regions.get("id"), (m.get("region_sizes") or {}).get("id")
        if a2 is None:
            return a1
        if n1 and n2:
            return (float(a2) * n2 + a1 * n1) / (n2 + n1)
        return float(a2)  # a record without the counts: its 2D training labels, as before
    if regions:
        return None if regions.get("id") is None else float(regions["id"])
    return float(m["accuracy"])


def stop_outcome(run: store.Run) -> str | None:
    """How a stop-rule run ended: "bar" (its training-label accuracy passed the rule's bar at two
    consecutive checks), "cap" (it reached its image cap first), or None (no stop rule)."""
    if not run.config.get("stop"):
        return None
    return (run.json("metrics").get("stop") or {}).get("stopped")


def converged(run: store.Run) -> bool | None:
    """Whether a run learned its training labels: a stop-rule run, whether it stopped at its bar
    (not at its cap): the rule is the recipe's own convergence test; any other run, whether its
    :func:`training_accuracy` reaches :data:`CONVERGENCE_BAR` (None where it has none)."""
    how = stop_outcome(run)
    if how in ("bar", "cap"):
        return how == "bar"
    a = training_accuracy(run)
    return None if a is None else a >= CONVERGENCE_BAR


def train_speed(train: dict) -> float | None:
    """A stored run's training images/s from its metrics' ``train`` block: the speed of its last
    training process, or, where that process trained nothing (a stop-rule run is trained, then
    resumed at its end to be scored; an adopted run), the mean over its recorded training time.
    None when neither is recorded."""
    ips = train.get("images_per_second")
    if ips:
        return float(ips)
    if train.get("images") and train.get("train_seconds"):
        return float(train["images"]) / float(train["train_seconds"])
    return None


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (no stored run of this model size to time)"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def summary(figure: str, profile: str, *, seed: int = 0, ev=None, **overrides) -> dict:
    """Counts for ``status``: distinct runs, stored, missing, unconverged; the estimated cost of the
    missing, on one core here (:func:`estimate`, the estimate of ``status --priority``)."""
    recs = records(figure, profile, seed=seed, **overrides)
    distinct = {r.run_id: r for r in recs}
    stored = [r for r in distinct.values() if r.stored]
    missing = [r for r in distinct.values() if not r.stored]
    unconv = [r for r in stored if converged(r.run) is False]
    ev = evidence() if ev is None else ev
    est = [estimate(r.experiment, r.config, ev).seconds for r in missing]
    known = [e for e in est if e is not None]
    return {"figure": figure, "profile": profile, "runs": len(distinct), "stored": len(stored),
            "missing": len(missing), "unconverged": len(unconv), "missing_names": [r.name for r in missing],
            "unconverged_names": [r.name for r in unconv],
            "missing_seconds": sum(known) if known else (0.0 if not missing else None),
            "missing_unknown": len(est) - len(known)}


def _merged_summary(figure: str, profile: str, seeds, ev, **overrides) -> dict:
    """:func:`summary` over several seeds: the counts add up; a run is named with its seed."""
    parts = [(s, summary(figure, profile, seed=s, ev=ev, **overrides)) for s in seeds]
    if len(parts) == 1:
        return parts[0][1]
    out = {k: sum(p[k] for _, p in parts) for k in ("runs", "stored", "missing", "unconverged", "missing_unknown")}
    for k in ("missing_names", "unconverged_names"):
        out[k] = [f"{n} (seed {s})" for s, p in parts for n in p[k]]
    known = [p["missing_seconds"] for _, p in parts if p["missing_seconds"] is not None]
    out["missing_seconds"] = sum(known) if known else (0.0 if not out["missing"] else None)
    return out


def status_lines(figures: list[str], profile: str, *, seed: int = 0, verbose: bool = False,
                 seeds=None, recipe: str | None = None) -> list[str]:
    """The lines ``python -m compdiff status`` prints. ``seeds``: several seeds, counted together
    (instead of ``seed``); ``recipe``: a cpu recipe (:data:`compdiff.experiments.CPU_RECIPES`)."""
    ev = evidence()
    seeds = (seed,) if seeds is None else tuple(seeds)
    kw = {} if recipe is None else {"recipe": recipe}
    chosen = ([f"seeds {seed_text(seeds)}"] if len(seeds) > 1 or seeds != (seed,) else []) + (
        [f"recipe {recipe}"] if recipe is not None else [])
    lines = [f"{'figure':<7} {'runs':>5} {'stored':>7} {'missing':>8} {'unconverged':>12}   training the missing "
             f"(one core here, as status --priority estimates it; converged: a stop-rule run stopped at its bar, "
             f"any other ≥ {CONVERGENCE_BAR:.0%} on its training labels" + "".join(f"; {c}" for c in chosen) + ")"]
    for fig in figures:
        if fig not in FIGURE_RUNS:
            lines.append(f"{fig:<7} {'—':>5} {'—':>7} {'—':>8} {'—':>12}   no trained model")
            continue
        s = _merged_summary(fig, profile, seeds, ev, **kw)
        cost = "—" if not s["missing"] else _hours(s["missing_seconds"])
        if s["missing"] and s["missing_unknown"] and s["missing_seconds"] is not None:
            cost += f" (+{s['missing_unknown']} untimed)"
        if profile == "cpu" and recipe is None and fig in experiments.CPU_RECIPE_HELD:
            # the row counts the runs the figure reads today; the priority list trains the other recipe's
            cost += f"   ({experiments.figure_recipe(fig)} runs, read until the switch below)"
        lines.append(f"{fig:<7} {s['runs']:>5} {s['stored']:>7} {s['missing']:>8} {s['unconverged']:>12}   {cost}")
        if verbose:
            lines += [f"        missing: {n}" for n in s["missing_names"]]
            lines += [f"        unconverged: {n}" for n in s["unconverged_names"]]
    if profile == "cpu" and recipe is None:
        lines += held_lines([f for f in figures if f in experiments.CPU_RECIPE_HELD], ev)
    return lines


def held_lines(figures, ev=None) -> list[str]:
    """For each cpu figure held on an older recipe (:data:`compdiff.experiments.CPU_RECIPE_HELD`):
    how many of the default recipe's runs it shows are stored at seed 0, and whether it can switch."""
    out = []
    for fig in figures:
        held = experiments.figure_recipe(fig)
        s = summary(fig, "cpu", seed=0, recipe=experiments.CPU_RECIPE, ev=ev)
        ready = s["missing"] == 0
        out.append(f"{fig} reads {held} until its {experiments.CPU_RECIPE} runs at seed 0 are stored: "
                   f"{s['stored']} of {s['runs']} stored"
                   + (f" — ready: take {fig} out of experiments.CPU_RECIPE_HELD and re-execute it" if ready
                      else f", {s['missing']} to train (≈ {_hours(s['missing_seconds'])} on one core here)"))
    return out


def parse_seeds(text: str, name: str = "--seeds =") -> tuple[int, ...]:
    """Seeds written as ``0,1,2``, a range ``0-2``, or both (``0-2,5``), in order, once each; ``name``
    begins an error message (``--seeds =``, ``line 3: seeds``)."""
    seeds: list = []
    for part in str(text).split(","):
        lo, sep, hi = part.strip().partition("-")
        if not (lo.isdigit() and (not sep or hi.isdigit())):
            raise ConfigError(f"{name} {text!r} must be comma-separated non-negative integers or a range "
                              "such as 0-2 (e.g. 0-2 or 0,1,2)")
        if sep and int(hi) < int(lo):
            raise ConfigError(f"{name} {text!r}: the range {part.strip()!r} runs backwards")
        seeds += range(int(lo), int(hi or lo) + 1)
    return tuple(dict.fromkeys(seeds))


def seed_text(seeds) -> str:
    """Seeds as a person writes them: ``0-2``, ``1,2``, ``0-3,7``."""
    seeds, out, i = sorted(set(seeds)), [], 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        out += [f"{seeds[i]}-{seeds[j]}"] if j - i >= 2 else [str(s) for s in seeds[i:j + 1]]
        i = j + 1
    return ",".join(out)


def dry_run_lines(figure: str, profile: str, *, seed: int = 0, **overrides) -> list[str]:
    """What ``figure FIG --dry-run`` prints: every config of the figure, its run id, whether it is
    stored (and converged), and the estimated cost of what is missing; nothing is run."""
    recs = records(figure, profile, seed=seed, **overrides)
    if not recs:
        return [f"{figure} ({profile}): no trained model; the notebook only simulates or draws (seconds)"]
    ev = evidence()
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
            est = estimate(r.experiment, r.config, ev).seconds
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


# ---------------------------------------------------------------------------------------------
# The decisive runs: progress of the priority list (``status --priority``, issue 20)

RECIPE_RECORDS = paths.ROOT / "benchmarks" / "recipe.json"
# the fields of a train config that set a run's budget, seed or bookkeeping, not how it trains
_NOT_RECIPE = ("images", "seed", "checkpoint_every_images", "resume_every_images", "log_every_images")
# the fields of a UNet config that follow the frame size (experiments scales the attention with it)
_FRAME_FIELDS = ("image_size", "attention_resolutions")
# the fields of a UNet config that change what the model computes, not how much: a speed holds across them
_COST_FREE_FIELDS = ("label_encoding", "label_scale")
# the /proc/cpuinfo flags compdiff.devices probes for native bf16 (autocast pays only with them)
_BF16_FLAGS = ("avx512_bf16", "amx_tile")
# a stop-rule run's checks in its scratch folder: compdiff.monitor.HISTORY (monitor imports torch)
STOP_HISTORY = "stop_history.json"


def cpu_info() -> tuple[str | None, set]:
    """(CPU model, flags) of this machine from /proc/cpuinfo ((None, ∅) where there is none)."""
    model, flags = None, set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and model is None:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return model, flags


def cpu_label(model: str, bf16: bool) -> str:
    """A CPU as a run records it (``metrics.train.cpu_model``): its model and whether it has native
    bf16 (our CPUs differ 4–5× in speed by it)."""
    return model + (" (native bf16)" if bf16 else " (no native bf16)")


def native_bf16() -> bool:
    """Whether this machine's CPU has bf16 instructions, the test ``bf16="auto"`` trains by (read
    from /proc/cpuinfo, so no torch is imported)."""
    return bool(set(_BF16_FLAGS) & cpu_info()[1])


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items() if k != "__type__"}
    return [_plain(v) for v in obj] if isinstance(obj, (list, tuple)) else obj


def _canon(cls, d: dict) -> dict:
    """A config dict as its dataclass writes it (defaults filled in or left out alike)."""
    return json.loads(store.canonical_json(cls.from_dict(_plain(d))))


def recipe_key(cfg: dict) -> str | None:
    """How a run trains, from its config dict: the diffusion and train configs less the budget, seed
    and bookkeeping (:data:`_NOT_RECIPE`), and the UNet less what follows the frame size; None if
    unreadable. Runs of one recipe on other data or frame sizes share it; the stop rule is compared apart."""
    try:
        tr = _canon(TrainConfig, cfg["train"])
        unet = _canon(UNetConfig, cfg["unet"])
        key = {"diffusion": _canon(DiffusionConfig, cfg["diffusion"]),
               "train": {k: v for k, v in tr.items() if k not in _NOT_RECIPE},
               "unet": {k: v for k, v in unet.items() if k not in _FRAME_FIELDS}}
    except (KeyError, TypeError, ValueError, ConfigError):
        return None
    return store.canonical_json(key)


def _speed_of(cfg: dict) -> str:
    """The model and batch size a speed measurement holds for (how the label is encoded costs nothing:
    the same widths either way)."""
    unet = {f: v for f, v in _plain(cfg["unet"]).items() if f not in _COST_FREE_FIELDS}
    return store.canonical_json({"unet": unet, "batch_size": cfg["train"]["batch_size"]})


def _family(speed_key: str) -> str:
    """A speed key less the frame size: the same model on another frame."""
    k = json.loads(speed_key)
    return store.canonical_json({**k, "unet": {f: v for f, v in k["unet"].items() if f not in _FRAME_FIELDS}})


def _trains_bf16(flag, cpu_bf16: bool) -> bool:
    return cpu_bf16 if flag == "auto" else bool(flag)


NEWEST_SPEEDS = 8  # stored runs an estimate's speed is the median of (the newest)


def _precision(bf16: bool) -> str:
    return "bf16" if bf16 else "fp32"


@dataclass
class _Evidence:
    """What the store and benchmarks/recipe.json measured: stop-rule runs (images trained, by
    point and by recipe) and training speeds on a CPU (by model, batch size and precision)."""

    stopped: list  # (experiment, point key, recipe key, stop rule, images trained)
    study: list  # (recipe key, bar, every, stopped, images trained)
    speeds: dict  # (speed key, bf16) → [(images/s, "stored run" | "recipe.json record", created[, CPU])]
    here: str | None = None  # this machine's CPU as a run records it (devices.hardware_name)

    def latest(self, k: tuple) -> list:
        """The speeds measured of ``k`` (speed key, bf16) that an estimate reads: the
        :data:`NEWEST_SPEEDS` newest stored runs trained on a CPU that records itself as this one
        does (model name and native bf16) where there are any, else the newest stored runs (CPUs
        that report the same model name differ, and the newest runs were most likely made on the
        machine at hand), else the recipe-study records."""
        vals = self.speeds.get(k) or []
        runs = sorted((v for v in vals if v[1] == "stored run"), key=lambda v: v[2])
        mine = [v for v in runs if self.here and len(v) > 3 and v[3] == self.here]
        return (mine or runs)[-NEWEST_SPEEDS:] if runs else vals

    def on_this_cpu(self, k: tuple) -> bool:
        """Whether :meth:`latest` reads runs trained on a CPU that records itself as this one."""
        return bool(self.here) and any(len(v) > 3 and v[3] == self.here for v in self.latest(k))

    def cpu_ratio(self, cpu: str) -> tuple[float | None, int]:
        """(this machine's training speed over ``cpu``'s, how many models it was measured on): the
        median, over every model and precision that stored runs timed on both CPUs, of the ratio of
        their medians (each CPU's :data:`NEWEST_SPEEDS` newest runs); (None, 0) where no model was."""
        if not self.here or cpu == self.here:
            return None, 0
        rs = []
        for vals in self.speeds.values():
            runs = sorted((v for v in vals if v[1] == "stored run" and len(v) > 3), key=lambda v: v[2])
            a, b = ([v[0] for v in runs if v[3] == c][-NEWEST_SPEEDS:] for c in (self.here, cpu))
            if a and b:
                rs.append(statistics.median(a) / statistics.median(b))
        return (statistics.median(rs), len(rs)) if rs else (None, 0)

    def ratio(self, bf16: bool, key: str) -> tuple[float | None, str]:
        """(speed at ``bf16`` over speed at the other precision, what it was measured on): the median
        over the models measured at both, those of ``key``'s model on any frame size if there are any."""
        med = {k: statistics.median(v[0] for v in self.latest(k)) for k in self.speeds}
        both = [k for k, p in med if p == bf16 and (k, not bf16) in med]
        near = [k for k in both if _family(k) == _family(key)]
        rs = [med[(k, bf16)] / med[(k, not bf16)] for k in (near or both)]
        if not rs:
            return None, ""
        return statistics.median(rs), ("this model" if near == [key] else "this model on another frame size"
                                        if near else _count(len(both), "other model"))


def _point_key(cfg: dict) -> str:
    c = _plain(cfg)
    c["train"] = {k: v for k, v in c["train"].items() if k != "seed"}
    return store.canonical_json(c)


def _data_key(point_key: str) -> str | None:
    """A point key less its kept share (``keep_fraction``): the same data and model at any share of
    the lattice (a Fig 5 / 6e curve); None for a config without a share."""
    c = json.loads(point_key)
    if "keep_fraction" not in c:
        return None
    c.pop("keep_fraction")
    return store.canonical_json(c)


def _study_config(rec: dict, root: Path) -> tuple[dict | None, dict]:
    """The config (diffusion, train, unet) a recipe.json record was trained with, read from its
    source (a recipe-study record or a stored run), and the study record itself ({} for a run)."""
    src = str(rec.get("source", "")).split(" ")[0]
    if src.startswith("benchmarks/recipe_runs/"):
        try:
            raw = json.loads((root / src).read_text())
        except (OSError, ValueError):
            return None, {}
        c = dict(raw.get("config") or {})
        preset = c.pop("unet_preset", None)
        if preset not in PRESETS:  # a changed UNet ("other"), or a record that does not say
            return None, raw
        return {**c, "unet": PRESETS[preset].to_dict()}, raw
    return None, {}  # a stored run's record: the store itself is read instead


def evidence(recipe_records=RECIPE_RECORDS, *, cpu_bf16: bool | None = None) -> _Evidence:
    """Everything the estimates of ``status --priority`` read, read once: the stored runs'
    metrics and the recipe-study records of ``recipe_records`` (benchmarks/recipe.json)."""
    cpu_bf16 = native_bf16() if cpu_bf16 is None else cpu_bf16
    stopped, study, speeds = [], [], {}
    for run in store.list_runs():
        c = run.config
        if "train" not in c or "unet" not in c or "metrics.json" not in run.manifest["files"]:
            continue
        m = run.json("metrics")
        t = m.get("train") or {}
        ips = train_speed(t)
        if ips and t.get("device") == "cpu":
            speeds.setdefault((_speed_of(c), bool(t.get("bf16"))), []).append(
                (ips, "stored run", str(run.manifest.get("created", "")), t.get("cpu_model")))
        if c.get("stop") and m.get("stop"):
            stopped.append((run.experiment, _point_key(c), recipe_key(c), _plain(c["stop"]),
                            int(m["stop"].get("images") or t.get("images"))))
    path = Path(recipe_records)
    try:
        recs = json.loads(path.read_text()) if path.exists() else []
    except ValueError as e:
        raise ConfigError(f"{path}: not JSON ({e})") from None
    for rec in recs:
        cfg, raw = _study_config(rec, path.resolve().parent.parent)
        if cfg is None:
            continue
        if rec.get("stopped") in ("bar", "cap") and rec.get("images_trained"):
            study.append((recipe_key(cfg), raw.get("bar"), raw.get("every"), rec["stopped"], int(rec["images_trained"])))
        flags = set((rec.get("cpu") or {}).get("flags") or ())
        if rec.get("images_per_s"):
            bf16 = _trains_bf16(cfg["train"].get("bf16", "auto"), bool(set(_BF16_FLAGS) & flags))
            speeds.setdefault((_speed_of(cfg), bf16), []).append((float(rec["images_per_s"]), "recipe.json record", ""))
    model, _ = cpu_info()
    here = model and cpu_label(model, cpu_bf16)
    return _Evidence(stopped, study, speeds, here)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def images_estimate(experiment: str, cfg, ev: _Evidence) -> tuple[int, str]:
    """(images, source): the images a missing run will train. A run without a stop rule trains its
    budget; a stop-rule run, the mean images of stored stop-rule runs of its point (other seeds),
    else of its curve (the same data and model at other shares: a σ = 0.25 cell of Fig 6e trains
    4-6× longer than a σ = 1 one), else of its recipe in its store experiment, else of the
    recipe-study records of its recipe
    (benchmarks/recipe.json; a record stopped at the study's cap counts at this run's cap), else its cap."""
    c = json.loads(store.canonical_json(cfg))
    cap = int(cfg.train.images)
    if getattr(cfg, "stop", None) is None:
        return cap, "its budget (no stop rule)"
    stop, rkey, pkey = _plain(c["stop"]), recipe_key(c), _point_key(c)
    same = [n for e, p, _, s, n in ev.stopped if e == experiment and p == pkey and s == stop]
    if same:
        return round(statistics.mean(same)), f"stored stop-rule runs of this point ({len(same)})"
    dkey = _data_key(pkey)
    same = [n for e, p, _, s, n in ev.stopped if dkey and e == experiment and _data_key(p) == dkey and s == stop]
    if same:
        return round(statistics.mean(same)), f"stored stop-rule runs of this curve at other shares ({len(same)})"
    same = [n for e, _, r, s, n in ev.stopped if e == experiment and r == rkey and s == stop]
    if same:
        return round(statistics.mean(same)), f"stored stop-rule runs of this recipe in {experiment}/ ({len(same)})"
    recs = [(how, n) for r, bar, every, how, n in ev.study
            if r == rkey and bar == cfg.stop.bar and every == cfg.stop.every_images]
    if recs:
        at_bar = sum(how == "bar" for how, _ in recs)
        return (round(statistics.mean(n if how == "bar" else cap for how, n in recs)),
                f"benchmarks/recipe.json ({_count(len(recs), 'record')} of this recipe: {at_bar} stopped at the bar, "
                f"{len(recs) - at_bar} at the study's cap, counted at this run's cap)")
    return cap, "its cap (no measurement of this recipe)"


def speed_estimate(cfg, ev: _Evidence, *, cpu_bf16: bool | None = None) -> tuple[float | None, str]:
    """(images/s, source) of training ``cfg`` on one core of this machine: the median speed
    measured at the precision it trains with here (stored runs on a CPU, recipe-study records),
    else the other precision's times the measured ratio of the two; (None, why) if unmeasured."""
    cpu_bf16 = native_bf16() if cpu_bf16 is None else cpu_bf16
    c = json.loads(store.canonical_json(cfg))
    key, bf16 = _speed_of(c), _trains_bf16(cfg.train.bf16, cpu_bf16)

    def said(k, prec):
        vals, every = ev.latest(k), ev.speeds[k]
        n = len(vals)
        if vals[0][1] == "stored run":
            mine = ev.on_this_cpu(k)
            runs = sum(v[1] == "stored run" and (not mine or v[3:4] == (ev.here,)) for v in every)
            return (_count(n, "stored run") + f" of this model at {prec}" + (" on this CPU" if mine else "") +
                    (f" (the newest {n} of {runs})" if runs > n else ""))
        return _count(n, "recipe.json record") + f" of this model at {prec}"

    vals = ev.latest((key, bf16))
    if vals and vals[0][1] == "stored run" and ev.here and not ev.on_this_cpu((key, bf16)):
        # timed only on other CPUs: scale by this CPU's measured speed over theirs, where a model
        # was timed on both (the CPU most of these runs name first)
        for cpu, _ in Counter(v[3] for v in vals if v[3:4] and v[3]).most_common():
            r, n = ev.cpu_ratio(cpu)
            if r:
                on = [v[0] for v in vals if v[3:4] == (cpu,)]
                return (statistics.median(on) * r,
                        f"{_count(len(on), 'stored run')} of this model at {_precision(bf16)} on {cpu} × {r:.2f}, "
                        f"this CPU's speed over that CPU's (median over {_count(n, 'model')} timed on both)")
    if vals:
        return statistics.median(v[0] for v in vals), said((key, bf16), _precision(bf16))
    other, (ratio, on) = ev.latest((key, not bf16)), ev.ratio(bf16, key)
    if other and ratio:
        return (statistics.median(v[0] for v in other) * ratio,
                f"{said((key, not bf16), _precision(not bf16))} × {ratio:.2f}, the {_precision(bf16)}/{_precision(not bf16)} "
                f"speed ratio measured on {on}")
    return None, f"untimed (no measurement of this model at {_precision(bf16)})"


def _done_images(experiment: str, cfg) -> int:
    """Images a missing stop-rule run has already trained (its check history in runs/; 0 if none)."""
    if getattr(cfg, "stop", None) is None:
        return 0
    path = paths.runs_dir() / experiment / store.run_id(cfg) / STOP_HISTORY
    try:
        hist = json.loads(path.read_text())["history"]
    except (OSError, ValueError, KeyError):
        return 0
    return int(hist[-1]["images"]) if hist else 0


@dataclass(frozen=True)
class JobState:
    """One run of the priority list: ``state`` is converged, unconverged, missing or unreadable
    (stale or corrupt: to be made again, counted as missing); for a missing run, the images still
    to train (less ``done``, trained before a pause), its speed here and where both came from."""

    job: Any
    state: str
    done: int = 0
    images: int | None = None
    images_source: str = ""
    ips: float | None = None
    ips_source: str = ""

    @property
    def seconds(self) -> float | None:
        return None if not self.ips or self.images is None else self.images / self.ips


def job_state(job, ev: _Evidence, *, cpu_bf16: bool | None = None) -> JobState:
    """Where one run of the priority list (a :class:`compdiff.gpu_slot.Job`) stands: looked up in
    the store, never trained."""
    try:
        run = store.lookup(job.experiment, job.config)
    except store.StoreError:
        run, state = None, "unreadable"
    else:
        state = "missing"
    if run is not None:
        return JobState(job, "unconverged" if converged(run) is False else "converged")
    return estimate(job.experiment, job.config, ev, cpu_bf16=cpu_bf16, job=job, state=state)


def estimate(experiment: str, cfg, ev: _Evidence, *, cpu_bf16: bool | None = None, job=None,
             state: str = "missing") -> JobState:
    """The training a missing run still needs on one core here: the images it will train
    (:func:`images_estimate`, less what a paused run already trained) at its speed here
    (:func:`speed_estimate`). The one estimate ``status``, ``status --priority`` and
    ``figure --dry-run`` all print."""
    images, isrc = images_estimate(experiment, cfg, ev)
    done = min(_done_images(experiment, cfg), cfg.train.images)
    if done:  # at least one more check after a pause, whatever the estimate
        images = max(images - done, min(cfg.stop.every_images, cfg.train.images - done))
    ips, ssrc = speed_estimate(cfg, ev, cpu_bf16=cpu_bf16)
    return JobState(job, state, done, images, isrc, ips, ssrc)


def _tally(states: list[JobState]) -> dict:
    miss = [s for s in states if s.state in ("missing", "unreadable")]
    timed = [s.seconds for s in miss if s.seconds is not None]
    return {"runs": len(states), "stored": len(states) - len(miss),
            "converged": sum(s.state == "converged" for s in states),
            "unconverged": sum(s.state == "unconverged" for s in states), "missing": len(miss),
            "unreadable": sum(s.state == "unreadable" for s in states),
            "in_progress": sum(bool(s.done) for s in miss), "done_images": sum(s.done for s in miss),
            "seconds": sum(timed), "untimed": len(miss) - len(timed), "states": states}


def priority_rows(path=None, *, profile: str | None = None, recipe_records=RECIPE_RECORDS,
                  cpu_bf16: bool | None = None) -> tuple[list[dict], dict]:
    """(one row per line of the priority list ``path`` (default gpu_priority.txt), the total over
    its distinct runs): counts of stored, converged, unconverged and missing runs and the seconds
    to train the missing ones on one core here (:func:`job_state`). ``profile`` resolves every
    line at that profile (as ``gpu-slot --profile``). Reads the store and the list; trains nothing."""
    from . import gpu_slot

    if profile is not None:
        experiments.check_profile(profile)
    cpu_bf16 = native_bf16() if cpu_bf16 is None else cpu_bf16
    entries = gpu_slot.read_priority(path)
    ev = evidence(recipe_records, cpu_bf16=cpu_bf16)
    seen: dict = {}
    rows = []
    for e in entries:
        states = []
        for job in gpu_slot.resolve([e], profile):
            key = (job.experiment, job.run_id)
            if key not in seen:
                seen[key] = job_state(job, ev, cpu_bf16=cpu_bf16)
            states.append(seen[key])
        rows.append({"entry": e, **_tally(states)})
    return rows, _tally(list(seen.values()))


def _core_hours(t: dict) -> str:
    if not t["missing"]:
        return "—"
    if t["untimed"] == t["missing"]:
        return f"? ({t['untimed']} untimed)"
    h = t["seconds"] / 3600
    return (f"{h:.1f}" if h >= 1 else f"{h:.2f}") + (f" (+{t['untimed']} untimed)" if t["untimed"] else "")


def priority_lines(path=None, *, profile: str | None = None, recipe_records=RECIPE_RECORDS,
                   cpu_bf16: bool | None = None, verbose: bool = False) -> list[str]:
    """The lines ``python -m compdiff status --priority [FILE]`` prints: a row per priority line, a
    total, and footnotes saying what each estimate was made from."""
    cpu_bf16 = native_bf16() if cpu_bf16 is None else cpu_bf16
    rows, total = priority_rows(path, profile=profile, recipe_records=recipe_records, cpu_bf16=cpu_bf16)
    filt = [" ".join(str(r["entry"]).split()[3:]) for r in rows]  # filters and NAME=VALUE options, as written
    fw = max([len("filter"), *map(len, filt)])
    sw = max([len("seeds"), *(len(seed_text(r["entry"].seeds)) for r in rows)])

    def row(head, t):
        return (f"{head} {t['runs']:>5} {t['stored']:>6} {t['converged']:>9} {t['unconverged']:>11} "
                f"{t['missing']:>7}   {_core_hours(t)}")

    lines = [f"{'line':>4} {'source':<10} {'profile':<7} {'seeds':<{sw}} {'filter':<{fw}} {'runs':>5} {'stored':>6} "
             f"{'converged':>9} {'unconverged':>11} {'missing':>7}   remaining (core-hours, here)"]
    for r, f in zip(rows, filt):
        e = r["entry"]
        lines.append(row(f"{e.line:>4} {e.source:<10} {profile or e.profile:<7} {seed_text(e.seeds):<{sw}} {f:<{fw}}", r))
        if verbose:
            lines += [f"       {s.state}: {s.job.label}" for s in r["states"] if s.state != "converged"]
    lines.append(row(f"{'':>4} {'total (distinct runs)':<{10 + 7 + sw + fw + 3}}", total))
    model, _ = cpu_info()
    lines += [
        "",
        f"converged: a stop-rule run that stopped at its bar (unconverged: at its cap, below the bar); a run "
        f"without a stop rule, ≥ {CONVERGENCE_BAR:.0%} on its training labels. A run two lines share counts in "
        f"both; the total counts it once.",
        f"remaining: training the missing runs, one core each, on this machine ({model or 'CPU model unknown'}; "
        f"{'bf16' if cpu_bf16 else 'fp32: no native bf16'}), scoring not included; an unconverged run is "
        f"finished and not counted. Each estimate is images to train × images/s, from the sources below:",
    ]
    tags: dict = {}

    def tag(prefix, text):
        return tags.setdefault((prefix, text), f"{prefix}{sum(p == prefix for p, _ in tags) + 1}")

    for r in rows:
        groups: dict = {}
        for s in r["states"]:
            if s.state in ("missing", "unreadable"):
                groups.setdefault((s.images_source, s.ips_source), []).append(s)
        if not groups:
            continue
        parts = []
        for (isrc, ssrc), ss in groups.items():
            ips = [s.ips for s in ss if s.ips]
            speed = f"{statistics.median(ips):,.0f} images/s" if ips else "an unknown speed"
            parts.append(f"{_count(len(ss), 'run')} × {statistics.mean(s.images for s in ss):,.0f} images "
                         f"({tag('i', isrc)}) at {speed} ({tag('s', ssrc)})")
        extra = []
        if r["in_progress"]:
            extra.append(f"{r['in_progress']} paused in runs/ with {r['done_images']:,} images trained, subtracted")
        if r["unreadable"]:
            extra.append(f"{r['unreadable']} stored but stale or corrupt, counted missing")
        lines.append(f"  line {r['entry'].line}: " + "; ".join(parts) + "".join(f" ({x})" for x in extra))
    lines += [f"  {t}: {text}" for (_, text), t in sorted(tags.items(), key=lambda kv: (kv[1][0], int(kv[1][1:])))]
    return lines
