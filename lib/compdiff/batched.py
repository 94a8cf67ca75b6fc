"""Many small models in one step: K runs of one architecture trained as one batched computation.

The paper's sweeps (subsampling, σ, λ, N, lesion and hole sizes, seeds) need hundreds of small
models. Trained one after another each step is a small batch that leaves most of a GPU (or the
CPU's vector units and threads) idle; trained together — ``torch.func.stack_module_state`` +
``vmap`` over the stacked weights, so that every convolution of the K models runs as one grouped
convolution — they share each kernel launch and the Python overhead of a step.

The loop is :func:`compdiff.train.train`'s own: :func:`~compdiff.train.train_many` runs it for
K models at once. Each of the K runs keeps its own data set, seed, initial weights, batch order,
timesteps, noise, AdamW moments, gradient clip and EMA, and follows the loss curve it has alone
up to floating-point reordering in the grouped kernels (``tests/test_batched.py`` measures it).
Files are those of :func:`~compdiff.train.train`, one ``out_dir`` per run: a run started in a
batch can be resumed alone and vice versa. Runs whose ``last.pt`` stand at different points are
trained in groups of equal progress.

Runs batched together must share the UNet, the diffusion config and every training setting but
the seed (:func:`batch_key`); :func:`train_batched` groups a mixed list by that key and trains
each group in chunks of at most ``max_models`` (sized from the device's memory when not given).
"""

from __future__ import annotations

from typing import Optional, Sequence

from .devices import DeviceLike
from .train import TrainResult, batch_key, default_max_models, train_many

__all__ = ["batch_key", "train_batched", "default_max_models"]


def train_batched(jobs: Sequence[tuple], device: DeviceLike = "auto", *, progress: bool = True,
                  max_models: Optional[int] = None) -> list[TrainResult]:
    """Train ``jobs`` = [(RunSpec, images, labels, out_dir), ...], stacking compatible runs.

    :func:`compdiff.train.train_many` with ``max_models`` defaulting to
    :func:`default_max_models` rather than 1. Returns the
    :class:`~compdiff.train.TrainResult` of every job, in the order given."""
    if max_models is not None and (not isinstance(max_models, int) or max_models < 1):
        raise ValueError(f"max_models must be a positive int or None, got {max_models!r}")
    return train_many(jobs, device, progress, max_models=max_models)
