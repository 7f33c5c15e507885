"""Mixed precision as model code sees it: what ``torch.autocast`` does on a device, and a way out.

Under ``torch.autocast`` (TrainConfig ``precision='bf16'``/``'fp16'``, or a user's own context),
matrix products run in a low-precision dtype while parameters stay in theirs. Code that must keep
its own dtype (hand-written backward passes with preallocated buffers, long chains of small
updates) asks :func:`autocast_dtype` what autocast would use, and runs under :func:`autocast_off`.
Both accept any device, including ones autocast does not know (``'meta'``), where autocast is off.
"""

from __future__ import annotations

import contextlib
from typing import ContextManager, Optional, Union

import torch

__all__ = ["autocast_dtype", "autocast_off"]

Device = Union[torch.device, str]


def autocast_dtype(device: Device) -> Optional[torch.dtype]:
    """The dtype ``torch.autocast`` casts products to on ``device``'s type, or None when it is off there."""
    kind = torch.device(device).type
    try:
        enabled = torch.is_autocast_enabled(kind)
    except RuntimeError:  # a device type autocast does not support ('meta'): never on
        return None
    return torch.get_autocast_dtype(kind) if enabled else None


def autocast_off(device: Device) -> ContextManager:
    """A context with autocast disabled on ``device``'s type (a no-op context where it is off)."""
    if autocast_dtype(device) is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, enabled=False)
