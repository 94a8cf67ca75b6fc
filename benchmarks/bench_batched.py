"""Training throughput of K models trained together (compdiff.batched) against the same K models
trained one after another by the plain loop (compdiff.train.train), in the same process.

    PYTHONPATH=lib python benchmarks/bench_batched.py [--presets micro tiny] [--ks 1 8 32]
        [--steps 6] [--batch 64] [--device cpu] [--threads N] [--precisions fp32 bf16]

Both paths run the real trainers end to end (data prep, RNG draws, AdamW, EMA, checkpoint files)
for ``--steps`` steps per model, in temporary folders. Sequential and batched are timed in
alternating order and each ratio uses the median of ``--rounds`` rounds, so a busy neighbour slows
both alike; the load average is printed. At K = 1 both are the same loop (``train`` is the
K = 1 case of ``train_many``), so that row measures the noise. K = 32 is skipped for presets
where it would take more than a few minutes on a CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace

import numpy as np
import torch

from compdiff import data
from compdiff.batched import train_batched
from compdiff.devices import resolve_bf16, resolve_device
from compdiff.diffusion import DiffusionConfig
from compdiff.train import RunSpec, TrainConfig, train
from compdiff.unet import PRESETS, count_parameters, build_unet


def jobs_for(preset: str, K: int, steps: int, batch: int, root: str, bf16: bool = False):
    ucfg = PRESETS[preset]
    n = ucfg.image_size
    labels = data.lattice(n, 1.0)
    images = data.to_model_range(data.render("bump", labels, 1.0, frame=n))[:, None]
    out = []
    for k in range(K):
        tc = TrainConfig(lr=2e-3, batch_size=batch, images=batch * steps, ema_decay=0.995, seed=k,
                         log_every_images=batch, resume_every_images=None, bf16=bf16)
        out.append((RunSpec(ucfg, DiffusionConfig(), tc), images, labels, os.path.join(root, f"r{k}")))
    return out


def time_sequential(jobs, dev):
    t0 = time.perf_counter()
    for s, x, y, o in jobs:
        train(s, x, y, o + "_seq", device=dev, progress=False)
    return time.perf_counter() - t0


def time_batched(jobs, dev):
    t0 = time.perf_counter()
    train_batched([(s, x, y, o + "_bat") for s, x, y, o in jobs], device=dev, progress=False,
                  max_models=len(jobs))
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["micro", "tiny"])
    ap.add_argument("--ks", nargs="+", type=int, default=[1, 8, 32])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--precisions", nargs="+", default=None, choices=["fp32", "bf16"],
                    help="default: fp32, and bf16 autocast too where the device runs it natively")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = resolve_device(a.device)
    precisions = a.precisions or (["fp32", "bf16"] if resolve_bf16("auto", dev) else ["fp32"])
    print(f"device {dev}, {torch.get_num_threads()} torch threads, load average before "
          f"{os.getloadavg()[0]:.2f}; {a.steps} steps of batch {a.batch} per model, "
          f"median of {a.rounds} alternating rounds")
    print()
    print("| preset | params | precision | K | sequential img/s | batched img/s | batched / sequential |")
    print("|---|---|---|---|---|---|---|")
    for preset, prec in [(p, q) for p in a.presets for q in precisions]:
        params = count_parameters(build_unet(PRESETS[preset]))
        for K in a.ks:
            if dev.type == "cpu" and K * params * a.steps > 8 * 410_000 * 12:
                print(f"| {preset} | {params:,d} | {prec} | {K} | – | – | skipped on CPU (too long) |")
                continue
            seq, bat = [], []
            for r in range(a.rounds):
                with tempfile.TemporaryDirectory() as root:
                    jobs = jobs_for(preset, K, a.steps, a.batch, root, bf16=prec == "bf16")
                    if r % 2 == 0:
                        seq.append(time_sequential(jobs, dev)); bat.append(time_batched(jobs, dev))
                    else:
                        bat.append(time_batched(jobs, dev)); seq.append(time_sequential(jobs, dev))
            imgs = K * a.steps * a.batch
            s, b = statistics.median(seq), statistics.median(bat)
            print(f"| {preset} | {params:,d} | {prec} | {K} | {imgs / s:.0f} | {imgs / b:.0f} | **{s / b:.2f}×** |")
    print()
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
