"""One training loop for CPU, CUDA and MPS (spec §1.4), with exact resume.

Budgets and checkpoint points are counted in images seen (EDM habit): they survive a change of
device and mean the same thing for every dataset size. A run is fully described by a
:class:`RunSpec` (network, diffusion, training); its hash and a hash of the training data are
stored in every checkpoint, and a checkpoint of another spec or other data is refused loudly.

Files written to ``out_dir`` (all atomically: temporary file + ``os.replace``):

* ``run_spec.json`` — the resolved spec, its hash and the data hash (written before training);
* ``last.pt`` — everything needed for an exact resume: raw and EMA weights, optimizer, step,
  images seen, batch-sampler generator state and current permutation, loss history and the
  running loss accumulator. Refreshed at every checkpoint point, every
  ``resume_every_images``, at ``stop_after_images`` and at the end;
* ``ckpt_<images>.pt`` — lean snapshots at the checkpoint points and at the end: raw and EMA
  weights, spec, images seen and loss history (no optimizer state; they are for analysis, e.g.
  Fig 2's representation at intermediate epochs, not for resuming);
* ``loss_curve.json`` — ``{"images": [...], "loss": [...]}``.

Checkpoints hold only tensors, dicts, lists, numbers and strings, and are read with
``torch.load(..., weights_only=True)``.

Batches [our choice]: epoch permutations — every image once per epoch, in an order drawn by a
CPU ``torch.Generator`` seeded with ``TrainConfig.seed``; a batch that crosses an epoch end
continues into the next permutation. The same generator then draws t ~ U{0..T−1} and the noise
ε ~ N(0, I) for the batch, on the CPU, so a run is identical on every device up to the
network's arithmetic. The initial weights come from ``torch.manual_seed(seed)`` on the CPU
(the global RNG is restored afterwards).

Several runs [our choice]: :func:`train_many` trains runs of one shape (:func:`batch_key`) K at a
time in the same loop as :func:`train` (which is its K = 1 case), their weights stacked under
``torch.func.vmap`` — small models leave a device mostly idle one at a time. Every run keeps its
own data, generator, optimizer moments, EMA and files, so it resumes alone or in any group.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
import tempfile
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Literal, Optional, Sequence, Union

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from .config import Config, DiffusionConfig, TrainConfig, UNetConfig, is_int, spec  # torch-free; re-exported
from .devices import DeviceLike, autocast, resolve_bf16, resolve_device
from .diffusion import draw_timesteps, make_schedule, training_loss
from .unet import ConditionalUNet, SelfAttention

__all__ = [
    "TrainConfig",
    "RunSpec",
    "TrainResult",
    "CheckpointError",
    "train",
    "train_many",
    "batch_key",
    "default_max_models",
    "load_model",
    "load_checkpoint",
    "snapshot_last",
    "lr_at",
]

CKPT_FORMAT = "compdiff.train/1"
LAST = "last.pt"
# One model on a CPU trains in the channels_last memory layout: oneDNN's convolutions run faster on
# it (benchmarks/RESULTS.md, bench_step_levers: 1.14× in fp32 on an AVX2 core, 1.15–1.18× under bf16
# autocast on a core with native bf16). Only the order of float operations changes (tests/golden.json
# holds within its tolerances); the K-model vmap path and the GPU keep the default layout.
CPU_CHANNELS_LAST = True
SPEC_JSON = "run_spec.json"
LOSS_JSON = "loss_curve.json"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read, or that belongs to another run."""


