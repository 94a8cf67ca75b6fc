"""The README's training-cost table (issue 20): what each figure's stored runs cost to make.

    python -m compdiff readme-costs            # print the table; exit 1 if README.md's is stale
    python -m compdiff readme-costs --write    # rewrite it in README.md (``make html`` does)

Per figure that uses trained models: the stored runs it reads at the cpu profile (every stored
seed, the recipe its figures read: :func:`compdiff.experiments.figure_recipe`), how many, their summed and median training time, their scoring time,
the images they trained on, and the machine they were trained on, all read from the runs' own
metrics (``results/*/*/metrics.json``). Nothing is typed: the table sits in README.md between
:data:`START` and :data:`END` and a test fails when it is stale.

Reads only the store (no torch).
"""

from __future__ import annotations

import statistics
from collections import Counter

from . import experiments, paths, query, store
from .experiments import ConfigError

README = paths.ROOT / "README.md"
START = "<!-- training-costs:start -->"
END = "<!-- training-costs:end -->"
PROFILE = "cpu"
COMMAND = "python -m compdiff readme-costs --write"


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _images(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _cpu_model(run: store.Run, train: dict) -> str | None:
    """The CPU model a run was trained on, where its metrics or manifest record one."""
    cpu = train.get("cpu_model") or train.get("cpu")
    if isinstance(cpu, dict):
        cpu = cpu.get("model")
    return cpu or (run.manifest.get("meta") or {}).get("cpu_model")


def run_cost(run: store.Run) -> dict:
    """What one stored run's metrics say it cost: training seconds, scoring seconds (the snapshots'
    ``eval_seconds``; None if none are recorded), images trained, and where it was trained."""
    m = run.json("metrics")
    t = m.get("train") or {}
    evals = [c["eval_seconds"] for c in m.get("curve", []) if c.get("eval_seconds") is not None]
    where = t.get("device", "?") + (", bf16" if t.get("bf16") else ", fp32")
    return {"train_seconds": t.get("train_seconds"), "score_seconds": sum(evals) if evals else None,
            "images": t.get("images"), "where": f"{where} ({_cpu_model(run, t) or 'CPU model not recorded'})"}


def stored_seeds() -> list[int]:
    """Every seed a stored run of a model was trained with."""
    return sorted({int(r.config["train"]["seed"]) for r in store.list_runs() if "train" in r.config})


def _summary(costs: list[dict]) -> list[str]:
    train = [c["train_seconds"] for c in costs if c["train_seconds"] is not None]
    score = [c["score_seconds"] for c in costs if c["score_seconds"] is not None]
    images = [c["images"] for c in costs if c["images"] is not None]
    where = Counter(c["where"] for c in costs)
    return [_duration(sum(train)) if train else "not recorded",
            _duration(statistics.median(train)) if train else "—",
            _duration(sum(score)) if score else "not recorded",
            _images(sum(images)) if images else "not recorded",
            " + ".join(f"{w}" + (f" ×{n}" if len(where) > 1 else "") for w, n in sorted(where.items()))]


def rows() -> tuple[list[list[str]], list[str]]:
    """(one row per figure with trained models, the total over the distinct runs): the cells of the table."""
    seeds = stored_seeds()
    out, every = [], {}
    for fig in sorted(query.FIGURE_RUNS, key=lambda k: int(k[3:])):
        per_seed = len({store.run_id(p.config) for _, p in query.points(fig, PROFILE)})
        recs = {r.run_id: r for r in query.seed_records(query.seeds(fig, PROFILE, seeds=seeds))}
        costs = [run_cost(r.run) for r in recs.values()]
        every.update({rid: c for rid, c in zip(recs, costs)})
        have = sorted({r.params["seed"] for r in recs.values()})
        name = experiments.figure(fig).title.split(" — ")[0]
        recipe = experiments.figure_recipe(fig)
        if not costs:
            out.append([name, recipe, "0", str(per_seed), "—", "—", "—", "—", "—", "—"])
            continue
        out.append([name, recipe, str(len(costs)), str(per_seed), query.seed_text(have), *_summary(costs)])
    total = ["all figures (distinct runs)", "—", str(len(every)), "—", "—", *_summary(list(every.values()))]
    return out, total


def block() -> str:
    """The generated text between :data:`START` and :data:`END`."""
    body, total = rows()
    head = ["figure", "recipe", "stored runs", "runs per seed", "seeds", "training, total", "training, median run",
            "scoring, total", "images trained", "trained on"]
    lines = [
        f"Measured training cost of the stored runs each figure reads at the {PROFILE} profile "
        f"(every stored seed of the recipe each figure reads: the default {experiments.CPU_RECIPE}, or the recipe a "
        "figure keeps until its runs of the default are stored), read from the runs' metrics: training time on "
        "the run's own clock (one core a run), scoring time (the snapshots' sampling and scoring), images "
        "trained. A run several figures share counts in each row and once in the total. Generated from "
        f"`results/` by `{COMMAND}`, which `make html` runs; do not edit it by hand.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in body + [total]]
    return "\n".join(lines)


def _split(text: str) -> tuple[str, str, str]:
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ConfigError(f"{README.name} must hold the markers {START} and {END} once each, in that order "
                          "(the training-cost table goes between them)")
    pre, rest = text.split(START)
    mid, post = rest.split(END)
    return pre, mid, post


def current() -> str:
    """The table README.md holds now (between the markers)."""
    return _split(README.read_text())[1].strip("\n")


def write(text: str | None = None) -> bool:
    """Rewrite README.md's table (``text``, default :func:`block`); True if it changed."""
    text = block() if text is None else text
    readme = README.read_text()
    pre, mid, post = _split(readme)
    new = f"{pre}{START}\n{text}\n{END}{post}"
    if new == readme:
        return False
    tmp = README.with_suffix(".md.tmp")
    tmp.write_text(new)
    tmp.replace(README)
    return True
