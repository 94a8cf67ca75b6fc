"""Levers on the speed of one training step of the cpu profile's UNet (issue 18), one core.

    PYTHONPATH=lib python benchmarks/bench_step_levers.py [--compile]

One training step = forward + loss + backward + AdamW on the ``tiny`` preset, batch 64, fp32. Each
lever is timed in rounds alternating with the baseline in the same process (so a busy neighbour
slows both alike); the ratio is lever images/s over baseline images/s (> 1 = faster):

- batch 32 and batch 16 (images/s per image, the same images: more optimizer steps per image);
- oneDNN (mkldnn) convolutions switched off (the native im2col path);
- channels_last memory layout;
- ``torch.compile`` of the model (only with ``--compile``: it compiles for minutes on a small CPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))

from compdiff.diffusion import DiffusionConfig, make_schedule, training_loss  # noqa: E402
from compdiff.unet import PRESETS, build_unet  # noqa: E402


def stepper(batch=64, compiled=False, channels_last=False):
    torch.manual_seed(0)
    model = build_unet(PRESETS["tiny"])
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    fn = torch.compile(model) if compiled else model
    sch = make_schedule(DiffusionConfig()).to("cpu")
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(batch, 1, 32, 32, generator=g) * 2 - 1
    if channels_last:
        x0 = x0.contiguous(memory_format=torch.channels_last)
    lab = torch.rand(batch, 2, generator=g) * 32

    def step():
        t = torch.randint(0, 1000, (batch,), generator=g)
        loss = training_loss(fn, sch, x0, lab, t, torch.randn(x0.shape, generator=g))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, batch


def images_per_s(step, batch, images=128, setup=None):
    if setup:
        setup()
    t = time.perf_counter()
    for _ in range(images // batch):
        step()
    return images / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--rounds", type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(1)
    base = stepper()
    levers = {
        "batch 32": (stepper(32), None, None),
        "batch 16": (stepper(16), None, None),
        "oneDNN convolutions off": (base, lambda: setattr(torch.backends.mkldnn, "enabled", False),
                                    lambda: setattr(torch.backends.mkldnn, "enabled", True)),
        "channels_last": (stepper(channels_last=True), None, None),
    }
    if a.compile:
        t0 = time.perf_counter()
        c = stepper(compiled=True)
        c[0]()
        c[0]()
        levers[f"torch.compile (compiled in {time.perf_counter() - t0:.0f} s)"] = (c, None, None)
    for (step, _), _, _ in levers.values():
        step()
    base[0]()
    print("| lever | images/s | baseline images/s (batch 64, fp32, oneDNN) | ratio |")
    print("|---|---|---|---|")
    for name, ((step, b), on, off) in levers.items():
        lv, bs = [], []
        for _ in range(a.rounds):
            bs.append(images_per_s(*base))
            lv.append(images_per_s(step, b, setup=on))
            if off:
                off()
        lm, bm = statistics.median(lv), statistics.median(bs)
        print(f"| {name} | {lm:.1f} | {bm:.1f} | {lm / bm:.2f}× |")
    print()
    print(f"torch {torch.__version__}, 1 thread; medians of {a.rounds} alternating rounds of 128 images.")


if __name__ == "__main__":
    main()
