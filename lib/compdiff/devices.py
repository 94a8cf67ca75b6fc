"""Device resolution and the bf16 autocast helper shared by training and sampling.

One rule everywhere: ``device="auto"`` picks CUDA, then Apple MPS, then the CPU.
bf16 autocast is the one precision setting we use (no fp16, so no loss scaling);
whether it is *worth* turning on is a property of the hardware, decided by
:func:`bf16_autocast_pays`.
"""

from __future__ import annotations

import contextlib
from typing import Union

import torch

from .config import Bf16Flag  # noqa: F401  (the type of TrainConfig.bf16, defined with it)

DeviceLike = Union[str, torch.device]

__all__ = [
    "DeviceLike",
    "Bf16Flag",
    "resolve_device",
    "bf16_autocast_available",
    "bf16_autocast_pays",
    "resolve_bf16",
    "autocast",
]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a torch.device into a
    torch.device, failing loudly when the requested backend is absent (never a silent CPU
    fallback)."""
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        if device == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda")
            if _mps_available():
                return torch.device("mps")
            return torch.device("cpu")
        try:
            dev = torch.device(device)
        except RuntimeError as e:
            raise ValueError(
                f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
            ) from e
    else:
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(dev)!r} requested but CUDA is not available here")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"device={str(dev)!r} requested but only {torch.cuda.device_count()} CUDA device(s)"
        )
    if dev.type == "mps" and not _mps_available():
        raise ValueError("device='mps' requested but MPS is not available here")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={str(dev)!r}: only cpu, cuda and mps are supported")
    return dev


_MPS_BF16: bool | None = None


def bf16_autocast_available(device: DeviceLike) -> bool:
    """True when ``torch.autocast(device_type, dtype=torch.bfloat16)`` runs on this device at all
    (on CPU it always does, though possibly in slow emulation)."""
    global _MPS_BF16
    dev = resolve_device(device)
    if dev.type == "cpu":
        return True
    if dev.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if dev.type == "mps":
        if _MPS_BF16 is None:  # depends on the macOS version: probe once
            try:
                with torch.autocast(device_type="mps", dtype=torch.bfloat16):
                    a = torch.ones(4, 4, device="mps")
                    (a @ a).sum().item()
                _MPS_BF16 = True
            except Exception:  # noqa: BLE001 - any failure means "not usable"
                _MPS_BF16 = False
        return _MPS_BF16
    return False


def _cpu_has_native_bf16() -> bool:
    # avx512_bf16 (Zen 4, Cooper Lake+) or AMX tiles (Sapphire Rapids+) make bf16 matmuls fast;
    # without them oneDNN emulates bf16 and autocast is *slower* than fp32 (measured: see
    # benchmarks/bench_train_step.py on an AVX2-only Zen 1).
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(cpu, probe, None)
        if fn is not None:
            try:
                if fn():
                    return True
            except Exception:  # noqa: BLE001
                pass
    return False


def hardware_name(device: DeviceLike = "cpu") -> str:
    """What a run was trained on, for its metrics: the GPU's name on CUDA, else the CPU model
    (:func:`compdiff.query.cpu_info`, or ``platform.processor()``) and whether it has native bf16
    (our CPUs differ 4–5× in speed by it)."""
    import platform

    from .query import cpu_info, cpu_label

    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if dev.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(dev)
    name = cpu_info()[0] or platform.processor() or platform.machine() or "unknown CPU"
    return cpu_label(name, _cpu_has_native_bf16())


def bf16_autocast_pays(device: DeviceLike) -> bool:
    """Whether bf16 autocast is expected to speed training up here: CUDA with bf16 support,
    MPS where bf16 autocast works, CPU only with native bf16 instructions."""
    dev = resolve_device(device)
    if dev.type == "cpu":
        return _cpu_has_native_bf16()
    return bf16_autocast_available(dev)


def resolve_bf16(flag: Bf16Flag, device: DeviceLike) -> bool:
    """Resolve a ``bf16`` option (``"auto"``, True, False) to a bool for ``device``.

    ``"auto"`` = :func:`bf16_autocast_pays`. ``True`` on a device whose autocast cannot run bf16
    is an error, not a silent fp32 run."""
    if flag == "auto":
        return bf16_autocast_pays(device)
    if flag is True:
        if not bf16_autocast_available(device):
            raise ValueError(f"bf16=True but bf16 autocast is not available on {device}")
        return True
    if flag is False:
        return False
    raise ValueError(f"bf16 must be 'auto', True or False, got {flag!r}")


def autocast(device: DeviceLike, enabled: bool) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to bf16 on ``device`` when ``enabled``, else a no-op context."""
    if not enabled:
        return contextlib.nullcontext()
    dev = resolve_device(device)
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
