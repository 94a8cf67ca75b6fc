"""The house style and the shared panels of the figure notebooks.

Every figure is also written as PNG and SVG to ``figures/<figNN>_<name>.{png,svg}`` (see
:data:`compdiff.paths.FIGURE_FILES`), so a reader can take it into a talk.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import paths

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "gray",
    "svg.hashsalt": "compdiff",  # reproducible SVG ids
}


def use_style() -> None:
    plt.rcParams.update(STYLE)


# Files written by save_figure in this process, in order (the notebook footer lists them).
SAVED: list = []


def save_figure(fig, name: str) -> tuple:
    """Write ``fig`` as PNG and SVG under ``figures/`` (metadata stripped for reproducible files);
    returns the two paths."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"figure name {name!r} must be a plain file stem such as 'fig13_percolation_thresholds'")
    paths.FIGURE_FILES.mkdir(parents=True, exist_ok=True)
    png, svg = paths.FIGURE_FILES / f"{name}.png", paths.FIGURE_FILES / f"{name}.svg"
    fig.savefig(png, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    for p in (png, svg):
        if p not in SAVED:
            SAVED.append(p)
    return png, svg


def show_image(ax, img, *, extent=None, title=None, vmin=0.0, vmax=1.0):
    """A grey image with row 0 at the top (as stored) and axes in pixel-centre coordinates."""
    n_rows, n_cols = np.shape(img)
    if extent is None:
        extent = (-0.5, n_cols - 0.5, n_rows - 0.5, -0.5)
    ax.imshow(img, cmap="gray", vmin=vmin, vmax=vmax, extent=extent, interpolation="nearest")
    if title:
        ax.set_title(title)
    return ax


def sigma_colors(sigmas):
    """One colour per σ, ordered light to dark, shared by Figs 6, 13, 14."""
    cmap = plt.get_cmap("viridis")
    n = max(len(sigmas) - 1, 1)
    return {s: cmap(0.9 * i / n) for i, s in enumerate(sigmas)}


def mass_ratio_panel(ax, keep_fractions, curves, sigmas, *, title=None, legend=True):
    """Largest-cluster mass ratio against λ, one line per σ (Figs 6c, 13, 14b)."""
    colors = sigma_colors(sigmas)
    for s, y in zip(sigmas, curves):
        ax.plot(keep_fractions, y, "o-", ms=2.5, lw=1.2, color=colors[s], label=f"σ = {s:g}")
    ax.set_xlabel("λ (fraction of lattice kept)")
    ax.set_ylabel("largest connected mass ratio")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlim(0, 1.02)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(frameon=False)
    return ax


def _per_seed(values) -> list[np.ndarray]:
    return [np.asarray([v for v in (vs if np.ndim(vs) else [vs]) if v is not None and np.isfinite(v)], float)
            for vs in values]


def seed_line(ax, x, values, fmt="o-", *, band: str = "minmax", **kw) -> list[int]:
    """A curve over seeds (issue 20: every curve a claim reads shows its spread). ``values[i]``:
    the per-seed values at ``x[i]`` (a sequence; None and NaN left out). Draws the mean as ``fmt``
    with ``kw`` (exactly the one-seed curve where one seed is stored), each seed's value as a small
    point where two or more are, and a band where three or more are (``band``: "minmax" or "se",
    ± one standard error). Returns the number of seeds at each x (for :func:`seed_note`)."""
    vals = _per_seed(values)
    keep = [i for i, v in enumerate(vals) if v.size]
    xs = np.asarray(x, float)[keep]
    vals = [vals[i] for i in keep]
    mean = np.array([v.mean() for v in vals])
    (line,) = ax.plot(xs, mean, fmt, **kw)
    color = line.get_color()
    multi = [(xi, v) for xi, v in zip(xs, vals) if v.size >= 2]
    if multi:
        px = np.concatenate([np.full(v.size, xi) for xi, v in multi])
        ax.plot(px, np.concatenate([v for _, v in multi]), ".", color=color, ms=3, alpha=0.6, zorder=line.get_zorder() + 0.1)
    three = [(xi, v) for xi, v in zip(xs, vals) if v.size >= 3]
    if three:
        if band == "se":
            lo = [v.mean() - v.std(ddof=1) / np.sqrt(v.size) for _, v in three]
            hi = [v.mean() + v.std(ddof=1) / np.sqrt(v.size) for _, v in three]
        elif band == "minmax":
            lo, hi = [v.min() for _, v in three], [v.max() for _, v in three]
        else:
            raise ValueError(f"band = {band!r}: allowed 'minmax', 'se'")
        ax.fill_between([xi for xi, _ in three], lo, hi, color=color, alpha=0.15, lw=0)
    return [int(v.size) for v in vals]


def seed_bars(ax, x, values, width, **kw) -> list[int]:
    """Bars over seeds: the mean of ``values[i]`` (per-seed values) at ``x[i]`` as a bar with ``kw``
    (the one-seed bar where one seed is stored), each seed as a black point where two or more are,
    and a min–max error bar where three or more are. Returns the number of seeds at each x."""
    vals = _per_seed(values)
    mean = [v.mean() if v.size else 0.0 for v in vals]
    ax.bar(x, mean, width, **kw)
    for xi, v in zip(x, vals):
        if v.size >= 2:
            ax.plot(np.full(v.size, xi), v, ".", color="k", ms=3, alpha=0.7)
        if v.size >= 3:
            ax.errorbar([xi], [v.mean()], yerr=[[v.mean() - v.min()], [v.max() - v.mean()]], fmt="none",
                        ecolor="k", elinewidth=0.8, capsize=2)
    return [int(v.size) for v in vals]


def seed_note(ax, counts, loc: str = "lower right") -> str:
    """Write how many seeds a panel shows ("1 seed", "3 seeds", "1–3 seeds") in a corner of ``ax``,
    and what the marks mean where there are several; returns the text. ``counts``: an int or the
    lists :func:`seed_line` and :func:`seed_bars` return."""
    def flatten(c):
        return [int(c)] if np.ndim(c) == 0 else [n for x in c for n in flatten(x)]

    flat = [c for c in flatten(counts) if c > 0]
    if not flat:
        return ""
    lo, hi = min(flat), max(flat)
    text = f"{hi} seed{'s' if hi != 1 else ''}" if lo == hi else f"{lo}–{hi} seeds"
    if hi >= 2:
        text += ": mean, · each seed" + (", min–max range" if hi >= 3 else "")
    x, ha = (0.98, "right") if "right" in loc else (0.02, "left")
    y, va = (0.02, "bottom") if "lower" in loc else (0.98, "top")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=6.5, color="0.4")
    return text


