"""The CPU sampling levers of ``compdiff.diffusion`` (``CPU_SAMPLER_CHUNK``, ``CPU_SAMPLER_CHANNELS_LAST``),
through the real scoring function, one core (issue 20: scoring is a third of a run's cost).

    PYTHONPATH=lib python benchmarks/bench_sampler_cpu.py [--labels 512] [--steps 6] [--rounds 3] [--frame 32]

Samples one DDIM image per label with ``compdiff.sampling.generate`` (the cpu profile's eval config:
batch 512, η = 1, fp32 or bf16 autocast as scoring uses) from the cpu profile's ``tiny`` UNet,
with each lever off and on, in alternating rounds in the same process (a busy neighbour slows
every variant alike); reports the median labels·steps/s of each against the baseline (both off:
one network call on the whole batch, NCHW), and the largest pixel difference from the baseline's
images (the levers reorder float operations only; the noise is the same). The model is the
``tiny`` UNet at its seeded initialisation, or the stored weights of ``--run ID`` where the local
cache has them (a composition run): the speed does not depend on the weights, and with a trained
model the table also says how many samples score as the baseline's do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))

from compdiff import diffusion, experiments, sampling  # noqa: E402
from compdiff.devices import hardware_name, resolve_bf16  # noqa: E402
from compdiff.diffusion import make_schedule  # noqa: E402
from compdiff.unet import build_unet  # noqa: E402

VARIANTS = {  # name: (chunk, channels_last)
    "one call, NCHW (baseline)": (None, False),
    "chunks of 64, NCHW": (64, False),
    "one call, channels_last": (None, True),
    "chunks of 64, channels_last (default)": (64, True),
    "chunks of 32, channels_last": (32, True),
}


def stored_compose(run_id: str):
    """(model, config, scorer, frame labels) of a stored composition run (any cpu seed 0–2, either
    recipe) whose weights the local cache holds."""
    from compdiff import store
    from compdiff.datasets import compose_data
    from compdiff.runs import stored_model

    run = store.find_run(run_id if "/" in run_id else f"compose/{run_id}")
    cfg = next((c for seed in range(3) for recipe in experiments.CPU_RECIPES
                for c in experiments.compose_sweep("cpu", seed=seed, recipe=recipe).values()
                if store.run_id(c) == run.run_id), None)
    if cfg is None:
        raise SystemExit(f"--run {run_id}: not a cpu composition run of seeds 0-2")
    _, eval_labels, _, score = compose_data(cfg)
    return stored_model(run, cfg), cfg, score, eval_labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=int, default=512)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frame", type=int, default=32)
    ap.add_argument("--run", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg, score = experiments.basic_config("cpu"), None
    rng = np.random.default_rng(0)
    if a.run:
        model, cfg, score, frame_labels = stored_compose(a.run)
        a.frame = cfg.unet.image_size
        labels = frame_labels[np.sort(rng.choice(len(frame_labels), size=min(a.labels, len(frame_labels)), replace=False))]
        what = f"stored run {a.run} ({len(labels)} of its frame labels)"
    else:
        torch.manual_seed(0)
        model = build_unet(experiments.unet_at(cfg.unet, a.frame)).eval()
        labels = rng.uniform(0, a.frame - 1, size=(a.labels, 2)).astype(np.float32)
        what = "the tiny UNet at its seeded initialisation (seed 0)"
    ev = replace(cfg.eval, steps=a.steps)
    sched = make_schedule(cfg.diffusion)
    load0 = os.getloadavg()[0]
    speeds = {k: [] for k in VARIANTS}
    images = {}
    for _ in range(a.rounds):
        for name, (chunk, cl) in VARIANTS.items():
            diffusion.CPU_SAMPLER_CHUNK, diffusion.CPU_SAMPLER_CHANNELS_LAST = chunk, cl
            t0 = time.perf_counter()
            images[name] = sampling.generate(model, sched, labels, ev, image_size=a.frame, device="cpu")
            speeds[name].append(a.labels * a.steps / (time.perf_counter() - t0))
    base_name = next(iter(VARIANTS))
    base = statistics.median(speeds[base_name])
    bf16 = resolve_bf16("auto", torch.device("cpu"))
    print(f"{hardware_name('cpu')}, torch {torch.__version__}, 1 thread, {'bf16 autocast' if bf16 else 'fp32'}; "
          f"DDIM-{a.steps} (η = {ev.eta:g}) on {a.labels} labels at {a.frame}×{a.frame}, eval batch {ev.batch_size}; "
          f"{what}; medians of {a.rounds} alternating rounds; load average before {load0:.2f}, after {os.getloadavg()[0]:.2f}")
    print()
    head = "| sampler path | network images/s (median) | ratio | largest pixel difference from the baseline |"
    print(head + (" scored as the baseline |" if score else ""))
    print("|---|---|---|---|" + ("---|" if score else ""))
    correct = {k: np.asarray(score(v, labels).correct) for k, v in images.items()} if score else {}
    for name in VARIANTS:
        med = statistics.median(speeds[name])
        diff = float(np.abs(images[name] - images[base_name]).max())
        same = f" {np.mean(correct[name] == correct[base_name]):.1%} |" if score else ""
        print(f"| {name} | {med:.1f} | **{med / base:.2f}×** | {diff:.1e} |{same}")


if __name__ == "__main__":
    main()