@dataclass(frozen=True)
class RunSpec(Config):
    """Everything that determines a training run (besides the data)."""

    unet: UNetConfig = field(metadata=spec(config=UNetConfig))
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig, metadata=spec(config=DiffusionConfig))
    train: TrainConfig = field(default_factory=TrainConfig, metadata=spec(config=TrainConfig))

    def to_dict(self) -> dict:
        return {"unet": self.unet.to_dict(), "diffusion": self.diffusion.to_dict(),
                "train": self.train.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        return cls(UNetConfig.from_dict(d["unet"]), DiffusionConfig.from_dict(d["diffusion"]),
                   TrainConfig.from_dict(d["train"]))

    def spec_hash(self) -> str:
        """SHA-256 (hex, first 16) of the canonical JSON of :meth:`to_dict`."""
        s = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(s.encode()).hexdigest()[:16]


@dataclass
class TrainResult:
    """What :func:`train` returns. ``raw_model`` = the optimised weights; ``ema_model`` = their
    exponential moving average (None when ema_decay is None). Both on ``device``, eval mode."""

    raw_model: ConditionalUNet
    ema_model: Optional[ConditionalUNet]
    loss_curve: list[tuple[int, float]]
    images_seen: int
    completed: bool
    wall_seconds: float
    images_per_second: float
    train_seconds_total: float
    resumed_from_images: int
    device: str
    bf16: bool
    out_dir: Path
    spec: RunSpec

    def model(self, which: Literal["ema", "raw"] = "ema") -> ConditionalUNet:
        if which == "raw":
            return self.raw_model
        if which == "ema":
            if self.ema_model is None:
                raise ValueError("this run kept no EMA weights (ema_decay=None); use which='raw'")
            return self.ema_model
        raise ValueError(f"which must be 'ema' or 'raw', got {which!r}")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def lr_at(cfg: TrainConfig, images_seen: int) -> float:
    """Learning rate of the step that starts after ``images_seen`` images."""
    step_end = images_seen + cfg.batch_size
    if cfg.warmup_images and images_seen < cfg.warmup_images:
        return cfg.lr * min(step_end / cfg.warmup_images, 1.0)
    if cfg.lr_schedule == "constant":
        return cfg.lr
    if cfg.lr_schedule == "wsd":
        start = cfg.images - cfg.decay_images
        return cfg.lr * min(1.0, max(cfg.images - images_seen, 0) / cfg.decay_images) if images_seen >= start else cfg.lr
    span = max(cfg.images - cfg.warmup_images, 1)
    frac = min(max(images_seen - cfg.warmup_images, 0) / span, 1.0)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * frac))


