"""Where training runs: the device string of a :class:`TrainConfig`, mixed precision, threads.

``device='auto'`` picks ``cuda`` when a GPU is present (under ``torchrun``, the process's
``LOCAL_RANK`` GPU), else the CPU. Asking for ``cuda`` on a machine without one is a
:class:`~seqgen.errors.ConfigError` raised when training starts, not when the config is
written, since configs travel between machines. Mixed precision is ``torch.autocast``:
``bf16`` on CUDA or the CPU (where CPUs with bf16 instructions, AVX512-BF16 or AMX, run the
matrix products about twice as fast), ``fp16`` on CUDA only, with a ``GradScaler`` for the loss.
Parameters, gradients and optimizer states stay in the model's dtype either way.
"""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

from ..errors import ConfigError
from .config import TrainConfig

__all__ = ["resolve_device", "check_precision", "autocast", "make_grad_scaler"]

_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(spec: str, *, local_rank: int = 0) -> torch.device:
    """``'auto' | 'cpu' | 'cuda' | 'cuda:N'`` -> a ``torch.device`` present on this machine."""
    if spec == "cpu":
        return torch.device("cpu")
    has_cuda = torch.cuda.is_available()
    if spec == "auto":
        return torch.device("cuda", local_rank) if has_cuda else torch.device("cpu")
    if not has_cuda:
        raise ConfigError(
            "device",
            f"device={spec!r} but no CUDA GPU is present (torch.cuda.is_available() is False)",
            "use device='auto' or device='cpu' on this machine",
        )
    index = int(spec.split(":", 1)[1]) if ":" in spec else local_rank
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(
            "device",
            f"device={spec!r} but this machine has {count} CUDA device(s) (indices 0..{count - 1})",
            f"use device='cuda:{count - 1}' or lower, or device='auto'",
        )
    return torch.device("cuda", index)


def check_precision(config: TrainConfig, device: torch.device) -> None:
    """``fp16`` needs CUDA and ``bf16`` CUDA or the CPU: raise ConfigError on any other device."""
    allowed = {"fp32": None, "bf16": ("cuda", "cpu"), "fp16": ("cuda",)}[config.precision]
    if allowed is not None and device.type not in allowed:
        fix = "use precision='bf16' (or 'fp32') on the CPU" if device.type == "cpu" else "use precision='fp32' on this device"
        raise ConfigError("precision", f"precision={config.precision!r} needs a {' or '.join(allowed)} device, but training runs on {device}", fix)


def autocast(config: TrainConfig, device: torch.device) -> ContextManager:
    """``torch.autocast`` on ``device`` for bf16/fp16 (see :func:`check_precision`); a no-op context for fp32."""
    if config.precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_AUTOCAST_DTYPES[config.precision])


def make_grad_scaler(config: TrainConfig, device: torch.device):
    """A ``torch.amp.GradScaler`` for fp16 on CUDA, else None (bf16 and fp32 need no scaling)."""
    if config.precision != "fp16" or device.type != "cuda":
        return None
    return torch.amp.GradScaler("cuda")
