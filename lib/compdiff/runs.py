"""The pipeline: train → score → store, turning an experiment config into a stored run.

This is the heavy half of a figure (DESIGN.md: a notebook only asks the store for results). A run
is trained in a scratch folder (``runs/<experiment>/<run_id>/``, checkpoints for resume), every
training snapshot is scored, and the artifacts go to the store (``results/``) atomically. What a
run trains on is :mod:`compdiff.datasets`; how it is sampled and scored, :mod:`compdiff.sampling`;
where its representation clouds go, :mod:`compdiff.clouds`.

Imports only torch, numpy, scipy and tqdm, so it runs on a bare GPU machine.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import torch

from . import clouds, data, evaluate, experiments, paths, store
from .datasets import bump_run_data, compose_data
from .devices import hardware_name, resolve_device
from .diffusion import make_schedule
from .sampling import (compact_cloud, epsilon_mse, failure_modes, generate, probe_samples, representation,
                       sampler_name)
from .train import RunSpec, load_model, snapshot_last, train
from .unet import count_parameters


def run_spec(cfg) -> RunSpec:
    return RunSpec(unet=cfg.unet, diffusion=cfg.diffusion, train=cfg.train)


def _train_run(cfg, ds, scratch, dev, progress):
    """(TrainResult, stop record or None). With ``cfg.stop`` the run trains in segments until its
    quick training-label accuracy passes the bar (``compdiff.monitor.train_until``), and its last
    point becomes the final snapshot."""
    images = data.to_model_range(ds.images)[:, None]
    if getattr(cfg, "stop", None) is None:
        return train(run_spec(cfg), images, ds.labels, scratch, device=dev, progress=progress), None
    from . import monitor

    r = cfg.stop
    out = monitor.train_until(cfg, scratch, every=r.every_images, bar=r.bar, patience=r.patience,
                              labels=r.labels, steps=r.steps, device=dev, label_use=r.label_use,
                              log=print if progress else None, history_path=Path(scratch) / monitor.HISTORY)
    snapshot_last(scratch)
    stop = {"stopped": out["stopped"], "images": out["images"], "bar": r.bar,
            "cap": cfg.train.images, "history": out["history"]}
    return out["result"], stop


def _score_snapshots(cfg, scratch, eval_labels, score, dev, progress):
    """Score every snapshot (the last on all labels, earlier ones on ``curve_labels`` of them),
    record representation clouds where ``cfg`` asks for them, and cross-check the final model
    with DDPM on ``ddpm_check_labels`` labels."""
    schedule = make_schedule(cfg.diffusion)
    ev = cfg.eval
    N = cfg.unet.image_size
    curve = []
    snapshots = sorted(scratch.glob("ckpt_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    rng = np.random.default_rng(ev.seed)
    subset = np.arange(len(eval_labels))
    if 0 < ev.curve_labels < len(eval_labels):  # a fixed random subset for the snapshots before the last
        subset = np.sort(rng.choice(len(eval_labels), size=ev.curve_labels, replace=False))
    rep_cfg = getattr(cfg, "representation", None)
    reps: dict = {}
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
                    cloud, kept = compact_cloud(f.reshape(len(f), -1), rep_cfg.stored_components)
                    reps[clouds.key(k, t)] = cloud
                    reps.setdefault("variance_kept", {})[clouds.key(k, t)] = kept
            reps.setdefault("images", []).append(int(ck["images_seen"]))
        t0 = time.perf_counter()
        imgs = generate(model, schedule, eval_labels[idx], ev, image_size=N, device=dev, progress=progress)
        s = score(imgs, eval_labels[idx])
        curve.append({"images": int(ck["images_seen"]), "train_seconds": float(ck["train_seconds"]),
                      "accuracy": float(np.mean(s.correct)), "n_labels": int(len(idx)),
                      "eval_seconds": time.perf_counter() - t0, **failure_modes(s)})
        if progress:
            print(f"  {snap.name}: accuracy {curve[-1]['accuracy']:.3f} on {len(idx)} labels ({sampler_name(ev, cfg.diffusion.T)})")

    check = {}
    if ev.ddpm_check_labels and ev.sampler != "ddpm":
        idx = np.sort(rng.choice(len(eval_labels), size=min(ev.ddpm_check_labels, len(eval_labels)), replace=False))
        t0 = time.perf_counter()
        ddpm_imgs = generate(model, schedule, eval_labels[idx], ev, sampler="ddpm", image_size=N,
                             device=dev, progress=progress)
        ddpm_correct = np.asarray(score(ddpm_imgs, eval_labels[idx]).correct)
        fast_correct = np.asarray(s.correct)[idx]
        check = {"labels": int(len(idx)), "ddpm_sampler": f"DDPM-{cfg.diffusion.T}",
                 "ddpm_accuracy": float(ddpm_correct.mean()), "fast_accuracy_same_labels": float(fast_correct.mean()),
                 "agreement": float((ddpm_correct == fast_correct).mean()),
                 "ddpm_seconds": time.perf_counter() - t0}
    if rep_cfg is not None:
        kept = reps.pop("variance_kept")
        reps["variance_kept_keys"] = np.asarray(list(kept))
        reps["variance_kept"] = np.asarray(list(kept.values()), np.float64)
        reps["images"] = np.asarray(reps["images"], np.int64)
        reps["labels"] = eval_labels
    return curve, imgs, s, model, check, reps


def _artifacts(cfg, result, ds, eval_labels, curve, final_images, final_score, final_model, check) -> dict:
    ev = cfg.eval
    n_params = count_parameters(result.raw_model)
    metrics = {
        "accuracy": curve[-1]["accuracy"],
        "sampler": sampler_name(ev, cfg.diffusion.T),
        "weights": ev.weights,
        "n_eval_labels": int(len(eval_labels)),
        "n_train_images": int(len(ds.labels)),
        "curve": curve,
        "ddpm_check": check,
        # the last training process's speed; where it trained nothing (a stop-rule run resumed at its
        # end to be scored), the mean over the run's recorded training time
        "train": {"images": result.images_seen, "train_seconds": result.train_seconds_total,
                  "images_per_second": result.images_per_second or (
                      result.images_seen / result.train_seconds_total if result.train_seconds_total else 0.0),
                  "device": result.device,
                  "bf16": result.bf16, "parameters": n_params, "torch": torch.__version__,
                  "cpu_model": hardware_name(result.device)},
    }
    g = min(ev.grid_samples, len(eval_labels))
    grid_idx = np.linspace(0, len(eval_labels) - 1, g).round().astype(int) if g else np.zeros(0, int)
    samples = {"labels": eval_labels, "correct": np.asarray(final_score.correct),
               "x_hat": np.asarray(final_score.x, np.float32), "y_hat": np.asarray(final_score.y, np.float32),
               "grid_index": grid_idx, "grid_images": final_images[grid_idx].astype(np.float16)}
    if hasattr(final_score, "n_bumps"):
        samples["n_bumps"] = np.asarray(final_score.n_bumps, np.int16)
    artifacts = {
        "metrics": metrics,
        "loss_curve": {"images": [i for i, _ in result.loss_curve], "loss": [v for _, v in result.loss_curve]},
        "samples": samples,
    }
    buf = io.BytesIO()  # the store keeps weights in the local cache, outside git
    torch.save({k: v.detach().cpu() for k, v in final_model.state_dict().items()}, buf)
    artifacts[f"model_{ev.weights}.pt"] = buf.getvalue()
    return artifacts


def _train_and_score(cfg, ds, eval_labels, score, scratch, dev, progress):
    """Train (or reload) the run, score its snapshots; (artifacts, final score, final model)."""
    result, stop = _train_run(cfg, ds, scratch, dev, progress)
    curve, imgs, s, model, check, reps = _score_snapshots(cfg, scratch, eval_labels, score, dev, progress)
    artifacts = _artifacts(cfg, result, ds, eval_labels, curve, imgs, s, model, check)
    if stop is not None:
        artifacts["metrics"]["stop"] = stop
    artifacts["probe_samples"] = probe_samples(model, cfg, dev)
    if reps:
        artifacts["representations"] = reps
    return artifacts, s, model


def run_bump(cfg: experiments.BumpRunConfig, *, scratch, device="auto", progress=True) -> dict:
    """Train one bump model, score every snapshot over all lattice labels; returns the artifacts."""
    ds, eval_labels, score = bump_run_data(cfg)
    return _train_and_score(cfg, ds, eval_labels, score, scratch, resolve_device(device), progress)[0]


# ---------------------------------------------------------------------------------------------
# Figs 4, 10, 11, 12


def run_compose(cfg: experiments.ComposeRunConfig, *, scratch, device="auto", progress=True) -> dict:
    """Train one composition model; score it over the frame lattice by region and, for data with
    1D images, on ``train_label_eval`` of its own training labels (scored on the visible axis)."""
    ds, eval_labels, masks, score = compose_data(cfg)
    dev = resolve_device(device)
    artifacts, s, model = _train_and_score(cfg, ds, eval_labels, score, scratch, dev, progress)
    correct = np.asarray(s.correct)
    regions = evaluate.accuracy_by_set(correct, masks)
    artifacts["metrics"]["regions"] = {k: (None if np.isnan(v) else v) for k, v in regions.items()}
    artifacts["metrics"]["region_sizes"] = {k: int(m.sum()) for k, m in masks.items()}
    artifacts["samples"].update({f"mask_{k}": m for k, m in masks.items()})
    if cfg.train_label_eval and cfg.kind != "bump" and cfg.dataset in ("stripes", "sos_stripes", "bump_stripes"):
        rng = np.random.default_rng(cfg.eval.seed + 1)
        offset = data.frame_offset(cfg.frame, cfg.canvas)
        one_d = ~(data.in_frame(ds.labels[:, 0], frame=cfg.frame, offset=offset)
                  & data.in_frame(ds.labels[:, 1], frame=cfg.frame, offset=offset))
        pool = np.flatnonzero(one_d)
        pick = np.sort(rng.choice(pool, size=min(cfg.train_label_eval, len(pool)), replace=False))
        lab = ds.labels[pick]
        gen = generate(model, make_schedule(cfg.diffusion), lab, cfg.eval, image_size=cfg.unet.image_size,
                       device=dev, progress=progress)
        if cfg.kind == "sos":
            ok = evaluate.sos_accuracy(gen, lab, offset=offset, tol=cfg.eval.tol).correct
        else:
            ok = evaluate.mixed_accuracy(gen, lab, offset=offset, tol=cfg.eval.tol)
        artifacts["metrics"]["train_1d_accuracy"] = float(np.mean(ok))
        artifacts["metrics"]["train_1d_labels"] = int(len(pick))
        artifacts["train_1d"] = {"labels": lab, "correct": np.asarray(ok),
                                 "grid_images": gen[:25].astype(np.float16)}
    artifacts["metrics"]["train_set"] = {k: int(m.sum()) for k, m in ds.masks.items()}
    if cfg.loss_draws:
        artifacts["metrics"]["final_loss"] = final_losses(model, cfg, eval_labels, masks, dev)
    return artifacts


def final_losses(model, cfg, eval_labels: np.ndarray, masks: dict, device) -> dict:
    """Fig 14c: the final model's plain ε-MSE on its training labels (``id``) and on the held-out
    labels of the lattice (``ood``, the validation set; None when every label was trained on),
    over ``cfg.loss_draws`` seeded (t, ε) draws per label."""
    imgs = data.render("bump", eval_labels, cfg.sigma, frame=cfg.frame, canvas=cfg.canvas)
    sched = make_schedule(cfg.diffusion)
    per = epsilon_mse(model, sched, imgs, eval_labels, draws=cfg.loss_draws, seed=cfg.eval.seed, device=device)
    return {"train": float(per[masks["id"]].mean()),
            "validation": float(per[masks["ood"]].mean()) if masks["ood"].any() else None,
            "draws": int(cfg.loss_draws), "loss": "plain ε-MSE (unweighted)"}


def stored_model(run: store.Run, cfg, *, device="cpu"):
    """The final model of a stored run (its ``model_<weights>.pt`` weights, from the local cache:
    :meth:`compdiff.store.Run.weights`), in eval mode."""
    from .unet import ConditionalUNet

    name = f"model_{cfg.eval.weights}.pt"
    try:
        sd = torch.load(run.weights(name), map_location="cpu", weights_only=True)
    except FileNotFoundError as e:
        raise store.MissingResultError(str(e)) from e
    except (RuntimeError, EOFError, ValueError) as e:
        raise store.CorruptArtifactError(f"run {run.experiment}/{run.run_id}: {name} cannot be read: {e}") from e
    model = ConditionalUNet(cfg.unet)
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise store.CorruptArtifactError(f"run {run.experiment}/{run.run_id}: {name} does not fit its config's "
                                         f"UNet: {e}") from e
    return model.to(resolve_device(device)).eval()


def get_bump_run(experiment: str, cfg: experiments.BumpRunConfig, *, device="auto", progress=True) -> store.Run:
    """The stored run of ``cfg``: loaded if present, else trained and scored (unless COMPDIFF_NO_TRAIN)."""
    scratch = paths.runs_dir() / experiment / store.run_id(cfg)
    return store.load_or_compute(experiment, cfg,
                                 lambda: run_bump(cfg, scratch=scratch, device=device, progress=progress),
                                 meta={"device_requested": str(device)})


def get_compose_run(cfg: experiments.ComposeRunConfig, *, experiment: str = "compose", device="auto",
                    progress=True) -> store.Run:
    """The stored run of one composition model (trained and scored on a miss)."""
    scratch = paths.runs_dir() / experiment / store.run_id(cfg)
    return store.load_or_compute(experiment, cfg,
                                 lambda: run_compose(cfg, scratch=scratch, device=device, progress=progress),
                                 meta={"device_requested": str(device)})


def get_sweep(experiment: str, cfgs: dict, *, device="auto", progress=True,
              max_models: int | None = None, only=None) -> dict[str, store.Run]:
    """Every run of a sweep, by name. The runs missing from the store are trained in chunks of
    ``max_models`` (default :func:`sweep_batch_size`) by :func:`compdiff.batched.train_batched`,
    each chunk scored and stored before the next starts (one at a time by
    :func:`compdiff.train.train` where the size is 1). ``only``: names to fetch (default all)."""
    names = list(cfgs) if only is None else list(only)
    unknown = [n for n in names if n not in cfgs]
    if unknown:
        raise experiments.ConfigError(f"unknown run(s) {unknown} of sweep {experiment!r}; "
                                      f"allowed: {', '.join(cfgs)}")
    missing = [n for n in names if store.lookup(experiment, cfgs[n]) is None]
    if missing and store.training_allowed():
        dev = resolve_device(device)
        k = max_models or sweep_batch_size(dev)
        if k > 1:
            from .batched import train_batched

            for lo in range(0, len(missing), k):  # train a chunk together, then score and store it
                chunk = missing[lo:lo + k]
                jobs = []
                for n in chunk:
                    cfg = cfgs[n]
                    ds = compose_data(cfg)[0]
                    jobs.append((run_spec(cfg), data.to_model_range(ds.images)[:, None], ds.labels,
                                 paths.runs_dir() / experiment / store.run_id(cfg)))
                train_batched(jobs, dev, progress=progress, max_models=k)
                for n in chunk:
                    get_compose_run(cfgs[n], experiment=experiment, device=device, progress=progress)
    return {n: get_compose_run(cfgs[n], experiment=experiment, device=device, progress=progress) for n in names}


def training_job(experiment: str, cfg) -> tuple:
    """(RunSpec, images, labels, scratch folder) of one run, as :func:`compdiff.train.train_many`
    takes it: the data and the scratch folder the pipeline (:func:`get_bump_run`,
    :func:`get_compose_run`) trains and resumes from."""
    ds = compose_data(cfg)[0] if isinstance(cfg, experiments.ComposeRunConfig) else bump_run_data(cfg)[0]
    return (run_spec(cfg), data.to_model_range(ds.images)[:, None], ds.labels,
            paths.runs_dir() / experiment / store.run_id(cfg))


def get_run(experiment: str, cfg, *, device="auto", progress=True) -> store.Run:
    """The stored run of a bump or a composition config (trained, scored and stored on a miss)."""
    if isinstance(cfg, experiments.ComposeRunConfig):
        return get_compose_run(cfg, experiment=experiment, device=device, progress=progress)
    return get_bump_run(experiment, cfg, device=device, progress=progress)


def sweep_batch_size(device) -> int:
    """Models trained together per batched step by :func:`get_sweep`: 8 on an accelerator; on a
    CPU 1 (``benchmarks/RESULTS.md``: stacking small models does not beat training them one after
    another on a compute-bound 2-core CPU). ``COMPDIFF_SWEEP_MODELS`` overrides it."""
    import os

    env = os.environ.get("COMPDIFF_SWEEP_MODELS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise experiments.ConfigError(f"COMPDIFF_SWEEP_MODELS = {env!r} must be a positive integer")
        return int(env)
    return 1 if torch.device(device).type == "cpu" else 8


def train_experiment(name: str, *, profile: str, device: str = "auto", seed: int = 0) -> list[store.Run]:
    """``python -m compdiff train NAME``: fill the store with every run of one experiment."""
    if name in experiments.SWEEPS:
        runs = get_sweep(experiments.SWEEP_STORE[name], experiments.SWEEPS[name](profile, seed=seed), device=device)
        for key, run in runs.items():
            m = run.json("metrics")
            print(f"{name}/{key} ({profile}): {run.path} accuracy {m['accuracy']:.3f} "
                  f"regions {m.get('regions')}")
        return list(runs.values())
    cfg = experiments.experiment_config(name, profile, seed=seed)
    run = get_bump_run(name, cfg, device=device)
    print(f"{name} ({profile}): {run.path} accuracy {run.json('metrics')['accuracy']:.3f}")
    return [run]