def _prepare_data(images, labels, ucfg: UNetConfig) -> tuple[torch.Tensor, torch.Tensor]:
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.asarray(images))
    x = x.detach().to(device="cpu", dtype=torch.float32).contiguous()
    if x.ndim == 3:
        x = x[:, None]
    n = ucfg.image_size
    if x.ndim != 4 or x.shape[1:] != (ucfg.in_channels, n, n):
        raise ValueError(f"images must have shape (M, {ucfg.in_channels}, {n}, {n}) or (M, {n}, {n})"
                         f" for this UNet, got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("images is empty")
    if not torch.isfinite(x).all():
        raise ValueError("images contain NaN or inf")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.0 - 1e-4 or hi > 1.0 + 1e-4:
        raise ValueError(f"images must lie in the model range [-1, 1], got [{lo:.4g}, {hi:.4g}]")
    y = labels if isinstance(labels, torch.Tensor) else torch.from_numpy(np.asarray(labels))
    y = y.detach().to(device="cpu", dtype=torch.float32).contiguous()
    if y.shape != (x.shape[0], 2):
        raise ValueError(f"labels must have shape ({x.shape[0]}, 2), got {tuple(y.shape)}")
    if not torch.isfinite(y).all():
        raise ValueError("labels contain NaN or inf")
    return x, y


def _data_hash(x: torch.Tensor, y: torch.Tensor) -> str:
    h = hashlib.sha256()
    for a in (x, y):
        h.update(str(tuple(a.shape)).encode())
        h.update(a.numpy().tobytes())
    return h.hexdigest()[:16]


def _atomic_write_bytes_via(path: Path, write) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _atomic_write_json(path: Path, obj) -> None:
    data = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()
    _atomic_write_bytes_via(path, lambda f: f.write(data))


def _save_ckpt(path: Path, obj: dict) -> None:
    _atomic_write_bytes_via(path, lambda f: torch.save(obj, f))


def load_checkpoint(path: Union[str, os.PathLike]) -> dict:
    """Read a compdiff training checkpoint (weights_only=True); CheckpointError naming the file
    when it is unreadable, truncated or not ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    # torch.load does not check the zip's CRC-32s: an altered byte in a tensor would load silently
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (OSError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"checkpoint {path} cannot be read (truncated or corrupt?): {e}") from e
    if bad is not None:
        raise CheckpointError(f"checkpoint {path} is corrupt: CRC mismatch in its record {bad}")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated zips raise several types
        raise CheckpointError(
            f"checkpoint {path} cannot be read (truncated or corrupt?): {type(e).__name__}: {e}"
        ) from e
    if not isinstance(ck, dict) or ck.get("format") != CKPT_FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a {CKPT_FORMAT} checkpoint")
    return ck


def _cpu_state(sd: dict) -> dict:
    return {k: v.detach().to("cpu").clone() for k, v in sd.items()}


def _build_model(ucfg: UNetConfig, seed: int) -> ConditionalUNet:
    # initial weights depend on the seed only, never on the device or the global RNG
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ConditionalUNet(ucfg)


class _BatchStream:
    """Epoch permutations drawn from ``gen``; batches may straddle epochs."""

    def __init__(self, n: int, gen: torch.Generator, perm=None, pos: int = 0):
        self.n = n
        self.gen = gen
        self.perm = perm
        self.pos = pos

    def next(self, b: int) -> torch.Tensor:
        parts, need = [], b
        while need:
            if self.perm is None or self.pos >= self.n:
                self.perm = torch.randperm(self.n, generator=self.gen)
                self.pos = 0
            take = min(need, self.n - self.pos)
            parts.append(self.perm[self.pos:self.pos + take])
            self.pos += take
            need -= take
        return parts[0] if len(parts) == 1 else torch.cat(parts)


def batch_key(spec: RunSpec) -> str:
    """Runs with the same key can share a step of :func:`train_many`: same network, diffusion and
    training settings, the seed aside."""
    return RunSpec(spec.unet, spec.diffusion, replace(spec.train, seed=0)).spec_hash()


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
    """One run of a group: spec, data, batch-order RNG, loss curve and files. The weights, the
    optimizer and the running loss are the group's (:func:`_train_group`)."""

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
        self.loss_acc = torch.zeros((), dtype=torch.float32)
        self.loss_acc_n = 0
        self.train_seconds = 0.0
        self.resume: Optional[dict] = None  # last.pt, until the group has read its weights

    def load(self) -> None:
        """Refuse another spec's or other data's files; take up last.pt if there is one."""
        self.out.mkdir(parents=True, exist_ok=True)
        spec_file = self.out / SPEC_JSON
        if spec_file.exists():
            try:
                prev = json.loads(spec_file.read_text())
            except (OSError, ValueError) as e:
                raise CheckpointError(f"{spec_file} cannot be read: {e}") from e
            if prev.get("spec_hash") != self.spec_hash:
                raise CheckpointError(
                    f"{spec_file} belongs to another run spec (hash {prev.get('spec_hash')} ≠ "
                    f"{self.spec_hash}); use another out_dir or remove that run"
                )
            if prev.get("data_hash") != self.data_hash:
                raise CheckpointError(
                    f"{spec_file} was trained on other data (hash {prev.get('data_hash')} ≠ "
                    f"{self.data_hash}); use another out_dir or remove that run"
                )
        last = self.out / LAST
        if last.exists():
            ck = load_checkpoint(last)
            if ck.get("kind") != "resume":
                raise CheckpointError(f"checkpoint {last} is not a resume checkpoint")
            if ck.get("spec_hash") != self.spec_hash:
                raise CheckpointError(
                    f"checkpoint {last} was made by another run spec (hash "
                    f"{ck.get('spec_hash')} ≠ {self.spec_hash}); refusing to resume from it"
                )
            if ck.get("data_hash") != self.data_hash:
                raise CheckpointError(
                    f"checkpoint {last} was trained on other data (hash {ck.get('data_hash')} "
                    f"≠ {self.data_hash}); refusing to resume from it"
                )
            with self.checking(last):
                self.gen.set_state(ck["rng_state"])
                perm = ck["perm"] if ck["perm"].numel() else None
                if perm is not None and perm.numel() != self.x.shape[0]:
                    raise ValueError(f"stored permutation has {perm.numel()} entries for "
                                     f"{self.x.shape[0]} images")
                self.stream = _BatchStream(self.x.shape[0], self.gen, perm, int(ck["perm_pos"]))
                self.images_seen = int(ck["images_seen"])
                self.step = int(ck["step"])
                self.loss_curve = [(int(i), float(v)) for i, v in ck["loss_curve"]]
                self.loss_acc = ck["loss_acc"].to(dtype=torch.float32).reshape(())
                self.loss_acc_n = int(ck["loss_acc_n"])
                self.train_seconds = float(ck["train_seconds"])
            self.resume = ck
        _atomic_write_json(spec_file, {"spec": self.spec.to_dict(), "spec_hash": self.spec_hash,
                                       "data_hash": self.data_hash, "format": CKPT_FORMAT})

    @contextlib.contextmanager
    def checking(self, path: Path):
        """A malformed entry of ``path`` raises CheckpointError naming the file."""
        try:
            yield
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint {path} is incomplete or inconsistent: "
                                  f"{type(e).__name__}: {e}") from e


