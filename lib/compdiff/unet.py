"""The conditional UNet of the paper's Fig 7 (spec §1.2).

Stated (Fig 7 caption): "standard UNet architecture consisting of three downsampling/upsampling
blocks with interlaced self-attention layers and skip connections … The conditional information
consisting of a concatenation of positional encodings of timestep and x/y-positions is passed in
at each block."

Our reconstruction [INFERRED, spec §1.2] follows the widely copied dome272 ``UNet_conditional``::

    inc     DoubleConv(C_in → c0)                                  N
    down_i  MaxPool2 → DoubleConv(res) → DoubleConv → +cond → [attn]   N/2^i      (i = 1..L)
    bottleneck  +cond → DoubleConv(c_L → B) → DoubleConv(B → B) → DoubleConv(B → c_L)   N/2^L
    up_j    bilinear×2 → cat(skip) → DoubleConv(res) → DoubleConv → +cond → [attn]     (j = 1..L)
    outc    Conv1×1(c0 → C_in)

with c0 = base_channels, c_i = base_channels·channel_mults[i-1], B = base_channels·bottleneck_mult
and "+cond" = ``Linear(SiLU(emb))`` broadcast over space. The embedding is
``emb = concat(PE(t), PE(label_scale·μx), PE(label_scale·μy))`` with
``PE(v) = [sin(v·ω_k)]_k ++ [cos(v·ω_k)]_k``, ``ω_k = 10000^(−2k/d)``, k = 0..d/2−1. With
``label_encoding="periodic"`` (an ablation for the torus of Figs 2, 3, 8) each label coordinate
enters as ``[sin(kθ)]_k ++ [cos(kθ)]_k``, ``θ = 2πμ/N``, k = 1..d/2, N = image_size: exactly
periodic in μ with the torus period, the same width (:func:`periodic_encoding`).

Our choices beyond dome272 (documented, not the paper's):

* The bottleneck receives the condition too (the brief: "every down, bottleneck and up
  block"), once, at its input (c_L wide: +0.2 M parameters in the paper preset, 23.99 M in all
  against dome272's 23.79 M). Injecting at the input rather than the output keeps the activation
  read as the representation (the bottleneck output, the paper's "layer 4") three DoubleConvs
  away from the raw additive encoding instead of containing it verbatim.
* Self-attention uses ``F.scaled_dot_product_attention`` (memory-efficient kernels) with the
  same parameters as ``nn.MultiheadAttention`` (a fused q/k/v Linear and an output Linear).
* ``cond_mlp=True`` (the small CPU presets) first maps the 3·d sinusoidal features through
  ``Linear → SiLU → Linear`` to ``cond_mlp_dim`` before the per-block Linear; the "paper" preset
  feeds the raw encoding to each block, as dome272 does.
* ``zero_init_output=True`` zero-initialises the output conv (off in all presets).
"""

from __future__ import annotations

import math
from typing import Union

import torch
import torch.nn.functional as F
from torch import nn

from .config import PRESETS, UNetConfig  # torch-free; re-exported here

__all__ = [
    "UNetConfig",
    "PRESETS",
    "build_unet",
    "count_parameters",
    "ConditionalUNet",
    "sinusoidal_encoding",
    "periodic_encoding",
]


