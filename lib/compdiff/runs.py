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

from . import data, evaluate, experiments, geometry, paths, store
from .devices import resolve_device
from .diffusion import ddim_timesteps, make_schedule, q_sample, sample_ddim, sample_ddpm
from .train import RunSpec, load_model, train
from .unet import count_parameters

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


def compact_cloud(X: np.ndarray, components) -> tuple[np.ndarray, float]:
    """A representation cloud (M, D) as float16 scores on its top ``components`` principal
    directions (all of them when None or ≥ min(M, D)), with the share of the variance kept.
    Distances, PCA spectra, ring planes and step directions are unchanged by this centring and
    rotation, up to the variance dropped."""
    X = np.asarray(X, np.float64)
    k = min(X.shape) if components is None else min(int(components), *X.shape)
    total = float(((X - X.mean(axis=0)) ** 2).sum())
    if components is None or k >= min(X.shape):
        return X.astype(np.float16), 1.0
    scores = geometry.pca_project(X, k)
    return scores.astype(np.float16), (float((scores ** 2).sum()) / total if total > 0 else 1.0)


def failure_modes(score) -> dict:
    """Counts of the predecessor paper's failure modes: no bump, several bumps, one misplaced,
    correct; for SOS readings, the samples with a visible coordinate read wrong, per axis."""
    if not hasattr(score, "n_bumps"):
        return {"x_wrong": int((score.x_scored & ~score.x_correct).sum()),
                "y_wrong": int((score.y_scored & ~score.y_correct).sum()),
                "correct": int(np.asarray(score.correct).sum())}
    n = np.asarray(score.n_bumps)
    correct = np.asarray(score.correct)
    return {"no_bump": int((n == 0).sum()), "several_bumps": int((n > 1).sum()),
            "one_bump_misplaced": int(((n == 1) & ~correct).sum()), "correct": int(correct.sum())}


def _bump_dataset(cfg: experiments.BumpRunConfig):
    if cfg.periodic:
        return data.periodic_bump_dataset(cfg.sigma, cfg.n, cfg.d)
    return data.bump_dataset(cfg.sigma, cfg.n, cfg.d)


def _bump_run_data(cfg: experiments.BumpRunConfig):
    """(training set, evaluation labels, scorer) of a bump run."""
    ds = _bump_dataset(cfg)
    eval_labels = data.lattice(cfg.n, cfg.d).astype(np.float32)

    def score(imgs, labels):
        return evaluate.bump_accuracy(imgs, labels, periodic=cfg.periodic, tol=cfg.eval.tol)

    return ds, eval_labels, score


def _run_spec(cfg) -> RunSpec:
    return RunSpec(unet=cfg.unet, diffusion=cfg.diffusion, train=cfg.train)


def _train_run(cfg, ds, scratch, dev, progress):
    images = data.to_model_range(ds.images)[:, None]
    return train(_run_spec(cfg), images, ds.labels, scratch, device=dev, progress=progress)


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
                    reps[f"s{k}_t{t}"] = cloud
                    reps.setdefault("variance_kept", {})[f"s{k}_t{t}"] = kept
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
        "train": {"images": result.images_seen, "train_seconds": result.train_seconds_total,
                  "images_per_second": result.images_per_second, "device": result.device,
                  "bf16": result.bf16, "parameters": n_params, "torch": torch.__version__},
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


def probe_labels(cfg) -> np.ndarray:
    """The labels every run also samples for the book, whatever its training set: the frame's
    centre (Fig 6d draws the σ = 0.1 model's sample there), in the run's label units."""
    offset = data.frame_offset(cfg.frame, getattr(cfg, "canvas", None))
    return np.array([[offset + cfg.frame / 2, offset + cfg.frame / 2]], np.float32)


def probe_samples(model, cfg, device) -> dict:
    """The ``probe_samples`` artifact: one sample per :func:`probe_labels` label (float32 images),
    drawn as the scoring sampler draws (sample k's noise from (eval.seed, k))."""
    lab = probe_labels(cfg)
    imgs = generate(model, make_schedule(cfg.diffusion), lab, cfg.eval, image_size=cfg.unet.image_size, device=device)
    return {"labels": lab, "images": imgs.astype(np.float32)}


def _train_and_score(cfg, ds, eval_labels, score, scratch, dev, progress):
    """Train (or reload) the run, score its snapshots; (artifacts, final score, final model)."""
    result = _train_run(cfg, ds, scratch, dev, progress)
    curve, imgs, s, model, check, reps = _score_snapshots(cfg, scratch, eval_labels, score, dev, progress)
    artifacts = _artifacts(cfg, result, ds, eval_labels, curve, imgs, s, model, check)
    artifacts["probe_samples"] = probe_samples(model, cfg, dev)
    if reps:
        artifacts["representations"] = reps
    return artifacts, s, model


def run_bump(cfg: experiments.BumpRunConfig, *, scratch, device="auto", progress=True) -> dict:
    """Train one bump model, score every snapshot over all lattice labels; returns the artifacts."""
    ds, eval_labels, score = _bump_run_data(cfg)
    return _train_and_score(cfg, ds, eval_labels, score, scratch, resolve_device(device), progress)[0]


