"""Galleries: what a model draws, beside the ground truth, for labels chosen before any outcome.

For each generative claim (Figs 2, 4, 6 d, 10, 11, 12) a figure page shows, per stored model, a
strip of labels: the ground truth (row 1), the model's sample as stored (row 2, marked with the
scorer's call: right place · wrong place · no bump · two or more bumps; SOS-scored runs read
right · wrong reading), and, where the claim compares against it, the memoriser's image for the
same label (row 3: the training image of the nearest training label, :mod:`compdiff.baselines`).

Everything comes from stored artifacts (``samples.npz``: the final model's sample of each of the
run's ``eval.grid_samples`` grid labels, spread evenly over its evaluation lattice); nothing is
sampled, so the book build needs no weights. Which labels are shown is fixed by :data:`GALLERIES`
(the figure's gallery config) and the run's split: among the grid labels, ``held_out`` evenly
spaced held-out labels and ``train`` evenly spaced training labels, never chosen by outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import baselines, data, plotting

# the scorer's calls, and the colour each is marked with
CALLS = {"right": ("right place", "tab:green"), "wrong": ("wrong place", "tab:orange"),
         "none": ("no bump", "tab:red"), "several": ("two+ bumps", "tab:purple"),
         "sos_right": ("right reading", "tab:green"), "sos_wrong": ("wrong reading", "tab:orange")}


@dataclass(frozen=True)
class Gallery:
    """Which stored models a figure's gallery shows, and how many labels of each class."""

    names: tuple | None  # record names (query.records), in order; None: every stored record
    held_out: int = 6
    train: int = 3
    memoriser: bool = True  # the claim is judged against the memoriser: show its image


# INFERRED (ours): the gallery of each generative claim's figure
GALLERIES = {
    "fig02": Gallery(None, held_out=0, train=9, memoriser=False),  # every label is a training label
    "fig04": Gallery(("fig04_sos_cross", "fig04_stripes", "fig04_sos_stripes")),
    "fig06": Gallery(("fig06_s0.25_l1", "fig06_s0.25_l0.7")),
    "fig10": Gallery(("fig04_stripes", "fig10_stripes_norim")),
    "fig11": Gallery(("fig11_lesion1", "fig11_lesion3.5", "fig11_lesion8")),
    "fig12": Gallery(("fig12_bump_interior12", "fig12_bump_exterior12", "fig12_sos_interior12", "fig12_sos_exterior12")),
}


def _spread(idx: np.ndarray, k: int) -> np.ndarray:
    """``k`` entries of ``idx`` evenly spaced over it (all of them when it has at most ``k``)."""
    if k <= 0 or idx.size == 0:
        return idx[:0]
    if idx.size <= k:
        return idx
    return idx[np.linspace(0, idx.size - 1, k).round().astype(int)]


@dataclass
class Strip:
    """One model's row of the gallery: chosen labels and their images and calls."""

    name: str
    labels: np.ndarray  # (k, 2) the run's label units
    classes: list  # "held out", "isolated" or "train" per label
    truth: np.ndarray  # (k, H, W)
    sample: np.ndarray
    calls: list  # keys of CALLS
    readings: np.ndarray  # (k, 2) the scorer's reading, label units (nan where none)
    memoriser: np.ndarray | None
    memoriser_calls: list | None
    offset: float  # label units minus pixel coordinates


def _calls(correct, n_bumps) -> list:
    if n_bumps is None:
        return ["sos_right" if c else "sos_wrong" for c in correct]
    out = []
    for c, n in zip(correct, n_bumps):
        out.append("right" if c else "none" if n == 0 else "several" if n >= 2 else "wrong")
    return out


def _score_of(cfg):
    """(scorer, render of a label's own image, offset, training images) of a run config."""
    ds, labels, score, period, render = baselines.run_data(cfg)
    offset = data.frame_offset(cfg.frame, getattr(cfg, "canvas", None))
    return score, render, offset, ds