def label_map(ax, train_labels, *, offset=0.0, frame=32, canvas=None, held_out=None, title=None):
    """Training labels as dots (Figs 4a–b, 9, 10a/d, 11a, 12a–b), the visible frame as a blue
    square, and ``held_out`` (an (M, 2) array of labels) as red squares."""
    import matplotlib.patches as patches

    ext = canvas if canvas else frame
    if held_out is not None and len(held_out):
        ax.scatter(held_out[:, 0], held_out[:, 1], s=6, marker="s", color="tab:red", alpha=0.35, lw=0,
                   label="held out")
    ax.scatter(train_labels[:, 0], train_labels[:, 1], s=1.5, c="k", lw=0, label="trained")
    ax.add_patch(patches.Rectangle((offset - 0.5, offset - 0.5), frame, frame, fill=False, ec="tab:blue", lw=1))
    ax.set(xlim=(-1, ext), ylim=(ext, -1), aspect="equal", xlabel="μx", ylabel="μy")
    if title:
        ax.set_title(title)
    return ax


def accuracy_map(ax, labels, correct, *, offset=0.0, frame=32, title=None):
    """Per-label correctness over the frame lattice as an image (green right, red wrong)."""
    grid = np.full((frame, frame), np.nan)
    ij = np.rint(np.asarray(labels) - offset).astype(int)
    grid[ij[:, 1], ij[:, 0]] = np.asarray(correct, float)
    cmap = plt.get_cmap("RdYlGn").copy()
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, extent=(offset - 0.5, offset + frame - 0.5, offset + frame - 0.5, offset - 0.5),
              interpolation="nearest")
    ax.set(xlabel="μx", ylabel="μy")
    if title:
        ax.set_title(title)
    return ax


