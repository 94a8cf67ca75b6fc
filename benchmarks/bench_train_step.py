"""Training-step speed of the CPU presets, fp32 vs bf16 autocast, and the SampleNoise overhead.

    PYTHONPATH=lib python benchmarks/bench_train_step.py [--presets tiny small] [--batch 64]
        [--steps 8] [--rounds 3] [--threads N] [--device cpu] [--no-bf16]

One training step = forward + ε-MSE + backward + AdamW, as in compdiff.train. fp32 and bf16 are
timed in alternating rounds in the same process (so a busy neighbour slows both alike) and the
median step is reported, with the bf16/fp32 ratio. The SampleNoise line is the cost of one
sampler step's noise draw for ``--noise-batch`` samples, against one no-grad model step at that
batch. Timings vary with machine load: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from compdiff.devices import autocast, bf16_autocast_pays, resolve_device
from compdiff.diffusion import DiffusionConfig, SampleNoise, make_schedule, training_loss
from compdiff.unet import PRESETS, build_unet, count_parameters


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()
    elif dev.type == "mps":
        torch.mps.synchronize()


def time_steps(model, opt, sched, batch, dev, bf16, steps):
    n = model.cfg.image_size
    g = torch.Generator().manual_seed(0)
    x0 = (torch.rand(batch, 1, n, n, generator=g) * 2 - 1).to(dev)
    lab = (torch.rand(batch, 2, generator=g) * n).to(dev)
    out = []
    for _ in range(steps):
        t = torch.randint(0, sched.T, (batch,), generator=g).to(dev)
        noise = torch.randn(x0.shape, generator=g).to(dev)
        _sync(dev)
        t0 = time.perf_counter()
        with autocast(dev, bf16):
            loss = training_loss(model, sched, x0, lab, t, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(dev)
        out.append(time.perf_counter() - t0)
    return out


def bench_preset(name, batch, steps, rounds, dev, with_bf16=True):
    torch.manual_seed(0)
    model = build_unet(name).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    sched = make_schedule(DiffusionConfig()).to(dev)
    settings = (False, True) if with_bf16 else (False,)
    times = {s: [] for s in settings}
    for bf16 in settings:  # warm-up
        time_steps(model, opt, sched, batch, dev, bf16, 2)
    for _ in range(rounds):
        for bf16 in settings:
            times[bf16] += time_steps(model, opt, sched, batch, dev, bf16, steps)
    fp32 = batch / statistics.median(times[False])
    line = (f"{name:6s} {count_parameters(model) / 1e6:6.2f} M  batch {batch}: "
            f"fp32 {fp32:7.1f} img/s")
    if with_bf16:
        bf = batch / statistics.median(times[True])
        line += f"   bf16 {bf:7.1f} img/s   bf16/fp32 = {bf / fp32:.2f}x"
    print(line, flush=True)


def bench_noise(batch, dev, preset="tiny", reps=20):
    n = PRESETS[preset].image_size
    noise = SampleNoise(0, range(batch), (1, n, n), dev)
    noise.next()
    t0 = time.perf_counter()
    for _ in range(reps):
        noise.next()
    _sync(dev)
    t_noise = (time.perf_counter() - t0) / reps
    t_setup0 = time.perf_counter()
    SampleNoise(0, range(batch), (1, n, n), dev)
    t_setup = time.perf_counter() - t_setup0
    model = build_unet(preset).to(dev).eval()
    x = torch.randn(batch, 1, n, n, device=dev)
    t = torch.full((batch,), 500, device=dev)
    lab = torch.rand(batch, 2, device=dev) * n
    with torch.no_grad():
        model(x, t, lab)
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(3):
            model(x, t, lab)
        _sync(dev)
    t_model = (time.perf_counter() - t0) / 3
    print(f"SampleNoise, batch {batch}: {t_noise * 1e3:.2f} ms per sampler step "
          f"({t_setup * 1e3:.1f} ms once to seed {batch} generators); one no-grad {preset} "
          f"step {t_model * 1e3:.1f} ms -> overhead {100 * t_noise / t_model:.1f}%")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8, help="timed steps per round and setting")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--noise-batch", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-bf16", action="store_true", help="time fp32 only")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    print(f"torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}, "
          f"bf16 'auto' would be {'on' if bf16_autocast_pays(dev) else 'off'}, "
          f"load average {os.getloadavg()[0]:.2f}")
    for name in args.presets:
        bench_preset(name, args.batch, args.steps, args.rounds, dev, not args.no_bf16)
    bench_noise(args.noise_batch, dev)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