def _unstack(stacked: dict, k: int) -> dict:
    return {name: t[k].detach().to("cpu").clone() for name, t in stacked.items()}


def _clip_grad_norm_stacked(params: list[torch.Tensor], max_norm: float) -> None:
    """``clip_grad_norm_`` of each of the K models stacked along dim 0, on its own."""
    grads = [p.grad for p in params if p.grad is not None]
    norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads]).norm(dim=0)  # (K,)
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *[1] * (g.ndim - 1)).to(g.dtype))


# --------------------------------------------------------------------------------------------
# the training loop
# --------------------------------------------------------------------------------------------

def is_conditioning_param(name: str) -> bool:
    """Whether a UNet parameter belongs to the conditioning path: the embedding MLP
    (``cond_mlp.*``) or a block's injection Linear (``….cond.linear.*``)."""
    return name.startswith("cond_mlp.") or ".cond." in f".{name}"


def _param_groups(names: list[str], params: list, cond_lr_mult: float) -> list[dict]:
    """AdamW parameter groups: one group (``lr_mult`` 1) unless ``cond_lr_mult`` ≠ 1, then the
    conditioning path's parameters form a second group whose lr is ``cond_lr_mult`` × lr. The
    order of the parameters within the optimizer state is kept (the first group, then the second)."""
    if cond_lr_mult == 1:
        return [{"params": list(params), "lr_mult": 1.0}]
    cond = [p for n, p in zip(names, params) if is_conditioning_param(n)]
    rest = [p for n, p in zip(names, params) if not is_conditioning_param(n)]
    if not cond:
        raise ValueError("TrainConfig.cond_lr_mult ≠ 1 but the model has no conditioning parameters")
    return [{"params": rest, "lr_mult": 1.0}, {"params": cond, "lr_mult": float(cond_lr_mult)}]


