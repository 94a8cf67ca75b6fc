"""Where things live: the one module that knows the repository's layout.

``COMPDIFF_RESULTS``, ``COMPDIFF_RUNS`` and ``COMPDIFF_WEIGHTS`` override the results folder, the
training scratch folder and the weights cache (tests point them at temporary ones).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
FIGURE_FILES = ROOT / "figures"  # PNG/SVG copies of every figure, for talks (not committed)
RUNS = ROOT / "runs"  # scratch: training checkpoints for resume (not committed)
WEIGHTS = ROOT / "weights"  # the local cache of stored runs' weights (not committed)


def results_dir() -> Path:
    """The results store's root: ``results/`` or ``$COMPDIFF_RESULTS``."""
    return Path(os.environ.get("COMPDIFF_RESULTS", ROOT / "results"))


def runs_dir() -> Path:
    """Scratch folder for checkpoints of runs in progress (``$COMPDIFF_RUNS`` overrides)."""
    return Path(os.environ.get("COMPDIFF_RUNS", RUNS))


def weights_dir() -> Path:
    """The local cache of stored runs' weights, outside git (``$COMPDIFF_WEIGHTS`` overrides)."""
    return Path(os.environ.get("COMPDIFF_WEIGHTS", WEIGHTS))