# ---------------------------------------------------------------------------------------------
# Figs 4, 10, 11, 12


def compose_data(cfg: experiments.ComposeRunConfig):
    """(training set, evaluation labels, region masks over them, scorer) of a composition run.

    Evaluation labels: the 32×32 frame lattice (latent units when ``cfg.canvas``). Regions: the
    held-out part (``ood``) and the rest (``id``); for the Fig 4 data also the cross's
    ``vertical``, ``horizontal`` and ``intersection`` sections."""
    canvas, frame = cfg.canvas, cfg.frame
    offset = data.frame_offset(frame, canvas)
    labels = data.lattice(cfg.n, cfg.d, start=offset).astype(np.float32)
    sig, ds_name = cfg.sigma, cfg.dataset
    cross = data.cross_masks(labels, offset=offset)
    masks = {}
    if ds_name == "sos_cross":
        ds = data.sos_cross_dataset(sig, cfg.n, cfg.d)
        masks = {"ood": cross["cross"]}
    elif ds_name == "stripes":
        ds = data.stripe_dataset(sig, cfg.d, rim=cfg.rim)
        masks = {"ood": np.ones(len(labels), bool)}
    elif ds_name == "sos_stripes":
        ds = data.sos_stripe_union_dataset(sig, cfg.n, cfg.d)
        masks = {"ood": cross["cross"]}
    elif ds_name == "bump_stripes":
        keep = data.subsample_mask(len(labels), cfg.keep_fraction, cfg.split_seed)
        ds = data.mixed_dataset(sig, cfg.n, cfg.d, keep=keep, frame=frame, canvas=canvas)
        masks = {"ood": ~keep}
    elif ds_name == "bump_subsample":
        keep = data.subsample_mask(len(labels), cfg.keep_fraction, cfg.split_seed)
        ds = data.bump_dataset(sig, cfg.n, cfg.d, holdout=~keep, frame=frame)
        masks = {"ood": ~keep}
    elif ds_name == "bump_lesion":
        hole = data.lesion_mask(labels, cfg.lesion_width)
        ds = data.bump_dataset(sig, cfg.n, cfg.d, holdout=hole)
        masks = {"ood": hole}
    else:  # bump_hole, sos_hole
        fn = data.interior_square_mask if cfg.hole == "interior" else data.exterior_square_mask
        hole = fn(labels, cfg.hole_width, offset=offset)
        render = data.bump_dataset if ds_name == "bump_hole" else data.sos_dataset
        ds = render(sig, cfg.n, cfg.d, holdout=hole)
        masks = {"ood": hole}
    masks["id"] = ~masks["ood"]
    if ds_name in ("sos_cross", "stripes", "sos_stripes"):
        masks.update({k: cross[k] for k in ("vertical", "horizontal", "intersection")})
    tol = cfg.eval.tol
    if cfg.kind == "sos":
        def score(imgs, lab):
            return evaluate.sos_accuracy(imgs, lab, offset=offset, tol=tol)
    else:  # bumps in the frame (also the 2D part of mixed data): latent labels shift by offset
        def score(imgs, lab):
            return evaluate.bump_accuracy(imgs, lab, offset=offset, tol=tol)
    return ds, labels, masks, score


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


def epsilon_mse(model, schedule, images: np.ndarray, labels: np.ndarray, *, draws: int, seed: int,
                device="cpu", batch_size: int = 512) -> np.ndarray:
    """Per-image plain ε-MSE (unweighted, as DDPM's L_simple) of ``model`` on ``images`` in
    [0, 1], averaged over ``draws`` (t, ε) pairs drawn from ``Generator(seed)``: the same draws for
    a given (seed, image index), so losses of models and of label sets are comparable."""
    g = torch.Generator().manual_seed(int(seed))
    x0 = torch.as_tensor(data.to_model_range(images), dtype=torch.float32)[:, None]
    lab = torch.as_tensor(labels, dtype=torch.float32)
    M = len(x0)
    t = torch.randint(0, schedule.T, (draws, M), generator=g)
    noise = torch.randn((draws, *x0.shape), generator=g)
    out = np.zeros((draws, M))
    model.eval()
    with torch.no_grad():
        for k in range(draws):
            for lo in range(0, M, batch_size):
                sl = slice(lo, lo + batch_size)
                tt, nn = t[k, sl].to(device), noise[k, sl].to(device)
                x_t = q_sample(schedule, x0[sl].to(device), tt, nn)
                eps = model(x_t, tt, lab[sl].to(device)).float()
                out[k, sl] = (eps - nn).pow(2).flatten(1).mean(1).cpu().numpy()
    return out.mean(axis=0)


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
                    jobs.append((_run_spec(cfg), data.to_model_range(ds.images)[:, None], ds.labels,
                                 paths.runs_dir() / experiment / store.run_id(cfg)))
                train_batched(jobs, dev, progress=progress, max_models=k)
                for n in chunk:
                    get_compose_run(cfgs[n], experiment=experiment, device=device, progress=progress)
    return {n: get_compose_run(cfgs[n], experiment=experiment, device=device, progress=progress) for n in names}


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
