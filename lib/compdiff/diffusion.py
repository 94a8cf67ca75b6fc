"""DDPM forward process, ε-prediction loss, and the DDPM / DDIM samplers (spec §1.3).

Everything here is a plain function of (model, schedule, labels, noise source); the network
knows nothing about the schedule.

Timestep convention: timesteps are 0-indexed, t ∈ {0, …, T−1}, and the model is given this
integer. ``alpha_bars[t] = ∏_{s≤t} (1 − β_s)``, so ``alpha_bars[0] = 1 − β_0``. Ho et al.'s
(and the spec's) t = 1..T is our t − 1; the spec's "last step, t = 1" is our t = 0.

Noise: a sample's noise depends only on (seed, sample index) — never on the batch size, the
batch composition or the device — through :class:`SampleNoise`, which keeps one CPU
``torch.Generator`` per sample and draws each sample's noise in the same order whatever the
batching.
"""

from __future__ import annotations

import hashlib
import math
from typing import Callable, Literal, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from .config import DiffusionConfig  # torch-free; re-exported here
from .devices import Bf16Flag, DeviceLike, resolve_bf16, resolve_device
from .devices import autocast as _autocast

__all__ = [
    "DiffusionConfig",
    "Schedule",
    "make_schedule",
    "q_sample",
    "training_loss",
    "loss_weights",
    "draw_timesteps",
    "prediction_of",
    "to_eps",
    "SampleNoise",
    "sample_seed",
    "ddpm_timesteps",
    "ddim_timesteps",
    "sample_ddpm",
    "sample_ddim",
]

ScheduleName = Literal["linear", "cosine"]


class Schedule:
    """Noise schedule tensors, indexed by t = 0..T−1.

    betas, alphas = 1 − β, alpha_bars = ∏α, alpha_bars_prev (ᾱ_{t−1}, with ᾱ_{−1} = 1),
    posterior_variance β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) (β̃_0 = 0),
    sqrt_alpha_bars, sqrt_one_minus_alpha_bars.

    Built in float64 on the CPU; ``to(device)`` returns a float32 copy on ``device`` (MPS has no
    float64) for per-sample gathers in training. The samplers read per-step scalars from the
    float64 original.
    """

    _FIELDS = ("betas", "alphas", "alpha_bars", "alpha_bars_prev", "posterior_variance",
               "sqrt_alpha_bars", "sqrt_one_minus_alpha_bars")

    def __init__(self, betas: torch.Tensor, cfg: DiffusionConfig | None = None):
        betas = betas.detach().to(device="cpu", dtype=torch.float64)
        self.cfg = cfg
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alpha_bars = torch.cumprod(self.alphas, dim=0)
        self.alpha_bars_prev = torch.cat([torch.ones(1, dtype=torch.float64),
                                          self.alpha_bars[:-1]])
        self.posterior_variance = betas * (1.0 - self.alpha_bars_prev) / (1.0 - self.alpha_bars)
        self.sqrt_alpha_bars = self.alpha_bars.sqrt()
        self.sqrt_one_minus_alpha_bars = (1.0 - self.alpha_bars).sqrt()

    @property
    def T(self) -> int:
        return int(self.betas.shape[0])

    @property
    def device(self) -> torch.device:
        return self.betas.device

    @property
    def dtype(self) -> torch.dtype:
        return self.betas.dtype

    def to(self, device: DeviceLike, dtype: torch.dtype = torch.float32) -> "Schedule":
        dev = resolve_device(device) if not isinstance(device, torch.device) else device
        new = object.__new__(Schedule)
        new.cfg = self.cfg
        for name in self._FIELDS:
            # cast on the CPU first: MPS cannot hold float64
            setattr(new, name, getattr(self, name).to(dtype=dtype).to(dev))
        return new

    def __repr__(self) -> str:
        return f"Schedule(T={self.T}, dtype={self.dtype}, device={self.device}, cfg={self.cfg})"


