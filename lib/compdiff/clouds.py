"""A run's stored representation clouds (Figs 2, 3, 8, 11, 15): one key schema, written and read here.

A run's ``representations`` artifact holds, for snapshot k (0 = the first checkpoint) and DDIM
timestep t of the readout chain, the cloud under :func:`key` (float16 scores on its top principal
directions, one row per label), ``images`` (images seen at each snapshot), ``labels`` (the rows'
labels), and ``variance_kept`` / ``variance_kept_keys`` (the share of each cloud's variance its
stored components keep). numpy only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_KEY = re.compile(r"^s(\d+)_t(\d+)$")


def key(snapshot: int, t: int) -> str:
    """The artifact key of the cloud of snapshot ``snapshot`` read at timestep ``t``."""
    return f"s{int(snapshot)}_t{int(t)}"


def parse_key(name: str) -> tuple[int, int] | None:
    """(snapshot, t) of a cloud key; None for the artifact's other arrays."""
    m = _KEY.match(name)
    return (int(m[1]), int(m[2])) if m else None


@dataclass(frozen=True)
class Clouds:
    """The clouds of one run: ``cloud(snapshot, t)``, ``series(t)``, ``timesteps(snapshot)``."""

    arrays: dict

    @property
    def images(self) -> list[int]:
        """Images seen at each snapshot."""
        return [int(i) for i in self.arrays["images"]]

    @property
    def labels(self) -> np.ndarray:
        return self.arrays["labels"]

    def _index(self, snapshot: int) -> int:
        n = len(self.images)
        k = snapshot + n if snapshot < 0 else snapshot
        if not 0 <= k < n:
            raise IndexError(f"snapshot {snapshot} of a run with {n} snapshots")
        return k

    def cloud(self, snapshot: int = -1, t: int = 0) -> np.ndarray:
        """The cloud (M, D) of a snapshot (negative: from the last) at timestep t, as float64."""
        name = key(self._index(snapshot), t)
        if name not in self.arrays:
            raise KeyError(f"no cloud at snapshot {snapshot}, t = {t}; stored: "
                           f"{sorted(k for k in self.arrays if parse_key(k))}")
        return np.asarray(self.arrays[name], np.float64)

    def series(self, t: int = 0) -> list[np.ndarray]:
        """One cloud per snapshot, in training order, at timestep t."""
        return [self.cloud(k, t) for k in range(len(self.images))]

    def timesteps(self, snapshot: int = -1) -> list[int]:
        """The timesteps stored for a snapshot, from the chain's first (noisiest) to its last."""
        k = self._index(snapshot)
        return sorted((p[1] for n in self.arrays if (p := parse_key(n)) and p[0] == k), reverse=True)


def read(run) -> Clouds:
    """The clouds of a stored run (:class:`compdiff.store.Run`)."""
    return Clouds(run.arrays("representations"))