def image_grid(fig, cell, images, *, k=5, labels=None, offset=0.0, title=None):
    """A k×k grid of images in one gridspec cell (Figs 10c/f), the label marked with +."""
    sub = cell.subgridspec(k, k, wspace=0.05, hspace=0.05)
    for i in range(k * k):
        ax = fig.add_subplot(sub[i // k, i % k])
        ax.set_axis_off()
        if i < len(images):
            show_image(ax, np.asarray(images[i], np.float32))
            if labels is not None:
                ax.plot(labels[i][0] - offset, labels[i][1] - offset, "+", color="tab:orange", ms=4, mew=0.7)
            if i == 0 and title:
                ax.set_title(title, loc="left", fontsize=8)
    return fig


def not_yet_reproduced(ax, text: str) -> None:
    """An empty panel that says plainly what is missing and which work will fill it."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, "not yet reproduced\n\n" + text, ha="center", va="center", fontsize=8,
            wrap=True, color="0.35", transform=ax.transAxes,
            bbox=dict(boxstyle="round", fc="0.96", ec="0.7"))


def draw_unet(ax, cfg, title=None):
    """Fig 7 (left): the UNet's blocks by resolution, channels, attention, skips and where the
    condition enters — drawn from a :class:`compdiff.unet.UNetConfig`, so it cannot drift."""
    import matplotlib.patches as patches

    c = cfg.level_channels()
    L = cfg.levels
    res_level = {cfg.image_size // 2**i: i for i in range(L + 1)}
    blocks = [("inc", c[0], cfg.image_size, False)]
    blocks += [(f"down{i}", c[i], r, r in cfg.attention_resolutions) for i, r in enumerate(cfg.down_resolutions(), 1)]
    blocks += [("bottleneck", f"{c[L]}→{cfg.bottleneck_channels}→{c[L]}", cfg.down_resolutions()[-1], False)]
    blocks += [(f"up{j}", co, r, r in cfg.attention_resolutions)
               for j, (co, r) in enumerate(zip(cfg.up_out_channels(), cfg.up_resolutions()), 1)]
    blocks += [("outc", cfg.in_channels, cfg.image_size, False)]
    pos = {}
    for k, (name, ch, r, attn) in enumerate(blocks):
        lvl = res_level[r] + (1 if name == "bottleneck" else 0)
        x, y = k * 1.5, -lvl * 1.3
        pos[name] = (x, y)
        color = "#dbe9f6" if name != "bottleneck" else "#fde2c8"
        ax.add_patch(patches.FancyBboxPatch((x - 0.66, y - 0.46), 1.32, 0.92, boxstyle="round,pad=0.02",
                                            fc=color, ec="0.3", lw=0.8))
        label = f"{name}\n{ch} ch · {r}×{r}" + ("\n+ self-attn" if attn else "")
        if name == "bottleneck":
            label += "\n(the representation)"
        ax.text(x, y, label, ha="center", va="center", fontsize=6.5 if name != "bottleneck" else 5.8)
        if name not in ("inc", "outc"):
            ax.plot([x, x], [y - 0.46, -(L + 1) * 1.3 - 0.55], color="tab:green", lw=0.5, ls=":")
    names = [b[0] for b in blocks]
    for a, b in zip(names, names[1:]):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate("", xy=(x1 - 0.66, y1), xytext=(x0 + 0.66, y0), arrowprops=dict(arrowstyle="->", lw=0.8))
    for i in range(L):  # skips: inc/down_i feed the mirror up block
        src = "inc" if i == 0 else f"down{i}"
        dst = f"up{L - i}"
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        ax.annotate("", xy=(x1, y1 + 0.46), xytext=(x0, y0 + 0.46),
                    arrowprops=dict(arrowstyle="->", lw=0.7, ls="--", color="0.45", connectionstyle="arc3,rad=-0.18"))
    ybar = -(L + 1) * 1.3 - 0.9
    mlp = f" → MLP({cfg.cond_mlp_dim})" if cfg.cond_mlp else ""
    ax.text((len(blocks) - 1) * 0.75, ybar,
            f"condition: concat(PE(t), PE(μx), PE(μy)), {cfg.emb_dim_per_var} dims each{mlp}\n"
            "added to every down, bottleneck and up block as Linear(SiLU(emb)), broadcast over space",
            ha="center", va="center", fontsize=7, color="tab:green",
            bbox=dict(boxstyle="round", fc="#eaf6ea", ec="tab:green", lw=0.6))
    ax.set_xlim(-0.9, (len(blocks) - 1) * 1.5 + 0.9)
    ax.set_ylim(ybar - 0.6, 2.4)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
