"""Training recipe: images seen and training time to 60% and 95% accuracy, per CPU recipe.

    PYTHONPATH=lib python benchmarks/bench_recipe.py

Reads the stored ``basic`` runs of :func:`compdiff.experiments.recipe_variants` (the same model,
data and seed; only the lr schedule, loss weighting and budget differ) and interpolates each
accuracy curve linearly between snapshots. Nothing is trained here: a missing run is listed with
the command that makes it. The ratio is against the first recipe, measured on the same machine
kind; "not reached" means the recipe's whole budget ended below the threshold.
"""

from __future__ import annotations

import numpy as np

from compdiff import experiments, store


def crossing(curve, key, threshold):
    """First ``key`` value where accuracy reaches ``threshold`` (linear between snapshots)."""
    xs = [0.0] + [float(c[key]) for c in curve]
    ys = [0.0] + [float(c["accuracy"]) for c in curve]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if y1 >= threshold > y0:
            return x0 + (x1 - x0) * (threshold - y0) / (y1 - y0)
        if y0 >= threshold:
            return x0
    return None


def main():
    rows, base = [], {}
    print("| recipe | run | images | final accuracy | images to 60% | to 95% | training min to 95% | images to 95% vs first recipe |")
    print("|---|---|---|---|---|---|---|---|")
    for k, (name, cfg) in enumerate(experiments.recipe_variants().items()):
        run = store.lookup("basic", cfg)
        if run is None:
            print(f"| {name} | not stored: `python -m compdiff train basic` with this config | – | – | – | – | – | – |")
            continue
        m = run.json("metrics")
        curve = m["curve"]
        i60, i95 = crossing(curve, "images", 0.6), crossing(curve, "images", 0.95)
        t95 = crossing(curve, "train_seconds", 0.95)
        if k == 0:
            base = {"i95": i95, "budget": m["train"]["images"]}
        if i95 and base.get("i95"):
            ratio = f"**{base['i95'] / i95:.2f}×** fewer"
        elif i95:
            ratio = (f"not measurable: the first recipe ended at {base['budget'] // 1000}k images below 95% "
                     f"(and below 1%), so only '> {base['budget'] / i95:.2f}×' is known")
        else:
            ratio = "–"
        fmt = lambda v: "not reached" if v is None else f"{v / 1000:,.0f}k"
        print(f"| {name} | `{run.run_id}` | {m['train']['images']:,d} | {100 * m['accuracy']:.1f}% "
              f"({m['sampler']}, {m['n_eval_labels']} labels) | {fmt(i60)} | {fmt(i95)} | "
              f"{'–' if t95 is None else f'{t95 / 60:.1f}'} | {ratio} |")
        rows.append((name, [(c["images"], round(100 * c["accuracy"], 1)) for c in curve]))
    print()
    for name, pts in rows:
        print(f"- {name}: " + ", ".join(f"{i // 1000}k → {a}%" for i, a in pts))
    print()
    print("Snapshots before the last are scored on a fixed random subset of labels (curve_labels), the last on all.")


if __name__ == "__main__":
    main()
