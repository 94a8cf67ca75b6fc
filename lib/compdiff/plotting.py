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


def save_figure(fig, name: str) -> None:
    """Write ``fig`` as PNG and SVG under ``figures/`` (metadata stripped for reproducible files)."""
    paths.FIGURE_FILES.mkdir(parents=True, exist_ok=True)
    fig.savefig(paths.FIGURE_FILES / f"{name}.png", bbox_inches="tight", metadata={"Software": None})
    fig.savefig(paths.FIGURE_FILES / f"{name}.svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})


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


def mass_ratio_panel(ax, lambdas, curves, sigmas, *, title=None, legend=True):
    """Largest-cluster mass ratio against λ, one line per σ (Figs 6c, 13, 14b)."""
    colors = sigma_colors(sigmas)
    for s, y in zip(sigmas, curves):
        ax.plot(lambdas, y, "o-", ms=2.5, lw=1.2, color=colors[s], label=f"σ = {s:g}")
    ax.set_xlabel("λ (fraction of lattice kept)")
    ax.set_ylabel("largest connected mass ratio")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlim(0, 1.02)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(frameon=False)
    return ax


def not_yet_reproduced(ax, text: str) -> None:
    """An empty panel that says plainly what is missing and which work will fill it."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, "not yet reproduced\n\n" + text, ha="center", va="center", fontsize=8,
            wrap=True, color="0.35", transform=ax.transAxes,
            bbox=dict(boxstyle="round", fc="0.96", ec="0.7"))