def make_schedule(cfg: DiffusionConfig) -> Schedule:
    """The Schedule of a DiffusionConfig (float64, CPU)."""
    T = cfg.T
    if cfg.schedule == "linear":
        betas = torch.linspace(cfg.beta_start, cfg.beta_end, T, dtype=torch.float64)
    else:  # cosine: ᾱ(u) = f(u)/f(0), f(u) = cos²((u/T + s)/(1 + s)·π/2); β_t = 1 − f(t+1)/f(t)
        u = torch.arange(T + 1, dtype=torch.float64)
        f = torch.cos((u / T + cfg.cosine_s) / (1 + cfg.cosine_s) * math.pi / 2) ** 2
        betas = (1.0 - f[1:] / f[:-1]).clamp(max=0.999)
    return Schedule(betas, cfg)


def _gather(arr: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """arr[t] as a (B, 1, 1, …) tensor with like's device and dtype."""
    if arr.device != like.device:
        arr = arr.to(dtype=torch.float32).to(like.device)
    out = arr[t.to(device=like.device, dtype=torch.long)]
    return out.to(like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


def draw_timesteps(cfg: DiffusionConfig, schedule: Schedule, b: int, generator: torch.Generator) -> torch.Tensor:
    """The training timesteps of one batch of ``b``, from ``generator`` (CPU). "uniform": t ~
    U{0..T−1}, one draw. "lognormal": the same uniform draw, then the first
    round(lognormal_fraction·b) entries replaced by the t whose σ = √((1−ᾱ)/ᾱ) is nearest to
    exp(N(lognormal_mean, lognormal_std²)) (EDM's noise-level distribution on the discrete
    schedule)."""
    t = torch.randint(0, cfg.T, (b,), generator=generator)
    if cfg.t_sampling == "uniform":
        return t
    n = int(round(cfg.lognormal_fraction * b))
    if n == 0:
        return t
    z = torch.randn(n, generator=generator, dtype=torch.float64)
    sigma = torch.exp(cfg.lognormal_mean + cfg.lognormal_std * z)
    ab = schedule.alpha_bars.to(dtype=torch.float64, device="cpu")
    sig_t = ((1.0 - ab) / ab).sqrt()  # increasing in t
    hi = torch.searchsorted(sig_t, sigma).clamp(1, cfg.T - 1)
    lo = hi - 1
    pick = torch.where((sigma - sig_t[lo]).abs() <= (sig_t[hi] - sigma).abs(), lo, hi)
    t[:n] = pick
    return t


def q_sample(schedule: Schedule, x0: torch.Tensor, t: torch.Tensor,
             noise: torch.Tensor) -> torch.Tensor:
    """x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε."""
    return (_gather(schedule.sqrt_alpha_bars, t, x0) * x0
            + _gather(schedule.sqrt_one_minus_alpha_bars, t, x0) * noise)


def loss_weights(schedule: Schedule, t: torch.Tensor, weighting: str,
                 min_snr_gamma: float = 5.0, prediction: str = "eps") -> torch.Tensor | None:
    """Per-sample weights on the MSE of the network's prediction (None for "none"). "min_snr"
    weighs the x₀-error by min(SNR, γ): min(SNR, γ)/SNR on the ε-MSE, min(SNR, γ)/(SNR + 1) on
    the v-MSE."""
    if weighting == "none":
        return None
    if weighting == "min_snr":
        ab = schedule.alpha_bars.to(dtype=torch.float32)
        ab = ab.to(t.device)[t.long()]
        snr = ab / (1.0 - ab)
        return torch.clamp(snr, max=min_snr_gamma) / (snr + 1.0 if prediction == "v" else snr)
    raise ValueError(f"weighting must be 'none' or 'min_snr', got {weighting!r}")


def prediction_of(schedule: Schedule) -> str:
    """The schedule's prediction target ("eps" unless its DiffusionConfig says "v")."""
    return getattr(schedule.cfg, "prediction", "eps") if schedule.cfg is not None else "eps"


def to_eps(schedule: Schedule, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The network's output as ε̂: unchanged for ε-prediction; ε̂ = √ᾱ v̂ + √(1−ᾱ) x_t for v."""
    if prediction_of(schedule) == "eps":
        return out
    a = _gather(schedule.sqrt_alpha_bars, t, out)
    b = _gather(schedule.sqrt_one_minus_alpha_bars, t, out)
    return a * out + b * x_t.to(out.dtype)


def training_loss(model: Callable, schedule: Schedule, x0: torch.Tensor, labels: torch.Tensor,
                  t: torch.Tensor, noise: torch.Tensor, weighting: str = "none", *,
                  min_snr_gamma: float = 5.0) -> torch.Tensor:
    """MSE of the network's prediction (ε, or v = √ᾱ ε − √(1−ᾱ) x₀ when the schedule's config
    says ``prediction="v"``), mean over pixels then (weighted) mean over the batch. The model's
    output is cast to float32 first, so the loss is fp32 under bf16 autocast."""
    x_t = q_sample(schedule, x0, t, noise)
    out = model(x_t, t, labels).float()
    prediction = prediction_of(schedule)
    if prediction == "v":
        target = (_gather(schedule.sqrt_alpha_bars, t, out) * noise.float()
                  - _gather(schedule.sqrt_one_minus_alpha_bars, t, out) * x0.float())
    else:
        target = noise.float()
    per_sample = (out - target).pow(2).flatten(1).mean(1)
    w = loss_weights(schedule, t, weighting, min_snr_gamma, prediction)
    if w is not None:
        per_sample = per_sample * w.to(per_sample.device)
    return per_sample.mean()


# --------------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------------

def sample_seed(seed: int, index: int) -> int:
    """63-bit seed of sample ``index`` under ``seed`` (BLAKE2b of both; stable across runs,
    platforms and Python versions — unlike hash())."""
    h = hashlib.blake2b(f"compdiff:{int(seed)}:{int(index)}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & (2**63 - 1)


class SampleNoise:
    """Per-sample standard-normal noise: sample ``indices[i]``'s k-th draw depends only on
    (seed, indices[i], k).

    One CPU ``torch.Generator`` per sample; ``next()`` returns the next draw of every sample,
    stacked, as a (B, *shape) float32 tensor on ``device``. Drawing on the CPU makes the noise
    identical on every device.
    """

    def __init__(self, seed: int, indices: Sequence[int] | torch.Tensor | np.ndarray,
                 shape: Sequence[int], device: DeviceLike = "cpu"):
        idx = [int(i) for i in (indices.tolist() if hasattr(indices, "tolist") else indices)]
        self.seed = int(seed)
        self.indices = idx
        self.shape = tuple(int(s) for s in shape)
        self.device = resolve_device(device)
        self._gens = []
        for i in idx:
            g = torch.Generator(device="cpu")
            g.manual_seed(sample_seed(self.seed, i))
            self._gens.append(g)
        self._buf = torch.empty((len(idx),) + self.shape, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self._gens)

    def next(self) -> torch.Tensor:
        buf = torch.empty_like(self._buf)  # fresh storage: callers may keep the tensor
        for k, g in enumerate(self._gens):
            torch.randn(self.shape, generator=g, out=buf[k])
        return buf.to(self.device, non_blocking=False)


# --------------------------------------------------------------------------------------------
# Samplers
# --------------------------------------------------------------------------------------------

def ddpm_timesteps(T: int) -> list[int]:
    """Timesteps the ancestral sampler visits, in order: T−1, T−2, …, 0 (each once)."""
    return list(range(T - 1, -1, -1))


def ddim_timesteps(T: int, k: int) -> list[int]:
    """The k timesteps DDIM visits, in order: ``round(linspace(T−1, 0, k))``.

    Evenly spaced, first T−1 (where x_T ~ N(0, I) is a good approximation), last 0 (so the final
    update lands on x_0) when k ≥ 2; strictly decreasing for 1 ≤ k ≤ T (the spacing
    (T−1)/(k−1) ≥ 1 and rounding is monotone). k = T gives every timestep, like DDPM; k = 1 gives
    [T−1] (one jump to the x_0 prediction). Rounding is half-to-even (numpy).
    """
    if not isinstance(k, int) or isinstance(k, bool) or not (1 <= k <= T):
        raise ValueError(f"DDIM steps must be an int in [1, T={T}], got {k!r}")
    if k == 1:
        return [T - 1]
    ts = np.rint(np.linspace(T - 1, 0, k)).astype(np.int64).tolist()
    assert all(a > b for a, b in zip(ts, ts[1:])), ts
    return ts


def _as_labels(labels) -> torch.Tensor:
    lab = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    lab = lab.detach().to(device="cpu", dtype=torch.float32)
    if lab.ndim != 2 or lab.shape[1] != 2:
        raise ValueError(f"labels must have shape (M, 2) = (μx, μy), got {tuple(lab.shape)}")
    return lab


def _model_device(model) -> torch.device | None:
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return None


class _SamplerSetup:
    """Shared argument handling of the two samplers."""

    def __init__(self, model, schedule, labels, seed, indices, device, batch_size, shape,
                 bf16, visited, return_features_at):
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
        self.labels = _as_labels(labels)
        m = self.labels.shape[0]
        if indices is None:
            self.indices = list(range(m))
        else:
            self.indices = [int(i) for i in (indices.tolist() if hasattr(indices, "tolist")
                                             else indices)]
            if len(self.indices) != m:
                raise ValueError(f"indices has {len(self.indices)} entries for {m} labels")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if seed is None or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.seed = int(seed)
        self.batch_size = batch_size
        self.shape = tuple(int(s) for s in shape)
        if device is None:
            self.device = _model_device(model) or torch.device("cpu")
        else:
            self.device = resolve_device(device)
            if isinstance(model, nn.Module):
                model.to(self.device)
        self.bf16 = resolve_bf16(bf16, self.device)
        self.is_module = isinstance(model, nn.Module)
        cpu = self.device.type == "cpu"
        self.chunk = CPU_SAMPLER_CHUNK if cpu else None
        self.channels_last = bool(cpu and CPU_SAMPLER_CHANNELS_LAST and self.is_module and len(self.shape) == 3)
        self.feature_ts: list[int] = []
        if return_features_at is not None:
            self.feature_ts = sorted({int(t) for t in return_features_at}, reverse=True)
            bad = [t for t in self.feature_ts if t not in set(visited)]
            if bad:
                raise ValueError(
                    f"return_features_at has timesteps {bad} that this sampler does not visit "
                    f"(it visits {visited[0]}..{visited[-1]}, {len(visited)} steps)"
                )

    def batches(self):
        m = self.labels.shape[0]
        for lo in range(0, m, self.batch_size):
            hi = min(lo + self.batch_size, m)
            yield lo, hi


# CPU sampling levers (benchmarks/bench_sampler_cpu.py). The samplers call the network on at most
# CPU_SAMPLER_CHUNK images at a time (the update and the noise still run over the whole batch: a
# sample's noise does not depend on it), and with CPU_SAMPLER_CHANNELS_LAST in the channels_last
# layout that training uses on a CPU. Both only reorder float operations (samples agree to ~1e-6);
# a batch of 512 32×32 images runs out of cache on one core, and the pair sampled about 2× faster on
# one AVX2 core (benchmarks/RESULTS.md). None / False: one call on the whole batch, NCHW (the GPU path).
CPU_SAMPLER_CHUNK: Optional[int] = 64
CPU_SAMPLER_CHANNELS_LAST = True


def _call_model(model, schedule: Schedule, setup: _SamplerSetup, x, t_int: int, lab, want_features: bool):
    chunk = setup.chunk or x.shape[0]
    t = torch.full((x.shape[0],), t_int, dtype=torch.long, device=x.device)
    outs, feats = [], []
    with _autocast(setup.device, setup.bf16):
        for lo in range(0, x.shape[0], chunk):
            xc, lc, tc = x[lo:lo + chunk], lab[lo:lo + chunk], t[lo:lo + chunk]
            if setup.channels_last:
                xc = xc.contiguous(memory_format=torch.channels_last)
            if want_features:
                out, feat = model(xc, tc, lc, return_features=True)
                feats.append(feat.float())
            else:
                out = model(xc, tc, lc)
            outs.append(out.float().contiguous())
    out = outs[0] if len(outs) == 1 else torch.cat(outs)
    feat = None
    if want_features:
        feat = (feats[0] if len(feats) == 1 else torch.cat(feats)).contiguous()
    return to_eps(schedule, out, x, t), feat


def _is_channels_last(model) -> bool:
    """Whether ``model``'s convolutions are in the channels_last layout (read on a kernel whose
    layout is not ambiguous: more than one input channel, more than one tap)."""
    w = next((p for p in model.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] * p.shape[3] > 1), None)
    return w is not None and w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()


def _run(model, schedule: Schedule, setup: _SamplerSetup, visited: list[int], step_fn,
         noise_per_step: Callable[[int], bool], progress: bool, desc: str):
    from tqdm.auto import tqdm

    m = setup.labels.shape[0]
    out = torch.empty((m,) + setup.shape, dtype=torch.float32)
    feats: dict[int, torch.Tensor] = {}
    was_training = model.training if setup.is_module else None
    if setup.is_module:
        model.eval()
    relayout = setup.channels_last and not _is_channels_last(model)
    if relayout:  # back to NCHW afterwards: the caller's module is left as it came
        model.to(memory_format=torch.channels_last)
    n_batches = -(-m // setup.batch_size)
    bar = tqdm(total=n_batches * len(visited), desc=desc, disable=not progress, unit="step")
    try:
        with torch.no_grad():
            for lo, hi in setup.batches():
                noise = SampleNoise(setup.seed, setup.indices[lo:hi], setup.shape, setup.device)
                lab = setup.labels[lo:hi].to(setup.device)
                x = noise.next()  # x_T
                for i, t in enumerate(visited):
                    want = t in setup.feature_ts
                    eps, feat = _call_model(model, schedule, setup, x, t, lab, want)
                    if want:
                        f = feat.cpu()
                        if t not in feats:
                            feats[t] = torch.empty((m,) + tuple(f.shape[1:]), dtype=torch.float32)
                        feats[t][lo:hi] = f
                    z = noise.next() if noise_per_step(i) else None
                    x = step_fn(x, eps, i, t, z)
                    bar.update(1)
                out[lo:hi] = x.clamp(-1.0, 1.0).cpu()
    finally:
        bar.close()
        if relayout:
            model.to(memory_format=torch.contiguous_format)
        if setup.is_module and was_training:
            model.train()
    if setup.feature_ts:
        return out, {t: feats[t] for t in setup.feature_ts}
    return out


def sample_ddpm(model: Callable, schedule: Schedule, labels, *, seed: int,
                indices: Sequence[int] | None = None, device: DeviceLike | None = None,
                batch_size: int = 256, shape: Sequence[int] = (1, 32, 32),
                variance: Literal["beta", "posterior"] = "beta",
                return_features_at: Sequence[int] | None = None, progress: bool = False,
                autocast: Bf16Flag = False):
    """Ancestral DDPM sampling (Ho et al. 2020, Alg. 2) over all T steps, t = T−1 … 0.

    x_{t−1} = (x_t − β_t/√(1−ᾱ_t) ε̂) / √α_t + σ_t z,  z ~ N(0, I) for t > 0, none at t = 0;
    σ_t² = β_t (variance="beta", spec default) or β̃_t (variance="posterior").

    model: ``model(x, t, labels)`` → ε̂ (a ConditionalUNet or any callable); with
    return_features_at it is called with ``return_features=True`` at those timesteps.
    labels: (M, 2). Sample m uses noise of (seed, indices[m]) (indices default 0..M−1), so the
    result does not depend on batch_size. device: None = the model's device (CPU for a plain
    callable); a device moves the model there. autocast: run the model under bf16 autocast
    (True, False, or "auto" = where it pays: CUDA, MPS, CPUs with native bf16).
    No clipping along the chain; the final x_0 is clamped to [−1, 1].

    Returns x0 (M, *shape) float32 on the CPU, or (x0, {t: features (M, …)}) when
    return_features_at is given (features = the model's bottleneck output on input x_t at t).
    """
    if variance not in ("beta", "posterior"):
        raise ValueError(f"variance must be 'beta' or 'posterior', got {variance!r}")
    visited = ddpm_timesteps(schedule.T)
    setup = _SamplerSetup(model, schedule, labels, seed, indices, device, batch_size, shape,
                          autocast, visited, return_features_at)
    betas = schedule.betas.double()
    alphas = schedule.alphas.double()
    abar = schedule.alpha_bars.double()
    var = betas if variance == "beta" else schedule.posterior_variance.double()

    def step(x, eps, i, t, z):
        coef = float(betas[t] / (1.0 - abar[t]).sqrt())
        mean = (x - coef * eps) / math.sqrt(float(alphas[t]))
        if t > 0:
            mean = mean + math.sqrt(float(var[t])) * z
        return mean

    return _run(model, schedule, setup, visited, step,
                lambda i: visited[i] > 0, progress, "DDPM")


def sample_ddim(model: Callable, schedule: Schedule, labels, *, steps: int, eta: float = 0.0,
                seed: int, indices: Sequence[int] | None = None,
                device: DeviceLike | None = None, batch_size: int = 256,
                shape: Sequence[int] = (1, 32, 32),
                return_features_at: Sequence[int] | None = None, progress: bool = False,
                autocast: Bf16Flag = False):
    """DDIM sampling (Song et al. 2021) over ``ddim_timesteps(T, steps)``.

    With t the current and s the next visited timestep (ᾱ_s = 1 after the last one):
      x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t,
      σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_s),
      x_s = √ᾱ_s x̂_0 + √(1−ᾱ_s−σ²) ε̂ + σ z.
    η = 0 is deterministic given x_T; η = 1 with steps = T is DDPM with σ_t² = β̃_t (and draws
    its noise in the same order, so it reproduces ``sample_ddpm(variance="posterior")``). Noise
    is drawn only when η > 0. Other arguments and the return value as in :func:`sample_ddpm`.
    """
    if not isinstance(eta, (int, float)) or isinstance(eta, bool) or not (0.0 <= eta <= 1.0):
        raise ValueError(f"eta must be in [0, 1], got {eta!r}")
    visited = ddim_timesteps(schedule.T, steps)
    setup = _SamplerSetup(model, schedule, labels, seed, indices, device, batch_size, shape,
                          autocast, visited, return_features_at)
    abar = schedule.alpha_bars.double()

    def step(x, eps, i, t, z):
        a_t = float(abar[t])
        a_s = float(abar[visited[i + 1]]) if i + 1 < len(visited) else 1.0
        x0 = (x - math.sqrt(1.0 - a_t) * eps) / math.sqrt(a_t)
        sigma = eta * math.sqrt((1.0 - a_s) / (1.0 - a_t)) * math.sqrt(max(1.0 - a_t / a_s, 0.0))
        x = math.sqrt(a_s) * x0 + math.sqrt(max(1.0 - a_s - sigma**2, 0.0)) * eps
        if z is not None and sigma > 0:
            x = x + sigma * z
        return x

    return _run(model, schedule, setup, visited, step,
                lambda i: eta > 0 and i + 1 < len(visited), progress, f"DDIM-{steps}")