def _train_group(runs: list[_Run], device: torch.device, progress: bool,
                 stop_after_images: Optional[int] = None, stop_when: Optional[Callable[[], bool]] = None,
                 write_files: bool = True) -> list[TrainResult]:
    """Train K ≥ 1 runs of one :func:`batch_key`, standing at one point, in the same steps.

    K = 1 trains the module itself. K > 1 stacks the K models' weights along a new first
    dimension (``torch.func.stack_module_state``) and runs one ``vmap`` of the same loss over them,
    so every convolution of the K models is one grouped kernel and they share each step's launches
    and Python overhead. The step's loss is the *sum* of the K losses, so each model's gradient is
    its own, and AdamW (element-wise) on the stacked weights is K AdamWs; the gradient clip and
    the EMA are per model too. Each run draws its batches, t and noise from its own generator,
    exactly as it would alone, so a run trained in a group follows its curve alone up to
    floating-point reordering in the grouped kernels (``tests/test_batched.py``).

    ``stop_when()``, asked after every step, stops the group early (a deadline): every step ends
    at an exact resume point, written to last.pt. ``write_files=False`` writes no checkpoint or
    loss file (for throughput measurements)."""
    spec0 = runs[0].spec
    tcfg, ucfg, dcfg = spec0.train, spec0.unet, spec0.diffusion
    K = len(runs)
    use_bf16 = resolve_bf16(tcfg.bf16, device)
    models = [_build_model(ucfg, r.spec.train.seed) for r in runs]
    for m, r in zip(models, runs):
        if r.resume is not None:
            with r.checking(r.out / LAST):
                m.load_state_dict(r.resume["raw"])
    param_names = [n for n, _ in models[0].named_parameters()]
    sd_keys = list(models[0].state_dict().keys())

    if K == 1:
        model = models[0].to(device)
        if CPU_CHANNELS_LAST and device.type == "cpu":
            model = model.to(memory_format=torch.channels_last)
        ema_model = None
        if tcfg.ema_decay is not None:
            ema_model = copy.deepcopy(model).eval()
            ema_model.requires_grad_(False)
        params = list(model.parameters())
        ema_params = list(ema_model.parameters()) if ema_model is not None else None
    else:
        stacked, buffers = stack_module_state([m.to(device) for m in models])
        params = [stacked[n] for n in param_names]
        ema_params = [p.detach().clone() for p in params] if tcfg.ema_decay is not None else None
        base = copy.deepcopy(models[0]).to("meta")
        for mod in base.modules():  # vmap has no batching rule for the fused attention kernel
            if isinstance(mod, SelfAttention):
                mod.fused = False
    opt = torch.optim.AdamW(_param_groups(param_names, params, tcfg.cond_lr_mult), lr=tcfg.lr,
                            betas=tuple(tcfg.betas), eps=tcfg.adam_eps, weight_decay=tcfg.weight_decay)
    # the optimizer's own order of the parameters (group by group): its state dict's indices
    ordered = [p for g in opt.param_groups for p in g["params"]]

    if K == 1 and runs[0].resume is not None:
        with runs[0].checking(runs[0].out / LAST):
            if ema_model is not None:
                ema_model.load_state_dict(runs[0].resume["ema"])
            opt.load_state_dict(runs[0].resume["optimizer"])
    elif any(r.resume is not None for r in runs):
        # per-model EMA and AdamW moments → stacked ones (the same element-wise state)
        emas, states = [], []
        for k, r in enumerate(runs):
            with r.checking(r.out / LAST):
                fresh = r.resume is None
                if ema_params is not None:
                    emas.append([p[k].detach() if fresh else r.resume["ema"][n].to(device)
                                 for n, p in zip(param_names, params)])
                states.append(None if fresh else r.resume["optimizer"]["state"])
        with torch.no_grad():
            for i, e in enumerate(ema_params or []):
                e.copy_(torch.stack([em[i] for em in emas]))
        if all(s is not None and len(s) == len(params) for s in states):
            for i, p in enumerate(ordered):
                opt.state[p] = {
                    "step": states[0][i]["step"].clone(),
                    "exp_avg": torch.stack([s[i]["exp_avg"] for s in states]).to(device),
                    "exp_avg_sq": torch.stack([s[i]["exp_avg_sq"] for s in states]).to(device),
                }
    for r in runs:
        r.resume = None

    cpu_schedule = make_schedule(dcfg)
    schedule = cpu_schedule.to(device)
    xs = [r.x.to(device) for r in runs]
    ys = [r.y.to(device) for r in runs]
    b = tcfg.batch_size
    shape = tuple(runs[0].x.shape[1:])

    def loss_of(model_fn, x0, lab, t, noise):
        return training_loss(model_fn, schedule, x0, lab, t, noise, dcfg.loss_weighting,
                             min_snr_gamma=dcfg.min_snr_gamma)

    if K > 1:
        def loss_one(p, bu, x0, lab, t, noise):
            return loss_of(lambda *a: functional_call(base, (p, bu), a), x0, lab, t, noise)

        losses_all = vmap(loss_one, randomness="error")

    def weights(k: int) -> tuple[dict, Optional[dict]]:
        """Run k's raw and EMA state dicts, on the CPU."""
        if K == 1:
            return (_cpu_state(model.state_dict()),
                    _cpu_state(ema_model.state_dict()) if ema_model is not None else None)
        raw = _unstack(stacked, k)
        raw.update(_unstack(buffers, k))
        raw = {n: raw[n] for n in sd_keys}
        if ema_params is None:
            return raw, None
        ema = dict(raw)  # buffers are not averaged
        ema.update({n: e[k].detach().cpu().clone() for n, e in zip(param_names, ema_params)})
        return raw, ema

    def optimizer_state(k: int) -> dict:
        if K == 1:
            return opt.state_dict()
        st = {}
        for i, p in enumerate(ordered):
            s = opt.state.get(p)
            if s:
                st[i] = {"step": s["step"].detach().cpu().clone(),
                         "exp_avg": s["exp_avg"][k].detach().cpu().clone(),
                         "exp_avg_sq": s["exp_avg_sq"][k].detach().cpu().clone()}
        groups, start = [], 0
        for g in opt.param_groups:
            n = len(g["params"])
            groups.append({**{kk: vv for kk, vv in g.items() if kk != "params"},
                           "params": list(range(start, start + n))})
            start += n
        return {"state": st, "param_groups": groups}

    images_seen = runs[0].images_seen
    step = runs[0].step
    loss_acc = torch.stack([r.loss_acc for r in runs]).to(device)  # (K,) float32, as logged
    loss_acc_n = runs[0].loss_acc_n

    def state(k: int, kind: str) -> dict:
        r = runs[k]
        raw, ema = weights(k)
        d = {
            "format": CKPT_FORMAT, "kind": kind,
            "spec": r.spec.to_dict(), "spec_hash": r.spec_hash, "data_hash": r.data_hash,
            "images_seen": images_seen, "step": step,
            "raw": raw, "ema": ema,
            "loss_curve": [[i, v] for i, v in r.loss_curve],
            "bf16": use_bf16, "device": str(device), "torch_version": str(torch.__version__),
            "train_seconds": r.train_seconds + (time.perf_counter() - t_start),
        }
        if K > 1:
            d["batched_with"] = K
        if kind == "resume":
            d.update({
                "optimizer": optimizer_state(k),
                "rng_state": r.gen.get_state(),
                "perm": r.stream.perm if r.stream.perm is not None else torch.zeros(0, dtype=torch.long),
                "perm_pos": r.stream.pos if r.stream.perm is not None else 0,
                "loss_acc": loss_acc[k].detach().cpu().clone(), "loss_acc_n": loss_acc_n,
            })
        return d

    def write_loss_json(r: _Run):
        _atomic_write_json(r.out / LOSS_JSON, {"images": [i for i, _ in r.loss_curve],
                                               "loss": [v for _, v in r.loss_curve],
                                               "spec_hash": r.spec_hash})

    from tqdm.auto import tqdm

    resumed_from = images_seen
    target = tcfg.images if stop_after_images is None else min(tcfg.images, stop_after_images)
    ckpt_points = tcfg.checkpoint_points()
    bar = tqdm(total=target * K, initial=images_seen * K, unit="img", disable=not progress,
               desc=f"train {runs[0].out.name}" if K == 1 else f"train {K} runs together",
               dynamic_ncols=True, smoothing=0.1)
    t_start = time.perf_counter()
    if K == 1:
        model.train()
    try:
        while images_seen < target:
            x0s, labs, ts, noises = [], [], [], []
            for r, x, y in zip(runs, xs, ys):
                idx = r.stream.next(b)
                t = draw_timesteps(dcfg, cpu_schedule, b, r.gen)
                noise = torch.randn((b,) + shape, generator=r.gen)
                idx_d = idx.to(device)
                x0s.append(x[idx_d])
                labs.append(y[idx_d])
                ts.append(t.to(device))
                noises.append(noise.to(device))
            lr = lr_at(tcfg, images_seen)
            for g in opt.param_groups:
                g["lr"] = lr * g.get("lr_mult", 1.0)  # (a checkpoint from before cond_lr_mult has none: 1)
            with autocast(device, use_bf16):
                if K == 1:
                    loss = loss_of(model, x0s[0], labs[0], ts[0], noises[0])
                    losses = loss.reshape(1)
                else:
                    losses = losses_all(stacked, buffers, torch.stack(x0s), torch.stack(labs),
                                        torch.stack(ts), torch.stack(noises))  # (K,)
                    loss = losses.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tcfg.grad_clip is not None:
                if K == 1:
                    torch.nn.utils.clip_grad_norm_(params, tcfg.grad_clip)
                else:
                    _clip_grad_norm_stacked(params, tcfg.grad_clip)
            opt.step()
            if ema_params is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(ema_params, params, 1.0 - tcfg.ema_decay)
            loss_acc += losses.detach().float()
            loss_acc_n += 1
            step += 1
            images_seen += b
            bar.update(b * K)
            finished = images_seen == tcfg.images
            if images_seen % tcfg.log_every_images == 0 or (finished and loss_acc_n):
                means = [v / loss_acc_n for v in loss_acc.tolist()]
                for r, mean in zip(runs, means):
                    if not math.isfinite(mean):
                        raise FloatingPointError(
                            f"training loss became {mean} at {images_seen} images ({r.out}); "
                            "lower lr or set grad_clip"
                        )
                    r.loss_curve.append((images_seen, mean))
                loss_acc.zero_()
                loss_acc_n = 0
                bar.set_postfix(loss=f"{sum(means) / K:.4f}")
            for k, r in enumerate(runs if write_files else ()):
                if images_seen in ckpt_points:
                    _save_ckpt(r.out / f"ckpt_{images_seen}.pt", state(k, "snapshot"))
                    _save_ckpt(r.out / LAST, state(k, "resume"))
                    write_loss_json(r)
                elif tcfg.resume_every_images and images_seen % tcfg.resume_every_images == 0:
                    _save_ckpt(r.out / LAST, state(k, "resume"))
            if stop_when is not None and images_seen < target and stop_when():
                break
        for k, r in enumerate(runs if write_files else ()):
            if images_seen > resumed_from or not (r.out / LAST).exists():
                _save_ckpt(r.out / LAST, state(k, "resume"))
            write_loss_json(r)
    finally:
        bar.close()
    if device.type == "cuda":  # the steps' kernels run asynchronously: time them, not their launch
        torch.cuda.synchronize(device)
    wall = time.perf_counter() - t_start
    trained = images_seen - resumed_from

    results = []
    for k, r in enumerate(runs):
        if K == 1:
            raw_m, ema_m = model.eval(), ema_model
        else:
            raw, ema = weights(k)
            raw_m = _build_model(ucfg, 0)
            raw_m.load_state_dict(raw)
            raw_m = raw_m.to(device).eval()
            ema_m = None
            if ema is not None:
                ema_m = _build_model(ucfg, 0)
                ema_m.load_state_dict(ema)
                ema_m = ema_m.to(device).eval()
                ema_m.requires_grad_(False)
        results.append(TrainResult(
            raw_model=raw_m, ema_model=ema_m, loss_curve=list(r.loss_curve),
            images_seen=images_seen, completed=images_seen >= tcfg.images, wall_seconds=wall,
            images_per_second=trained / wall if trained and wall > 0 else 0.0,
            train_seconds_total=r.train_seconds + (wall if trained else 0.0),
            resumed_from_images=resumed_from, device=str(device), bf16=use_bf16, out_dir=r.out,
            spec=r.spec,
        ))
    return results


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------

