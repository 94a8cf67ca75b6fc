"""Train and evaluate: turn an experiment config into a stored run.

This is the heavy half of a figure (DESIGN.md: a notebook only asks the store for results). A run
is trained in a scratch folder (``runs/<experiment>/<run_id>/``, checkpoints for resume), every
training snapshot is scored, and the artifacts go to the store (``results/``) atomically.

Imports only torch, numpy, scipy and tqdm, so it runs on a bare GPU machine.
"""

from __future__ import annotations

import io
import time

import numpy as np
import torch

from . import data, evaluate, experiments, paths, store
from .devices import resolve_device
from .diffusion import ddim_timesteps, make_schedule, sample_ddim, sample_ddpm
from .train import RunSpec, load_model, train
from .unet import count_parameters

MAX_STORED_PARAMETERS = 2_000_000  # weights of larger models stay in runs/, not in results/


def sampler_name(ev: experiments.EvalConfig, T: int) -> str:
    return f"DDPM-{T}" if ev.sampler == "ddpm" else f"DDIM-{ev.steps} (η = {ev.eta:g})"


def generate(model, schedule, labels: np.ndarray, ev: experiments.EvalConfig, *, sampler: str | None = None,
             image_size: int = 32, device="auto", progress: bool = False) -> np.ndarray:
    """One sample per label, as images in [0, 1] (M, N, N); noise of sample k depends on (ev.seed, k)."""
    sampler = sampler or ev.sampler
    common = dict(seed=ev.seed, device=device, batch_size=ev.batch_size, shape=(1, image_size, image_size),
                  progress=progress, autocast="auto")
    lab = torch.as_tensor(labels, dtype=torch.float32)
    if sampler == "ddpm":
        x0 = sample_ddpm(model, schedule, lab, **common)
    else:
        x0 = sample_ddim(model, schedule, lab, steps=ev.steps, eta=ev.eta, **common)
    return data.from_model_range(x0[:, 0].numpy()).astype(np.float32)


