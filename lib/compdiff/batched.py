"""Many small models in one step: K runs of one architecture trained as one batched computation.

The paper's sweeps (subsampling, σ, λ, N, lesion and hole sizes, seeds) need hundreds of small
models. Trained one after another each step is a small batch that leaves most of a GPU (or the
CPU's vector units and threads) idle; trained together — ``torch.func.stack_module_state`` +
``vmap`` over the stacked weights, so that every convolution of the K models runs as one grouped
convolution — they share each kernel launch and the Python overhead of a step.

Each of the K runs keeps its own everything: data set, seed, initial weights, batch order,
timesteps, noise, AdamW moments and EMA. The loss of the joint step is the *sum* of the K
per-model losses, so each model's gradient is exactly its own loss's gradient, and AdamW (an
element-wise update) on the stacked weights is K independent AdamWs. The random streams follow
:func:`compdiff.train.train` draw for draw, so a run trained in a batch follows the same loss
curve as the same run trained alone, up to floating-point reordering in the grouped kernels
(``tests/test_batched.py`` measures it).

Files are those of :func:`compdiff.train.train`, one ``out_dir`` per run (``run_spec.json``,
``last.pt``, ``ckpt_<images>.pt``, ``loss_curve.json``), in the same format: a run started in a
batch can be resumed alone and vice versa, and :func:`compdiff.train.load_model` reads its
snapshots. Runs whose ``last.pt`` stand at different points are trained in groups of equal
progress.

Runs batched together must share the UNet, the diffusion config and every training setting but
the seed (:func:`batch_key`); :func:`train_batched` groups a mixed list by that key and trains
each group in chunks of at most ``max_models`` (sized from the device's memory when not given).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch.func import functional_call, stack_module_state, vmap

from .devices import DeviceLike, autocast, resolve_bf16, resolve_device
from .diffusion import loss_weights, make_schedule
from .train import (
    CKPT_FORMAT,
    LAST,
    LOSS_JSON,
    SPEC_JSON,
    CheckpointError,
    RunSpec,
    TrainResult,
    _atomic_write_json,
    _BatchStream,
    _build_model,
    _data_hash,
    _prepare_data,
    _save_ckpt,
    load_checkpoint,
    lr_at,
)

__all__ = ["batch_key", "train_batched", "default_max_models"]


def batch_key(spec: RunSpec) -> str:
    """Runs with the same key can share a batched step: same network, diffusion and training
    settings, the seed aside."""
    return RunSpec(spec.unet, spec.diffusion, dataclasses.replace(spec.train, seed=0)).spec_hash()


def default_max_models(spec: RunSpec, device: torch.device) -> int:
    """How many runs of ``spec`` to stack in one step on ``device``.

    CPU: 8 (measured in benchmarks/bench_batched.py: the gain levels off beyond it on a 2-core
    CPU, and memory is not the limit). CUDA: as many as fit a third of the free memory, from a
    rough per-model activation estimate (batch × widths × pixels), at most 64."""
    if device.type != "cuda":
        return 8
    free, _ = torch.cuda.mem_get_info(device)
    u = spec.unet
    n = u.image_size
    act = spec.train.batch_size * sum(u.widths) * n * n * 4 * 24  # bytes, generous
    params = sum(p.numel() for p in _build_model(u, 0).parameters()) * 4 * 6
    return int(max(1, min(64, (free // 3) // max(act + params, 1))))


class _Run:
    """Per-run state of a batched training: data, RNG stream, loss bookkeeping, files."""

    def __init__(self, spec: RunSpec, images, labels, out_dir):
        self.spec = spec
        self.x, self.y = _prepare_data(images, labels, spec.unet)
        self.spec_hash = spec.spec_hash()
        self.data_hash = _data_hash(self.x, self.y)
        self.out = Path(out_dir)
        self.gen = torch.Generator(device="cpu")
        self.gen.manual_seed(spec.train.seed)
        self.stream = _BatchStream(self.x.shape[0], self.gen)
        self.images_seen = 0
        self.step = 0
        self.loss_curve: list[tuple[int, float]] = []
        self.loss_acc = 0.0
        self.loss_acc_n = 0
        self.train_seconds = 0.0
        self.resume: Optional[dict] = None

    def check_and_load(self) -> None:
        """Refuse another spec's or other data's files; read last.pt if there is one."""
        self.out.mkdir(parents=True, exist_ok=True)
        spec_file = self.out / SPEC_JSON
        if spec_file.exists():
            import json

            try:
                prev = json.loads(spec_file.read_text())
            except (OSError, ValueError) as e:
                raise CheckpointError(f"{spec_file} cannot be read: {e}") from e
            for key, mine in (("spec_hash", self.spec_hash), ("data_hash", self.data_hash)):
                if prev.get(key) != mine:
                    raise CheckpointError(f"{spec_file} belongs to another run ({key} "
                                          f"{prev.get(key)} ≠ {mine}); use another out_dir")
        last = self.out / LAST
        if last.exists():
            ck = load_checkpoint(last)
            if ck.get("kind") != "resume" or ck.get("spec_hash") != self.spec_hash \
                    or ck.get("data_hash") != self.data_hash:
                raise CheckpointError(f"checkpoint {last} is not a resume point of this run "
                                      "(kind, spec or data differ); refusing to resume from it")
            try:
                self.gen.set_state(ck["rng_state"])
                perm = ck["perm"] if ck["perm"].numel() else None
                self.stream = _BatchStream(self.x.shape[0], self.gen, perm, int(ck["perm_pos"]))
                self.images_seen = int(ck["images_seen"])
                self.step = int(ck["step"])
                self.loss_curve = [(int(i), float(v)) for i, v in ck["loss_curve"]]
                self.loss_acc = float(ck["loss_acc"])
                self.loss_acc_n = int(ck["loss_acc_n"])
                self.train_seconds = float(ck["train_seconds"])
            except (KeyError, RuntimeError, TypeError, ValueError) as e:
                raise CheckpointError(f"checkpoint {last} is incomplete or inconsistent: "
                                      f"{type(e).__name__}: {e}") from e
            self.resume = ck
        _atomic_write_json(spec_file, {"spec": self.spec.to_dict(), "spec_hash": self.spec_hash,
                                       "data_hash": self.data_hash, "format": CKPT_FORMAT})


def _unstack(stacked: dict, k: int) -> dict:
    return {name: t[k].detach().to("cpu").clone() for name, t in stacked.items()}


def _restack(per_model: list[dict], like: dict, device) -> None:
    with torch.no_grad():
        for name, t in like.items():
            t.copy_(torch.stack([sd[name] for sd in per_model]).to(device))


def _train_group(runs: list[_Run], device: torch.device, progress: bool) -> list[TrainResult]:
    spec0 = runs[0].spec
    tcfg, ucfg, dcfg = spec0.train, spec0.unet, spec0.diffusion
    K = len(runs)
    use_bf16 = resolve_bf16(tcfg.bf16, device)
    models = [_build_model(ucfg, r.spec.train.seed) for r in runs]
    for m, r in zip(models, runs):
        if r.resume is not None:
            m.load_state_dict(r.resume["raw"])
    base = copy.deepcopy(models[0]).to("meta")
    param_names = [n for n, _ in models[0].named_parameters()]
    sd_keys = list(models[0].state_dict().keys())
    params, buffers = stack_module_state([m.to(device) for m in models])
    plist = [params[n] for n in param_names]
    ema = None
    if tcfg.ema_decay is not None:
        ema = {n: p.detach().clone() for n, p in params.items()}
        if any(r.resume is not None for r in runs):
            _restack([{n: (r.resume["ema"] if r.resume is not None else _unstack(params, k))[n]
                       for n in param_names} for k, r in enumerate(runs)], ema, device)
    opt = torch.optim.AdamW(plist, lr=tcfg.lr, betas=tuple(tcfg.betas), eps=tcfg.adam_eps,
                            weight_decay=tcfg.weight_decay)
    if any(r.resume is not None for r in runs):
        # per-model AdamW moments → stacked moments (the same element-wise state)
        states = [r.resume["optimizer"]["state"] if r.resume is not None else None for r in runs]
        if all(s is not None and len(s) == len(plist) for s in states):
            for i, p in enumerate(plist):
                opt.state[p] = {
                    "step": states[0][i]["step"].clone(),
                    "exp_avg": torch.stack([s[i]["exp_avg"] for s in states]).to(device),
                    "exp_avg_sq": torch.stack([s[i]["exp_avg_sq"] for s in states]).to(device),
                }

    schedule = make_schedule(dcfg).to(device)
    sab = schedule.sqrt_alpha_bars.to(device=device, dtype=torch.float32)
    s1ab = schedule.sqrt_one_minus_alpha_bars.to(device=device, dtype=torch.float32)
    xs = [r.x.to(device) for r in runs]
    ys = [r.y.to(device) for r in runs]
    b = tcfg.batch_size
    shape = tuple(runs[0].x.shape[1:])

    def eps_one(p, bu, x, t, lab):
        return functional_call(base, (p, bu), (x, t, lab))

    eps_all = vmap(eps_one, in_dims=(0, 0, 0, 0, 0), randomness="error")

    def snapshot(k: int, kind: str, seconds: float) -> dict:
        r = runs[k]
        raw = _unstack(params, k)
        raw.update(_unstack(buffers, k))
        d = {
            "format": CKPT_FORMAT, "kind": kind, "spec": r.spec.to_dict(),
            "spec_hash": r.spec_hash, "data_hash": r.data_hash,
            "images_seen": r.images_seen, "step": r.step,
            "raw": {n: raw[n] for n in sd_keys},
            "ema": ({n: (ema[n][k].detach().cpu().clone() if n in ema else raw[n]) for n in sd_keys}
                    if ema is not None else None),
            "loss_curve": [[i, v] for i, v in r.loss_curve],
            "bf16": use_bf16, "device": str(device), "torch_version": str(torch.__version__),
            "train_seconds": r.train_seconds + seconds, "batched_with": K,
        }
        if kind == "resume":
            st = {}
            for i, p in enumerate(plist):
                s = opt.state.get(p)
                if s:
                    st[i] = {"step": s["step"].detach().cpu().clone(),
                             "exp_avg": s["exp_avg"][k].detach().cpu().clone(),
                             "exp_avg_sq": s["exp_avg_sq"][k].detach().cpu().clone()}
            groups = [{**{kk: vv for kk, vv in g.items() if kk != "params"},
                       "params": list(range(len(plist)))} for g in opt.param_groups]
            d.update({
                "optimizer": {"state": st, "param_groups": groups},
                "rng_state": r.gen.get_state(),
                "perm": r.stream.perm if r.stream.perm is not None else torch.zeros(0, dtype=torch.long),
                "perm_pos": r.stream.pos if r.stream.perm is not None else 0,
                "loss_acc": torch.tensor(r.loss_acc, dtype=torch.float32), "loss_acc_n": r.loss_acc_n,
            })
        return d

    def write_loss(k: int):
        r = runs[k]
        _atomic_write_json(r.out / LOSS_JSON, {"images": [i for i, _ in r.loss_curve],
                                               "loss": [v for _, v in r.loss_curve],
                                               "spec_hash": r.spec_hash})

    from tqdm.auto import tqdm

    start = runs[0].images_seen
    resumed_from = start
    target = tcfg.images
    ckpt_points = tcfg.checkpoint_points()
    bar = tqdm(total=target * K, initial=start * K, unit="img", disable=not progress,
               desc=f"train {K} runs together", dynamic_ncols=True, smoothing=0.1)
    t0 = time.perf_counter()
    images_seen = start
    try:
        while images_seen < target:
            x0s, labs, ts, noises = [], [], [], []
            for r, x, y in zip(runs, xs, ys):  # each run's RNG draws exactly as train() does
                idx = r.stream.next(b)
                ts.append(torch.randint(0, dcfg.T, (b,), generator=r.gen))
                noises.append(torch.randn((b,) + shape, generator=r.gen))
                idx_d = idx.to(device)
                x0s.append(x[idx_d])
                labs.append(y[idx_d])
            x0 = torch.stack(x0s)
            lab = torch.stack(labs)
            t = torch.stack(ts).to(device)
            noise = torch.stack(noises).to(device)
            bshape = (K, b) + (1,) * len(shape)
            x_t = sab[t].view(bshape) * x0 + s1ab[t].view(bshape) * noise
            lr = lr_at(tcfg, images_seen)
            for g in opt.param_groups:
                g["lr"] = lr
            with autocast(device, use_bf16):
                eps = eps_all(params, buffers, x_t, t, lab)
            per_sample = (eps.float() - noise.float()).pow(2).flatten(2).mean(2)  # (K, b)
            w = loss_weights(schedule, t.flatten(), dcfg.loss_weighting, dcfg.min_snr_gamma)
            if w is not None:
                per_sample = per_sample * w.view(K, b).to(per_sample.device)
            losses = per_sample.mean(1)  # (K,): each run's own loss
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    torch._foreach_lerp_([ema[n] for n in param_names], plist, 1.0 - tcfg.ema_decay)
            images_seen += b
            bar.update(b * K)
            lv = losses.detach().float().cpu().tolist()
            finished = images_seen == target
            seconds = time.perf_counter() - t0
            for k, r in enumerate(runs):
                r.loss_acc += lv[k]
                r.loss_acc_n += 1
                r.step += 1
                r.images_seen = images_seen
                if images_seen % tcfg.log_every_images == 0 or (finished and r.loss_acc_n):
                    mean = r.loss_acc / r.loss_acc_n
                    if not math.isfinite(mean):
                        raise FloatingPointError(f"training loss of {r.out} became {mean} at "
                                                 f"{images_seen} images; lower lr")
                    r.loss_curve.append((images_seen, mean))
                    r.loss_acc, r.loss_acc_n = 0.0, 0
                if images_seen in ckpt_points:
                    _save_ckpt(r.out / f"ckpt_{images_seen}.pt", snapshot(k, "snapshot", seconds))
                    _save_ckpt(r.out / LAST, snapshot(k, "resume", seconds))
                    write_loss(k)
                elif tcfg.resume_every_images and images_seen % tcfg.resume_every_images == 0:
                    _save_ckpt(r.out / LAST, snapshot(k, "resume", seconds))
            if images_seen % tcfg.log_every_images == 0:
                bar.set_postfix(loss=f"{sum(lv) / K:.4f}")
        seconds = time.perf_counter() - t0
        for k, r in enumerate(runs):
            if images_seen > resumed_from or not (r.out / LAST).exists():
                _save_ckpt(r.out / LAST, snapshot(k, "resume", seconds))
            write_loss(k)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    trained = images_seen - resumed_from
    results = []
    for k, r in enumerate(runs):
        raw_m = _build_model(ucfg, 0)
        sd = _unstack(params, k)
        sd.update(_unstack(buffers, k))
        raw_m.load_state_dict(sd)
        ema_m = None
        if ema is not None:
            ema_m = _build_model(ucfg, 0)
            esd = {n: ema[n][k].detach().cpu() for n in param_names}
            esd.update(_unstack(buffers, k))
            ema_m.load_state_dict(esd)
            ema_m = ema_m.to(device).eval()
        results.append(TrainResult(
            raw_model=raw_m.to(device).eval(), ema_model=ema_m, loss_curve=list(r.loss_curve),
            images_seen=images_seen, completed=images_seen >= target, wall_seconds=wall,
            images_per_second=trained / wall if trained and wall > 0 else 0.0,
            train_seconds_total=r.train_seconds + (wall if trained else 0.0),
            resumed_from_images=resumed_from, device=str(device), bf16=use_bf16, out_dir=r.out,
            spec=r.spec))
    return results


def train_batched(jobs: Sequence[tuple], device: DeviceLike = "auto", *, progress: bool = True,
                  max_models: Optional[int] = None) -> list[TrainResult]:
    """Train ``jobs`` = [(RunSpec, images, labels, out_dir), ...], stacking compatible runs.

    Runs are grouped by :func:`batch_key` and by resume point, and each group is trained in
    chunks of at most ``max_models`` (default :func:`default_max_models`). Returns the
    :class:`~compdiff.train.TrainResult` of every job, in the order given. ``grad_clip`` is not
    supported here (a global norm per model inside one step): such runs go to
    :func:`compdiff.train.train` one by one.
    """
    from .train import train as train_one

    dev = resolve_device(device)
    if max_models is not None and (not isinstance(max_models, int) or max_models < 1):
        raise ValueError(f"max_models must be a positive int or None, got {max_models!r}")
    runs: list[_Run] = []
    for k, job in enumerate(jobs):
        if len(job) != 4:
            raise ValueError(f"jobs[{k}] must be (RunSpec, images, labels, out_dir), got {len(job)} items")
        spec, images, labels, out_dir = job
        if not isinstance(spec, RunSpec):
            raise TypeError(f"jobs[{k}][0] must be a RunSpec, got {type(spec).__name__}")
        runs.append(_Run(spec, images, labels, out_dir))
    outs = [str(r.out.resolve()) for r in runs]
    if len(set(outs)) != len(outs):
        raise ValueError("two jobs share an out_dir; every run needs its own")

    results: list[Optional[TrainResult]] = [None] * len(runs)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for k, r in enumerate(runs):
        if r.spec.train.grad_clip is not None:
            results[k] = train_one(r.spec, r.x, r.y, r.out, device=dev, progress=progress)
            continue
        r.check_and_load()
        groups[(batch_key(r.spec), r.images_seen)].append(k)
    for (_, _), members in groups.items():
        cap = max_models or default_max_models(runs[members[0]].spec, dev)
        for lo in range(0, len(members), cap):
            chunk = members[lo:lo + cap]
            for k, res in zip(chunk, _train_group([runs[k] for k in chunk], dev, progress)):
                results[k] = res
    return results  # type: ignore[return-value]