def strip(rec, spec: Gallery) -> Strip:
    """The gallery strip of one stored record (``query.Record``), from its stored samples only."""
    cfg = rec.config
    s = rec.run.arrays("samples")
    b = baselines.baselines(cfg)
    grid = np.asarray(s["grid_index"], int)
    held = grid[~b.train[grid]]
    trained = grid[b.train[grid]]
    chosen = np.concatenate([_spread(held, spec.held_out), _spread(trained, spec.train)])
    order = {int(g): i for i, g in enumerate(grid)}
    score, render, offset, ds = _score_of(cfg)
    labels = np.asarray(s["labels"], np.float64)[chosen]
    sample = np.stack([np.asarray(s["grid_images"][order[int(i)]], np.float32) for i in chosen]) if chosen.size \
        else np.zeros((0, cfg.frame, cfg.frame), np.float32)
    n_bumps = s["n_bumps"][chosen] if "n_bumps" in s else None
    classes = ["train" if b.train[i] else "isolated" if b.isolated[i] else "held out" for i in chosen]
    mem = mem_calls = None
    if spec.memoriser and chosen.size:
        mem = np.asarray(ds.images[b.nearest[chosen]], np.float32)
        ms = score(mem, labels.astype(np.float32))
        mem_calls = _calls(np.asarray(ms.correct, bool), getattr(ms, "n_bumps", None))
    readings = np.stack([s["x_hat"][chosen], s["y_hat"][chosen]], 1).astype(np.float64) if chosen.size \
        else np.zeros((0, 2))
    if n_bumps is not None:
        readings[np.asarray(n_bumps) != 1] = np.nan
    return Strip(rec.name, labels, classes, np.asarray(render(labels.astype(np.float32)), np.float32), sample,
                 _calls(np.asarray(s["correct"], bool)[chosen], n_bumps), readings, mem, mem_calls, float(offset))


def strips(figure: str, recs) -> list[Strip]:
    spec = GALLERIES[figure]
    by_name = {r.name: r for r in recs if r.stored}
    names = spec.names if spec.names is not None else list(by_name)
    return [strip(by_name[n], spec) for n in names if n in by_name]


def _panel(ax, img, *, label=None, reading=None, offset=0.0, call=None):
    plotting.show_image(ax, img)
    ax.set_xticks([])
    ax.set_yticks([])
    if label is not None:
        ax.plot(label[0] - offset, label[1] - offset, "+", color="tab:cyan", ms=7, mew=1.2)
    if reading is not None and np.all(np.isfinite(reading)):
        ax.plot(reading[0] - offset, reading[1] - offset, "x", color="tab:orange", ms=5, mew=1.0)
    if call is not None:
        text, color = CALLS[call]
        for sp in ax.spines.values():
            sp.set_visible(True)
            sp.set_color(color)
            sp.set_linewidth(3)
        ax.set_title(text, color=color, fontsize=9, pad=2)


def draw(figure: str, recs, *, panel: float = 1.05):
    """The gallery figure of ``figure`` (one block of rows per stored model), or None when none
    of its gallery's models is stored."""
    import matplotlib.pyplot as plt

    st = [s for s in strips(figure, recs) if len(s.labels)]
    if not st:
        return None
    k = max(len(s.labels) for s in st)
    rows = [(s, r) for s in st for r in (("truth", "sample", "memoriser") if s.memoriser is not None else ("truth", "sample"))]
    fig = plt.figure(figsize=(1.15 * panel * k + 1.3, panel * 1.32 * len(rows) + 0.45 * len(st)), layout="constrained")
    sub = fig.subfigures(len(st), 1, height_ratios=[3 if s.memoriser is not None else 2 for s in st]) if len(st) > 1 else [fig]
    for sf, s in zip(np.atleast_1d(sub), st):
        kinds = ("truth", "sample", "memoriser") if s.memoriser is not None else ("truth", "sample")
        axes = sf.subplots(len(kinds), k, squeeze=False)
        sf.suptitle(f"{s.name}", fontsize=10, x=0.01, ha="left", fontweight="bold")
        for j in range(k):
            for i, kind in enumerate(kinds):
                ax = axes[i, j]
                if j >= len(s.labels):
                    ax.set_axis_off()
                    continue
                lab = s.labels[j]
                if kind == "truth":
                    _panel(ax, s.truth[j], label=lab, offset=s.offset)
                    ax.set_title(f"({lab[0]:g}, {lab[1]:g})\n{s.classes[j]}", fontsize=8.5, pad=2)
                elif kind == "sample":
                    _panel(ax, s.sample[j], label=lab, reading=s.readings[j], offset=s.offset, call=s.calls[j])
                else:
                    _panel(ax, s.memoriser[j], label=lab, offset=s.offset, call=s.memoriser_calls[j])
                if j == 0:
                    ax.set_ylabel({"truth": "ground truth", "sample": "model", "memoriser": "memoriser"}[kind],
                                  fontsize=9)
    return fig


def show(figure: str, recs, name: str | None = None) -> None:
    """Draw the gallery in a notebook, save it (``figures/<name>.{png,svg}``) and print its key.
    Returns nothing, so a notebook cell ending with it does not draw the figure a second time."""
    import matplotlib.pyplot as plt

    fig = draw(figure, recs)
    if fig is None:
        print("no model of this gallery is stored yet")
        return
    plotting.save_figure(fig, name or f"{figure}_gallery")
    plt.show()
    print("labels (μx, μy) in the run's units; + the label, × the scorer's reading; a sample's frame colour is "
          "the scorer's call: " + " · ".join(f"{t}" for t, _ in CALLS.values()) + "; held out: not a training "
          "label; isolated: no training label within the scorer's tolerance")