def train(run_spec: RunSpec, images, labels, out_dir: Union[str, os.PathLike], *,
          device: DeviceLike = "auto", progress: bool = True,
          stop_after_images: Optional[int] = None) -> TrainResult:
    """Train (or resume, or just reload a finished) run of ``run_spec`` on (images, labels).

    images: (M, 1, N, N) or (M, N, N) in [−1, 1]; labels: (M, 2) = (μx, μy). Resumes from
    ``out_dir/last.pt`` when it was made by the same spec and data (else CheckpointError naming
    the file). ``stop_after_images`` stops early (a multiple of batch_size), leaving an exact
    resume point. Returns a :class:`TrainResult`.
    """
    if not isinstance(run_spec, RunSpec):
        raise TypeError(f"run_spec must be a RunSpec, got {type(run_spec).__name__}")
    b = run_spec.train.batch_size
    if stop_after_images is not None and (
        not is_int(stop_after_images) or stop_after_images <= 0 or stop_after_images % b
    ):
        raise ValueError(f"stop_after_images must be a positive multiple of batch_size="
                         f"{b}, got {stop_after_images!r}")
    dev = resolve_device(device)
    resolve_bf16(run_spec.train.bf16, dev)  # an impossible bf16=True fails before any file
    run = _Run(run_spec, images, labels, out_dir)
    run.load()
    return _train_group([run], dev, progress, stop_after_images)[0]