def representation(model, schedule, labels: np.ndarray, rep, *, image_size: int = 32, device="auto",
                   all_steps: bool = False, progress: bool = False) -> dict[int, np.ndarray]:
    """Bottleneck activations {t: (M, C, h, w)} of every label along one shared-noise DDIM chain
    (:class:`~compdiff.experiments.RepresentationConfig`): at its last step (t = 0), and with
    ``all_steps`` also at its first (t = T−1) and middle steps."""
    visited = ddim_timesteps(schedule.T, rep.steps)
    ts = [visited[-1]]
    if all_steps:
        ts = sorted({visited[0], visited[len(visited) // 2], visited[-1]}, reverse=True)
    lab = torch.as_tensor(labels, dtype=torch.float32)
    _, feats = sample_ddim(model, schedule, lab, steps=rep.steps, eta=rep.eta, seed=rep.seed,
                           indices=[rep.noise_index] * len(lab), device=device, batch_size=rep.batch_size,
                           shape=(1, image_size, image_size), return_features_at=ts, progress=progress,
                           autocast="auto")
    return {int(t): f.numpy() for t, f in feats.items()}


def failure_modes(score) -> dict:
    """Counts of the predecessor paper's failure modes: no bump, several bumps, one misplaced, correct."""
    n = np.asarray(score.n_bumps)
    correct = np.asarray(score.correct)
    return {"no_bump": int((n == 0).sum()), "several_bumps": int((n > 1).sum()),
            "one_bump_misplaced": int(((n == 1) & ~correct).sum()), "correct": int(correct.sum())}


def _bump_dataset(cfg: experiments.BumpRunConfig):
    if cfg.periodic:
        return data.periodic_bump_dataset(cfg.sigma, cfg.n, cfg.d)
    return data.bump_dataset(cfg.sigma, cfg.n, cfg.d)


def run_bump(cfg: experiments.BumpRunConfig, *, scratch, device="auto", progress=True) -> dict:
    """Train one bump model, score every snapshot over all lattice labels; returns the artifacts."""
    spec = RunSpec(unet=cfg.unet, diffusion=cfg.diffusion, train=cfg.train)
    ds = _bump_dataset(cfg)
    eval_labels = data.lattice(cfg.n, cfg.d).astype(np.float32)
    images = data.to_model_range(ds.images)[:, None]
    dev = resolve_device(device)

    result = train(spec, images, ds.labels, scratch, device=dev, progress=progress)
    schedule = make_schedule(cfg.diffusion)
    ev = cfg.eval
    N = cfg.unet.image_size

    def score(imgs, labels):
        return evaluate.bump_accuracy(imgs, labels, periodic=cfg.periodic, tol=ev.tol)

    curve = []
    snapshots = sorted(scratch.glob("ckpt_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    rng = np.random.default_rng(ev.seed)
    subset = np.arange(len(eval_labels))
    if 0 < ev.curve_labels < len(eval_labels):  # a fixed random subset for the snapshots before the last
        subset = np.sort(rng.choice(len(eval_labels), size=ev.curve_labels, replace=False))
    rep_cfg = getattr(cfg, "representation", None)
    reps: dict[str, np.ndarray] = {}
    for k, snap in enumerate(snapshots):
        last = k == len(snapshots) - 1
        idx = np.arange(len(eval_labels)) if last else subset
        model = load_model(snap, which=ev.weights, device=dev)
        ck = torch.load(snap, map_location="cpu", weights_only=True)
        if rep_cfg is not None:
            feats = representation(model, schedule, eval_labels, rep_cfg, image_size=N, device=dev,
                                   all_steps=last, progress=progress)
            for t, f in feats.items():
                if t == 0 or last:
                    reps[f"s{k}_t{t}"] = f.reshape(len(f), -1).astype(np.float16)
            reps.setdefault("images", []).append(int(ck["images_seen"]))
        t0 = time.perf_counter()
        imgs = generate(model, schedule, eval_labels[idx], ev, image_size=N, device=dev, progress=progress)
        s = score(imgs, eval_labels[idx])
        curve.append({"images": int(ck["images_seen"]), "train_seconds": float(ck["train_seconds"]),
                      "accuracy": float(np.mean(s.correct)), "n_labels": int(len(idx)),
                      "eval_seconds": time.perf_counter() - t0, **failure_modes(s)})
        if progress:
            print(f"  {snap.name}: accuracy {curve[-1]['accuracy']:.3f} on {len(idx)} labels ({sampler_name(ev, cfg.diffusion.T)})")
    final_images, final_score, final_model = imgs, s, model

    check = {}
    if ev.ddpm_check_labels and ev.sampler != "ddpm":
        idx = np.sort(rng.choice(len(eval_labels), size=min(ev.ddpm_check_labels, len(eval_labels)), replace=False))
        t0 = time.perf_counter()
        ddpm_imgs = generate(final_model, schedule, eval_labels[idx], ev, sampler="ddpm", image_size=N,
                             device=dev, progress=progress)
        ddpm_correct = np.asarray(score(ddpm_imgs, eval_labels[idx]).correct)
        fast_correct = np.asarray(final_score.correct)[idx]
        check = {"labels": int(len(idx)), "ddpm_sampler": f"DDPM-{cfg.diffusion.T}",
                 "ddpm_accuracy": float(ddpm_correct.mean()), "fast_accuracy_same_labels": float(fast_correct.mean()),
                 "agreement": float((ddpm_correct == fast_correct).mean()),
                 "ddpm_seconds": time.perf_counter() - t0}

    n_params = count_parameters(result.raw_model)
    metrics = {
        "accuracy": curve[-1]["accuracy"],
        "sampler": sampler_name(ev, cfg.diffusion.T),
        "weights": ev.weights,
        "n_eval_labels": int(len(eval_labels)),
        "n_train_images": int(len(ds.labels)),
        "curve": curve,
        "ddpm_check": check,
        "train": {"images": result.images_seen, "train_seconds": result.train_seconds_total,
                  "images_per_second": result.images_per_second, "device": result.device,
                  "bf16": result.bf16, "parameters": n_params, "torch": torch.__version__},
    }
    g = min(ev.grid_samples, len(eval_labels))
    grid_idx = np.linspace(0, len(eval_labels) - 1, g).round().astype(int) if g else np.zeros(0, int)
    artifacts = {
        "metrics": metrics,
        "loss_curve": {"images": [i for i, _ in result.loss_curve], "loss": [v for _, v in result.loss_curve]},
        "samples": {"labels": eval_labels, "correct": np.asarray(final_score.correct),
                    "x_hat": np.asarray(final_score.x, np.float32), "y_hat": np.asarray(final_score.y, np.float32),
                    "n_bumps": np.asarray(final_score.n_bumps, np.int16),
                    "grid_index": grid_idx, "grid_images": final_images[grid_idx].astype(np.float16)},
    }
    if rep_cfg is not None:
        reps["images"] = np.asarray(reps["images"], np.int64)
        reps["labels"] = eval_labels
        artifacts["representations"] = reps
    if n_params <= MAX_STORED_PARAMETERS:
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in final_model.state_dict().items()}, buf)
        artifacts[f"model_{ev.weights}.pt"] = buf.getvalue()
    return artifacts


def get_bump_run(experiment: str, cfg: experiments.BumpRunConfig, *, device="auto", progress=True) -> store.Run:
    """The stored run of ``cfg``: loaded if present, else trained and scored (unless COMPDIFF_NO_TRAIN)."""
    scratch = paths.runs_dir() / experiment / store.run_id(cfg)
    return store.load_or_compute(experiment, cfg,
                                 lambda: run_bump(cfg, scratch=scratch, device=device, progress=progress),
                                 meta={"device_requested": str(device)})


def train_experiment(name: str, *, profile: str, device: str = "auto", seed: int = 0) -> list[store.Run]:
    """``python -m compdiff train NAME``: fill the store with every run of one experiment."""
    cfg = experiments.experiment_config(name, profile, seed=seed)
    run = get_bump_run(name, cfg, device=device)
    print(f"{name} ({profile}): {run.path} accuracy {run.json('metrics')['accuracy']:.3f}")
    return [run]
