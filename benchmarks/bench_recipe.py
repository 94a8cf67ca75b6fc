"""Training recipe: images to 60 / 90 / 95% accuracy on ``basic``, per recipe and seed (issue 18).

    PYTHONPATH=lib python benchmarks/bench_recipe.py      # writes benchmarks/recipe.json

Nothing is trained here. Two sources:

- the recipe study (``benchmarks/recipe_study.py``): one record per recipe and seed in
  ``benchmarks/recipe_runs/``, scored during training every 16k images on 256 fixed training labels
  with DDIM-25 (η = 1);
- the stored ``basic`` runs of the earlier recipes (``experiments.recipe_variants``), scored at their
  snapshots (every 64k images) with DDIM-50 on 256 labels (the last snapshot on all 1024);
- the stored ``basic`` runs of the ``cpu`` profile's default recipe (v-stop), scored at their
  stop rule's checks (every 16k images, DDIM-25 on 256 fixed training labels, sampled once the
  label is used), every stored seed.

Crossings are interpolated linearly between checks; null means never reached within the run. A
recipe is ``default`` when its config is the ``cpu`` profile's ``basic`` config.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))

from compdiff import experiments, store  # noqa: E402

RUNS = HERE / "recipe_runs"
OUT = HERE / "recipe.json"
THRESHOLDS = (0.6, 0.9, 0.95)
# the label is "used" once the ε-MSE with shuffled labels is ≥ 50% above the true labels' at every
# checked noise level (compdiff.monitor.label_use_gap): the leading indicator of a recipe
LABEL_USE = 0.5


def crossing(points, threshold):
    """First x where y reaches ``threshold``, linear between points; None if never."""
    xs = [0.0] + [float(x) for x, _ in points]
    ys = [0.0] + [float(y) for _, y in points]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if y0 >= threshold:
            return x0
        if y1 >= threshold:
            return x0 + (x1 - x0) * (threshold - y0) / (y1 - y0)
    return None


def _record(recipe, default, seed, images_acc, seconds_acc, images_per_s, cpu, source, extra=None,
            seconds_trained=None):
    rec = {"recipe": recipe, "default": default, "seed": seed}
    for th in THRESHOLDS:
        x = crossing(images_acc, th)
        rec[f"images_to_{round(100 * th)}"] = None if x is None else int(round(x))
    t95 = crossing(seconds_acc, 0.95)
    # to 95%, or (never reached) the whole run: a screen's checks before label use draw no samples
    last = seconds_trained if seconds_trained is not None else (seconds_acc[-1][0] if seconds_acc else 0.0)
    rec["minutes"] = round((t95 if t95 is not None else last) / 60, 1)
    rec["images_per_s"] = round(images_per_s, 1)
    rec["cpu"] = cpu
    rec["source"] = source
    rec.update(extra or {})
    return rec


def study_records() -> list[dict]:
    sys.path.insert(0, str(HERE))
    import recipe_study

    out = []
    for path in sorted(RUNS.glob("*.json")):
        r = json.loads(path.read_text())
        h = r["history"]
        cfg = recipe_study.RECIPES[r["recipe"]][1](r["seed"]) if r["recipe"] in recipe_study.RECIPES else None
        default = cfg is not None and cfg == experiments.basic_config("cpu", seed=r["seed"])
        ips = sum(x["images"] for x in h[-1:]) / max(h[-1]["train_seconds"], 1e-9)
        out.append(_record(
            r["recipe"], default, r["seed"], [(x["images"], x["accuracy"]) for x in h if x["accuracy"] is not None],
            [(x["train_seconds"], x["accuracy"]) for x in h if x["accuracy"] is not None], ips, r["cpu"],
            f"benchmarks/recipe_runs/{path.name} (DDIM-25, {h[-1]['labels']} labels, every {r['every'] // 1000}k)",
            {"stopped": r["stopped"] if r.get("finished") else "unfinished", "images_trained": h[-1]["images"],
             "final_ddim25": h[-1]["accuracy"],
             "final_ddim50": r["final_ddim50"]["accuracy"] if r.get("final_ddim50") else None,
             "images_to_label_use": next((x["images"] for x in h
                                          if min(x["label_gap"].values()) >= LABEL_USE), None)},
            seconds_trained=h[-1]["train_seconds"]))
    return out


def stored_records() -> list[dict]:
    out = []
    for name, cfg in experiments.recipe_variants().items():
        run = store.lookup("basic", cfg)
        if run is None:
            continue
        m = run.json("metrics")
        curve = m["curve"]
        default = cfg == experiments.basic_config("cpu", seed=cfg.train.seed)
        out.append(_record(
            name, default, cfg.train.seed, [(c["images"], c["accuracy"]) for c in curve],
            [(c["train_seconds"], c["accuracy"]) for c in curve], m["train"]["images_per_second"],
            {"model": "not recorded (an earlier session's machine)", "flags": []},
            f"results/basic/{run.run_id} (DDIM-50, 256 labels, every 64k)",
            {"stopped": "cap", "images_trained": m["train"]["images"]}))
    return out


def default_records(seeds=range(10)) -> list[dict]:
    """The stored basic runs of the cpu default (a stop-rule recipe), from their stop histories."""
    from compdiff import query

    out = []
    for seed in seeds:
        cfg = experiments.basic_config("cpu", seed=seed)
        run = store.lookup("basic", cfg)
        if run is None or cfg.stop is None:
            continue
        m = run.json("metrics")
        h = m["stop"]["history"]
        checked = [x for x in h if x.get("accuracy") is not None]
        cpu = m["train"].get("cpu_model") or "not recorded"
        out.append(_record(
            f"{experiments.recipe_of(cfg)} (cpu profile)", True, seed,
            [(x["images"], x["accuracy"]) for x in checked], [(x["train_seconds"], x["accuracy"]) for x in checked],
            query.train_speed(m["train"]) or 0.0, {"model": cpu, "flags": []},
            f"results/basic/{run.run_id} (DDIM-25, {checked[-1]['labels'] if checked else '?'} labels, "
            f"every {cfg.stop.every_images // 1000}k)",
            {"stopped": m["stop"]["stopped"], "images_trained": int(m["stop"]["images"]),
             "images_to_label_use": next((x["images"] for x in h if x.get("label_gap")
                                          and min(x["label_gap"].values()) >= LABEL_USE), None)},
            seconds_trained=h[-1]["train_seconds"]))
    return out


def main():
    recs = stored_records() + default_records() + study_records()
    OUT.write_text(json.dumps(recs, indent=1) + "\n")
    fmt = lambda v: "never" if v is None else f"{v / 1000:,.0f}k"  # noqa: E731
    print("| recipe | default | seed | label used from | images to 60% | to 90% | to 95% | minutes | images/s | "
          "stopped | source |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in recs:
        used = "–" if "images_to_label_use" not in r else (
            fmt(r["images_to_label_use"]) if r["images_to_label_use"] is not None
            else f"not by {r['images_trained'] // 1000}k")
        print(f"| {r['recipe']} | {'yes' if r['default'] else ''} | {r['seed']} | {used} | {fmt(r['images_to_60'])} | "
              f"{fmt(r['images_to_90'])} | {fmt(r['images_to_95'])} | {r['minutes']} | {r['images_per_s']} | "
              f"{r['stopped']} at {r['images_trained'] // 1000}k | {r['source']} |")
    by = {}
    for r in recs:
        by.setdefault(r["recipe"], []).append(r)
    print()
    print("Per recipe: images to 95% for each seed (never = not within the run), the mean over the seeds "
          "that reached it, and the final quick (DDIM-25) against the judged (DDIM-50) accuracy on the same "
          "256 labels:")
    print()
    for name, rs in by.items():
        vals = [r["images_to_95"] if r["images_to_95"] is not None else None for r in rs]
        reached = [v for v in vals if v is not None]
        agree = [(r.get("final_ddim25"), r.get("final_ddim50")) for r in rs if r.get("final_ddim50") is not None]
        line = (f"- {name}: {len(rs)} seed(s); images to 95%: " + ", ".join(fmt(v) for v in vals)
                + (f" (mean of those reached {sum(reached) / len(reached) / 1000:,.0f}k)" if reached else ""))
        if agree:
            line += "; final DDIM-25 vs DDIM-50: " + ", ".join(f"{100 * a:.0f}/{100 * b:.0f}%" for a, b in agree)
        print(line)
    print()
    print(f"Written to benchmarks/recipe.json ({len(recs)} records).")


if __name__ == "__main__":
    main()