def train_many(jobs: Sequence[tuple], device: DeviceLike = "auto", progress: bool = True, *,
               max_models: Optional[int] = 1, stop_after_images: Optional[int] = None,
               stop_when: Optional[Callable[[], bool]] = None,
               write_files: bool = True) -> list[TrainResult]:
    """Train several runs; ``jobs`` = [(RunSpec, images, labels, out_dir), ...].

    Runs of one :func:`batch_key` standing at one point (their ``last.pt``) are trained together,
    at most ``max_models`` per step (None: :func:`default_max_models`; 1, the default: one after
    another, each exactly as :func:`train` would). Each run keeps its own out_dir and files, and
    resumes alone or in any group. ``stop_after_images`` and ``stop_when`` (asked after every
    step: a deadline) stop early at an exact resume point (a whole step: ``stop_after_images``
    rounds up to the next multiple of a run's batch size); a group is not
    started once ``stop_when()`` is true (its result then stands where its last.pt does).
    ``write_files=False`` leaves no checkpoints (throughput measurements). Returns the
    :class:`TrainResult` of every job, in order."""
    dev = resolve_device(device)
    if stop_after_images is not None and (not is_int(stop_after_images) or stop_after_images <= 0):
        raise ValueError(f"stop_after_images must be a positive int, got {stop_after_images!r}")
    if max_models is not None and (not is_int(max_models) or max_models < 1):
        raise ValueError(f"max_models must be a positive int or None, got {max_models!r}")
    runs: list[_Run] = []
    for k, job in enumerate(jobs):
        if len(job) != 4:
            raise ValueError(f"jobs[{k}] must be (RunSpec, images, labels, out_dir), "
                             f"got {len(job)} items")
        spec, images, labels, out_dir = job
        if not isinstance(spec, RunSpec):
            raise TypeError(f"jobs[{k}][0] must be a RunSpec, got {type(spec).__name__}")
        resolve_bf16(spec.train.bf16, dev)
        runs.append(_Run(spec, images, labels, out_dir))
    outs = [str(r.out.resolve()) for r in runs]
    if len(set(outs)) != len(outs):
        raise ValueError("two jobs share an out_dir; every run needs its own")

    groups: dict[tuple, list[int]] = defaultdict(list)
    for k, r in enumerate(runs):
        r.load()
        groups[(batch_key(r.spec), r.images_seen)].append(k)
    results: list[Optional[TrainResult]] = [None] * len(runs)
    for members in groups.values():
        cap = max_models or default_max_models(runs[members[0]].spec, dev)
        for lo in range(0, len(members), cap):
            chunk = members[lo:lo + cap]
            stop_at = stop_after_images
            if stop_when is not None and stop_when():  # past the deadline: report, do not train
                stop_at = runs[chunk[0]].images_seen
            for k, res in zip(chunk, _train_group([runs[k] for k in chunk], dev, progress,
                                                  stop_at, stop_when, write_files)):
                results[k] = res
    return results  # type: ignore[return-value]