def sinusoidal_encoding(v: torch.Tensor, dim: int) -> torch.Tensor:
    """PE(v) = [sin(v·ω_k)]_k ++ [cos(v·ω_k)]_k, ω_k = 10000^(−2k/dim), k = 0..dim/2−1.

    v: (B,) any real dtype; computed in float32. Returns (B, dim)."""
    half = dim // 2
    k = torch.arange(half, device=v.device, dtype=torch.float32)
    omega = torch.exp(-math.log(10000.0) * 2.0 * k / dim)
    arg = v.float()[:, None] * omega[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


def periodic_encoding(v: torch.Tensor, dim: int, period: float) -> torch.Tensor:
    """[sin(kθ)]_k ++ [cos(kθ)]_k, θ = 2π·v/period, k = 1..dim/2: exactly periodic in v with
    ``period`` (v and v + period give the same features; spec §1.1, the periodic-label alternative).

    v: (B,) any real dtype; computed in float32 (v is reduced modulo ``period`` first, so a shift by
    a whole period gives bit-identical features). Returns (B, dim)."""
    k = torch.arange(1, dim // 2 + 1, device=v.device, dtype=torch.float32)
    theta = torch.remainder(v.float(), period) * (2.0 * math.pi / period)
    arg = theta[:, None] * k[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class DoubleConv(nn.Module):
    """conv3×3 → GroupNorm → GELU → conv3×3 → GroupNorm; residual variant: GELU(x + f(x))."""

    def __init__(self, c_in: int, c_out: int, c_mid: int | None = None, *, residual=False,
                 groups: int = 1):
        super().__init__()
        c_mid = c_mid or c_out
        if residual and c_in != c_out:
            raise ValueError("a residual DoubleConv needs c_in == c_out")
        self.residual = residual
        self.net = nn.Sequential(
            nn.Conv2d(c_in, c_mid, 3, padding=1, bias=False),
            nn.GroupNorm(groups, c_mid),
            nn.GELU(),
            nn.Conv2d(c_mid, c_out, 3, padding=1, bias=False),
            nn.GroupNorm(groups, c_out),
        )

    def forward(self, x):
        if self.residual:
            return F.gelu(x + self.net(x))
        return self.net(x)


class SelfAttention(nn.Module):
    """LayerNorm → multi-head self-attention (+residual) → LayerNorm–Linear–GELU–Linear
    (+residual), over the H·W tokens of a feature map.

    ``fused`` (default True): attention by ``F.scaled_dot_product_attention``. False writes the
    same attention out as matmuls and a softmax: ``torch.func.vmap`` (K models trained together,
    :func:`compdiff.train.train_many`) has no batching rule for the fused CPU kernel and would
    loop over the models; the written-out form batches. Not a weight: state dicts are unchanged.
    """

    def __init__(self, channels: int, num_heads: int, fused: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.fused = fused
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.ff = nn.Sequential(
            nn.LayerNorm(channels),
            nn.Linear(channels, channels),
            nn.GELU(),
            nn.Linear(channels, channels),
        )

    def forward(self, x):
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        q, k, v = self.qkv(self.norm(tokens)).chunk(3, dim=-1)
        heads = lambda z: z.reshape(b, h * w, self.num_heads, c // self.num_heads).transpose(1, 2)
        if self.fused:
            a = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
        else:
            qh, kh, vh = heads(q), heads(k), heads(v)
            scores = qh @ kh.transpose(-2, -1) * (qh.shape[-1] ** -0.5)
            a = scores.softmax(dim=-1) @ vh
        a = a.transpose(1, 2).reshape(b, h * w, c)
        tokens = tokens + self.proj(a)
        tokens = tokens + self.ff(tokens)
        return tokens.transpose(1, 2).reshape(b, c, h, w)


class CondInjection(nn.Module):
    """x + Linear(SiLU(emb)) broadcast over space; with ``film``, x·(1 + γ) + β where
    (γ, β) = Linear(SiLU(emb))."""

    def __init__(self, emb_dim: int, channels: int, film: bool = False):
        super().__init__()
        self.film = film
        self.linear = nn.Linear(emb_dim, 2 * channels if film else channels)

    def forward(self, x, emb):
        h = self.linear(F.silu(emb)).to(x.dtype)[:, :, None, None]
        if self.film:
            gamma, beta = h.chunk(2, dim=1)
            return x * (1 + gamma) + beta
        return x + h


class DownBlock(nn.Module):
    def __init__(self, c_in, c_out, emb_dim, *, attention: bool, num_heads: int, groups: int,
                 film: bool = False):
        super().__init__()
        self.convs = nn.Sequential(
            nn.MaxPool2d(2),
            DoubleConv(c_in, c_in, residual=True, groups=groups),
            DoubleConv(c_in, c_out, groups=groups),
        )
        self.cond = CondInjection(emb_dim, c_out, film)
        self.attn = SelfAttention(c_out, num_heads) if attention else None

    def forward(self, x, emb):
        x = self.cond(self.convs(x), emb)
        return self.attn(x) if self.attn is not None else x


class UpBlock(nn.Module):
    def __init__(self, c_in, c_out, emb_dim, *, attention: bool, num_heads: int, groups: int,
                 film: bool = False):
        super().__init__()
        self.convs = nn.Sequential(
            DoubleConv(c_in, c_in, residual=True, groups=groups),
            DoubleConv(c_in, c_out, c_in // 2, groups=groups),
        )
        self.cond = CondInjection(emb_dim, c_out, film)
        self.attn = SelfAttention(c_out, num_heads) if attention else None

    def forward(self, x, skip, emb):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        x = torch.cat([skip, x.to(skip.dtype)], dim=1)
        x = self.cond(self.convs(x), emb)
        return self.attn(x) if self.attn is not None else x


class Bottleneck(nn.Module):
    """+cond → DoubleConv(c_L→B) → DoubleConv(B→B) → DoubleConv(B→c_L). Its output is the
    representation analysed in the paper ("layer 4", spec §1.2)."""

    def __init__(self, c, c_mid, emb_dim, *, groups: int, film: bool = False):
        super().__init__()
        self.cond = CondInjection(emb_dim, c, film)
        self.conv1 = DoubleConv(c, c_mid, groups=groups)
        self.conv2 = DoubleConv(c_mid, c_mid, groups=groups)
        self.conv3 = DoubleConv(c_mid, c, groups=groups)

    def forward(self, x, emb):
        return self.conv3(self.conv2(self.conv1(self.cond(x, emb))))


class ConditionalUNet(nn.Module):
    """ε-predicting UNet conditioned on the timestep t and the bump position (μx, μy).

    ``forward(x, t, labels)`` → ε̂ of x's shape; ``return_features=True`` → (ε̂, bottleneck output).
    The same activation can be read by a forward hook on :attr:`bottleneck_module`.
    """

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        if not isinstance(cfg, UNetConfig):
            raise TypeError(f"cfg must be a UNetConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        c = cfg.level_channels()
        g = cfg.norm_groups
        if cfg.cond_mlp:
            self.cond_mlp = nn.Sequential(
                nn.Linear(cfg.emb_dim, cfg.cond_mlp_dim), nn.SiLU(),
                nn.Linear(cfg.cond_mlp_dim, cfg.cond_mlp_dim),
            )
            block_emb = cfg.cond_mlp_dim
        else:
            self.cond_mlp = None
            block_emb = cfg.emb_dim
        film = cfg.conditioning == "film"
        self.inc = DoubleConv(cfg.in_channels, c[0], groups=g)
        self.downs = nn.ModuleList(
            DownBlock(c[i - 1], c[i], block_emb, num_heads=cfg.num_heads, groups=g, film=film,
                      attention=cfg.down_resolutions()[i - 1] in cfg.attention_resolutions)
            for i in range(1, cfg.levels + 1)
        )
        self.bottleneck = Bottleneck(c[-1], cfg.bottleneck_channels, block_emb, groups=g, film=film)
        self.ups = nn.ModuleList(
            UpBlock(ci, co, block_emb, num_heads=cfg.num_heads, groups=g, film=film,
                    attention=r in cfg.attention_resolutions)
            for ci, co, r in zip(cfg.up_in_channels(), cfg.up_out_channels(),
                                 cfg.up_resolutions())
        )
        self.outc = nn.Conv2d(c[0], cfg.in_channels, 1)
        if cfg.zero_init_output:
            nn.init.zeros_(self.outc.weight)
            nn.init.zeros_(self.outc.bias)

    @property
    def bottleneck_module(self) -> nn.Module:
        """Submodule whose output is the bottleneck representation (hook target)."""
        return self.bottleneck

    def embed(self, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """concat(PE(t), PE(s·μx), PE(s·μy)) (→ MLP when cfg.cond_mlp); with
        ``label_encoding="periodic"``, each μ through :func:`periodic_encoding` of period N = image_size."""
        d = self.cfg.emb_dim_per_var
        if self.cfg.label_encoding == "periodic":
            n = float(self.cfg.image_size)
            mu = [periodic_encoding(labels[:, i], d, n) for i in (0, 1)]
        else:
            s = self.cfg.label_scale
            mu = [sinusoidal_encoding(labels[:, i] * s, d) for i in (0, 1)]
        emb = torch.cat([sinusoidal_encoding(t, d), *mu], dim=1)
        if self.cond_mlp is not None:
            emb = self.cond_mlp(emb)
        return emb

    def _check_inputs(self, x, t, labels):
        cfg = self.cfg
        n = cfg.image_size
        if x.ndim != 4 or x.shape[1] != cfg.in_channels or x.shape[2] != n or x.shape[3] != n:
            raise ValueError(
                f"x must have shape (B, {cfg.in_channels}, {n}, {n}) for this UNet "
                f"(image_size={n}), got {tuple(x.shape)}"
            )
        b = x.shape[0]
        if t.ndim == 0:
            t = t.expand(b)
        if t.shape != (b,):
            raise ValueError(f"t must have shape ({b},) or be a scalar, got {tuple(t.shape)}")
        if labels.shape != (b, 2):
            raise ValueError(f"labels must have shape ({b}, 2) = (μx, μy), got "
                             f"{tuple(labels.shape)}")
        return t

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor, *,
                return_features: bool = False):
        t = torch.as_tensor(t, device=x.device)
        labels = torch.as_tensor(labels, device=x.device)
        t = self._check_inputs(x, t, labels)
        emb = self.embed(t, labels)
        h = self.inc(x)
        skips = [h]
        for down in self.downs:
            h = down(h, emb)
            skips.append(h)
        skips.pop()  # the deepest down output feeds the bottleneck, not a skip
        h = self.bottleneck(h, emb)
        features = h
        for up in self.ups:
            h = up(h, skips.pop(), emb)
        out = self.outc(h)
        if return_features:
            return out, features
        return out


def build_unet(cfg_or_preset: Union[UNetConfig, str]) -> ConditionalUNet:
    """A ConditionalUNet from a UNetConfig or a PRESETS name ("paper", "small", "tiny", "micro")."""
    if isinstance(cfg_or_preset, str):
        if cfg_or_preset not in PRESETS:
            raise ValueError(f"unknown UNet preset {cfg_or_preset!r}; choose from {sorted(PRESETS)}")
        cfg_or_preset = PRESETS[cfg_or_preset]
    return ConditionalUNet(cfg_or_preset)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
