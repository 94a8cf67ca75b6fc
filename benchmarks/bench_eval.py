"""Evaluation: stochastic DDIM with k steps against the 1000-step DDPM, on the same trained model.

    PYTHONPATH=lib python benchmarks/bench_eval.py [--labels 128] [--ks 10 25 50 100]

Uses the stored weights of the ``basic`` cpu run (nothing is trained) and scores one sample per
label for a fixed random subset of the 1024 lattice labels with each sampler, same seed. Reports
accuracy, wall time, network calls, the speed-up over DDPM and how often each sampler's verdict
agrees with DDPM's per label.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import torch

from compdiff import data, evaluate, experiments, sampling, store
from compdiff.diffusion import make_schedule
from compdiff.unet import build_unet


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=int, default=128)
    ap.add_argument("--ks", nargs="+", type=int, default=[10, 25, 50, 100])
    a = ap.parse_args()
    cfg = experiments.basic_config("cpu", recipe="wsd-eps")  # the run the table was measured on
    run = store.lookup("basic", cfg)
    if run is None:
        print(f"no stored basic cpu run ({store.run_id(cfg)}): make it with `python -m compdiff train basic --profile cpu`")
        return
    model = build_unet(cfg.unet)
    model.load_state_dict(torch.load(io.BytesIO(run.file("model_ema.pt").read_bytes()), weights_only=True))
    model.eval()
    schedule = make_schedule(cfg.diffusion)
    labels = data.lattice(32, 1.0).astype(np.float32)
    pick = np.sort(np.random.default_rng(7).choice(len(labels), size=a.labels, replace=False))
    lab = labels[pick]

    def score(sampler, k=None):
        ev = experiments.replace(cfg.eval, steps=k or cfg.eval.steps)
        t0 = time.perf_counter()
        imgs = sampling.generate(model, schedule, lab, ev, sampler=sampler, device="cpu")
        return np.asarray(evaluate.bump_accuracy(imgs, lab, tol=ev.tol).correct), time.perf_counter() - t0

    ref, t_ref = score("ddpm")
    T = cfg.diffusion.T
    print(f"model: stored run `{run.run_id}` (basic, cpu profile, {run.json('metrics')['train']['images']:,d} images); "
          f"{a.labels} labels, one sample each, seed {cfg.eval.seed}; {torch.get_num_threads()} torch threads")
    print()
    print("| sampler | accuracy | network calls per sample | time (s) | speed-up vs DDPM | verdict agrees with DDPM |")
    print("|---|---|---|---|---|---|")
    print(f"| DDPM-{T} | {100 * ref.mean():.1f}% | {T} | {t_ref:.1f} | 1× | – |")
    for k in a.ks:
        ok, t = score("ddim", k)
        print(f"| DDIM-{k} (η = {cfg.eval.eta:g}) | {100 * ok.mean():.1f}% | {k} | {t:.1f} | **{t_ref / t:.1f}×** "
              f"({T // k}× fewer calls) | {100 * (ok == ref).mean():.0f}% |")
    se = 100 * np.sqrt(ref.mean() * (1 - ref.mean()) / a.labels)
    print()
    print(f"One sample per label: the sampling error of each accuracy is about ±{se:.1f} points (1 s.e.).")


if __name__ == "__main__":
    main()
