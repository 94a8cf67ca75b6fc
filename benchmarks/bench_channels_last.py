"""The channels_last layout of the CPU training path (``compdiff.train.CPU_CHANNELS_LAST``), through
the real training function, one core (issue 18's "a faster step").

    PYTHONPATH=lib python benchmarks/bench_channels_last.py [--images 3200] [--rounds 3]

Trains the cpu profile's ``basic`` run (the ``tiny`` UNet, batch 64, bf16 autocast where the CPU has
native bf16, as training does) from scratch for ``--images`` images, with the layout on and off, in
alternating rounds in the same process (a busy neighbour slows both alike); reports the median
images/s of each and their ratio, and how far apart the two final losses are (the layout reorders
float operations only).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))

from compdiff import data, datasets, experiments, train  # noqa: E402
from compdiff.devices import bf16_autocast_pays, hardware_name  # noqa: E402
from compdiff.runs import run_spec  # noqa: E402


def one(cfg, images, labels, on: bool) -> tuple[float, float]:
    train.CPU_CHANNELS_LAST = on
    with tempfile.TemporaryDirectory() as tmp:
        res = train.train(run_spec(cfg), images, labels, tmp, device="cpu", progress=False)
    return res.images_per_second, res.loss_curve[-1][1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=3200)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = experiments.basic_config("cpu")
    cfg = replace(cfg, train=replace(cfg.train, images=a.images, checkpoint_every_images=None,
                                     log_every_images=a.images, warmup_images=min(cfg.train.warmup_images, a.images)))
    ds, _, _ = datasets.bump_run_data(cfg)
    images = data.to_model_range(ds.images)[:, None]
    speeds, losses = {True: [], False: []}, {}
    for _ in range(a.rounds):
        for on in (False, True):
            ips, loss = one(cfg, images, ds.labels, on)
            speeds[on].append(ips)
            losses[on] = loss
    off, on = statistics.median(speeds[False]), statistics.median(speeds[True])
    print("| layout | images/s (median) | ratio |")
    print("|---|---|---|")
    print(f"| contiguous (NCHW) | {off:.1f} | 1.00× |")
    print(f"| channels_last | {on:.1f} | **{on / off:.2f}×** |")
    print()
    print(f"{hardware_name('cpu')}, torch {torch.__version__}, 1 thread, bf16 autocast "
          f"{'on' if bf16_autocast_pays('cpu') else 'off'}; the cpu basic run trained from scratch for "
          f"{a.images:,} images per round, {a.rounds} alternating rounds; load average "
          f"{os.getloadavg()[0]:.2f}.")
    print(f"final logged loss: contiguous {losses[False]:.6f}, channels_last {losses[True]:.6f} "
          f"(relative difference {abs(losses[True] - losses[False]) / abs(losses[False]):.1e})")


if __name__ == "__main__":
    main()
