"""Levers on the speed of one training step of the cpu profile's UNet (issue 18), one core.

    PYTHONPATH=lib python benchmarks/bench_step_levers.py [--compile] [--bf16 [--only-bf16]]

One training step = forward + loss + backward + AdamW on the ``tiny`` preset, batch 64, fp32. Each
lever is timed in rounds alternating with its baseline in the same process (so a busy neighbour
slows both alike); the ratio is lever images/s over baseline images/s (> 1 = faster):

- batch 32 and batch 16 (images/s per image, the same images: more optimizer steps per image);
- oneDNN (mkldnn) convolutions switched off (the native im2col path);
- channels_last memory layout;
- ``torch.compile`` of the model (only with ``--compile``: it compiles for minutes on a small CPU).

With ``--bf16`` (only on a CPU with native bf16, see :func:`compdiff.devices.bf16_autocast_pays`)
the step also runs under bf16 autocast, as training does there (:func:`compdiff.devices.autocast`
around forward + loss): bf16 eager against the fp32 baseline, and, with ``--compile`` too,
``torch.compile`` under bf16 autocast against the bf16 eager baseline. It also times, against the
bf16 eager baseline (batch 64, contiguous NCHW), channels_last, batch 32, and channels_last + batch
32, all under bf16 autocast. ``--only-bf16`` skips the rows against fp32 and ``torch.compile``.

Each compiled model's loss on one fixed batch is checked against eager (same weights) and the
relative difference printed; with ``--bf16``, likewise the channels_last model's loss under bf16
autocast against the contiguous model's (same weights, same batch).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))

from compdiff.devices import autocast, bf16_autocast_pays  # noqa: E402
from compdiff.diffusion import DiffusionConfig, make_schedule, training_loss  # noqa: E402
from compdiff.unet import PRESETS, build_unet  # noqa: E402


def stepper(batch=64, compiled=False, channels_last=False, bf16=False):
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
        with autocast("cpu", bf16):
            loss = training_loss(fn, sch, x0, lab, t, torch.randn(x0.shape, generator=g))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def check():
        """Relative difference of the loss of ``fn`` (compiled) and the eager model, same weights,
        one fixed batch, grad mode on (the training graph)."""
        gc = torch.Generator().manual_seed(123)
        xc = torch.rand(batch, 1, 32, 32, generator=gc) * 2 - 1
        lc = torch.rand(batch, 2, generator=gc) * 32
        tc = torch.randint(0, 1000, (batch,), generator=gc)
        nc = torch.randn(xc.shape, generator=gc)
        with autocast("cpu", bf16):
            le = training_loss(model, sch, xc, lc, tc, nc).item()
            lf = training_loss(fn, sch, xc, lc, tc, nc).item()
        return le, lf, abs(lf - le) / abs(le)

    step.check = check
    step.model = model
    return step, batch


def fixed_batch(batch=64):
    gc = torch.Generator().manual_seed(123)
    xc = torch.rand(batch, 1, 32, 32, generator=gc) * 2 - 1
    lc = torch.rand(batch, 2, generator=gc) * 32
    tc = torch.randint(0, 1000, (batch,), generator=gc)
    nc = torch.randn(xc.shape, generator=gc)
    return xc, lc, tc, nc


def layout_check(bf16=True):
    """Relative difference of the loss of a channels_last model and a contiguous one (same weights:
    both fresh from seed 0), one fixed batch (channels_last input for the former), grad mode on."""
    sch = make_schedule(DiffusionConfig()).to("cpu")
    ref = stepper(bf16=bf16)[0].model
    cl = stepper(channels_last=True, bf16=bf16)[0].model
    for (n, p), (_, q) in zip(ref.state_dict().items(), cl.state_dict().items()):
        assert torch.equal(p, q), n
    xc, lc, tc, nc = fixed_batch()
    with autocast("cpu", bf16):
        lr = training_loss(ref, sch, xc, lc, tc, nc).item()
        ll = training_loss(cl, sch, xc.contiguous(memory_format=torch.channels_last), lc, tc,
                           nc.contiguous(memory_format=torch.channels_last)).item()
    return lr, ll, abs(ll - lr) / abs(lr)


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
    ap.add_argument("--bf16", action="store_true",
                    help="also bf16 autocast (eager vs fp32; compiled vs bf16 eager with --compile)")
    ap.add_argument("--only-bf16", action="store_true",
                    help="with --bf16: only the rows against the bf16 eager baseline, no compile")
    ap.add_argument("--rounds", type=int, default=4)
    a = ap.parse_args()
    if a.only_bf16 and not a.bf16:
        sys.exit("--only-bf16 needs --bf16")
    if a.only_bf16:
        a.compile = False
    if a.bf16 and not bf16_autocast_pays("cpu"):
        sys.exit("--bf16: this CPU has no native bf16 (avx512_bf16 / AMX), so bf16 autocast runs "
                 "in slow emulation and training does not use it here; refusing to measure it.")
    torch.set_num_threads(1)
    bases, levers, checks = {}, {}, []  # levers: name -> ((step, batch), on, off, baseline prec.)
    if not a.only_bf16:
        base = stepper()
        bases["fp32"] = base
        levers.update({
            "batch 32 (fp32)": (stepper(32), None, None, "fp32"),
            "batch 16 (fp32)": (stepper(16), None, None, "fp32"),
            "oneDNN convolutions off (fp32)": (
                base, lambda: setattr(torch.backends.mkldnn, "enabled", False),
                lambda: setattr(torch.backends.mkldnn, "enabled", True), "fp32"),
            "channels_last (fp32)": (stepper(channels_last=True), None, None, "fp32"),
        })
    if a.compile:
        t0 = time.perf_counter()
        c = stepper(compiled=True)
        c[0]()
        c[0]()
        levers[f"torch.compile (fp32; compiled in {time.perf_counter() - t0:.0f} s)"] = (
            c, None, None, "fp32")
        checks.append(("fp32", c[0].check()))
    if a.bf16:
        checks.append(("bf16 autocast, channels_last vs contiguous", layout_check(bf16=True)))
        bases["bf16"] = stepper(bf16=True)
        if not a.only_bf16:
            levers["bf16 autocast, eager (vs fp32 eager)"] = (bases["bf16"], None, None, "fp32")
        levers["channels_last (bf16)"] = (stepper(channels_last=True, bf16=True), None, None, "bf16")
        levers["batch 32 (bf16)"] = (stepper(32, bf16=True), None, None, "bf16")
        levers["channels_last + batch 32 (bf16)"] = (
            stepper(32, channels_last=True, bf16=True), None, None, "bf16")
        if a.compile:
            t0 = time.perf_counter()
            cb = stepper(compiled=True, bf16=True)
            cb[0]()
            cb[0]()
            levers[f"torch.compile (bf16 autocast; compiled in {time.perf_counter() - t0:.0f} s)"] = (
                cb, None, None, "bf16")
            checks.append(("bf16 autocast", cb[0].check()))
    for (step, _), _, _, _ in levers.values():
        step()
    for step, _ in bases.values():
        step()
    print("| lever | images/s | baseline images/s (batch 64, eager, oneDNN; precision) | ratio |")
    print("|---|---|---|---|")
    for name, ((step, b), on, off, prec) in levers.items():
        lv, bs = [], []
        for _ in range(a.rounds):
            bs.append(images_per_s(*bases[prec]))
            lv.append(images_per_s(step, b, setup=on))
            if off:
                off()
        lm, bm = statistics.median(lv), statistics.median(bs)
        print(f"| {name} | {lm:.1f} | {bm:.1f} ({prec}) | {lm / bm:.2f}× |")
    print()
    print(f"torch {torch.__version__}, 1 thread; medians of {a.rounds} alternating rounds of 128 images.")
    for prec, (le, lf, rel) in checks:
        if "channels_last" in prec:
            print(f"loss on one fixed batch, {prec}: contiguous {le:.6f}, channels_last {lf:.6f}, "
                  f"relative difference {rel:.1e}")
        else:
            print(f"loss on one fixed batch, {prec}: eager {le:.6f}, compiled {lf:.6f}, "
                  f"relative difference {rel:.1e}")


if __name__ == "__main__":
    main()