_RESUME_ONLY = ("optimizer", "rng_state", "perm", "perm_pos", "loss_acc", "loss_acc_n")


def snapshot_last(out_dir: Union[str, os.PathLike]) -> Path:
    """Write ``ckpt_<images>.pt``, the lean snapshot of where ``out_dir/last.pt`` stands (a run
    stopped early, e.g. at convergence, ends there); an existing one is kept. Returns its path."""
    out_dir = Path(out_dir)
    ck = load_checkpoint(out_dir / LAST)
    path = out_dir / f"ckpt_{int(ck['images_seen'])}.pt"
    if not path.exists():
        _save_ckpt(path, {**{k: v for k, v in ck.items() if k not in _RESUME_ONLY}, "kind": "snapshot"})
    return path


def load_model(path: Union[str, os.PathLike], which: Literal["ema", "raw"] = "ema",
               device: DeviceLike = "auto") -> ConditionalUNet:
    """A trained ConditionalUNet in eval mode from a run directory (its last.pt) or a checkpoint
    file (last.pt or ckpt_<images>.pt). which="ema" needs a run trained with ema_decay set."""
    if which not in ("ema", "raw"):
        raise ValueError(f"which must be 'ema' or 'raw', got {which!r}")
    path = Path(path)
    if path.is_dir():
        path = path / LAST
    ck = load_checkpoint(path)
    try:
        ucfg = UNetConfig.from_dict(ck["spec"]["unet"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} has no valid UNet spec: {e}") from e
    sd = ck.get(which)
    if sd is None:
        raise ValueError(f"checkpoint {path} has no {which!r} weights (trained with "
                         f"ema_decay=None?); use which='raw'")
    model = ConditionalUNet(ucfg)
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {path}: weights do not fit the stored spec: {e}") from e
    return model.to(resolve_device(device)).eval()
