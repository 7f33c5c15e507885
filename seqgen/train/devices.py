"""Where training runs: the device string of a :class:`TrainConfig`, mixed precision, threads.

``device='auto'`` picks ``cuda`` when a GPU is present (under ``torchrun``, the process's
``LOCAL_RANK`` GPU), else the CPU. Asking for ``cuda`` on a machine without one is a
:class:`~seqgen.errors.ConfigError` raised when training starts, not when the config is
written, since configs travel between machines. Mixed precision (``bf16``/``fp16``) is
``torch.autocast`` on CUDA only; ``fp16`` also scales the loss with a ``GradScaler``.
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
    """Mixed precision needs CUDA: raise ConfigError for ``bf16``/``fp16`` on any other device."""
    if config.precision != "fp32" and device.type != "cuda":
        raise ConfigError(
            "precision",
            f"precision={config.precision!r} needs a CUDA device, but training runs on {device}",
            "use precision='fp32' on the CPU",
        )


def autocast(config: TrainConfig, device: torch.device) -> ContextManager:
    """``torch.autocast`` for bf16/fp16 on CUDA; a no-op context for fp32."""
    if config.precision == "fp32" or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=_AUTOCAST_DTYPES[config.precision])


def make_grad_scaler(config: TrainConfig, device: torch.device):
    """A ``torch.amp.GradScaler`` for fp16 on CUDA, else None (bf16 and fp32 need no scaling)."""
    if config.precision != "fp16" or device.type != "cuda":
        return None
    return torch.amp.GradScaler("cuda")
