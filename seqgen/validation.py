"""Input checks shared by every whole-sequence method: shapes, dtypes, NaN/inf, masks, emptiness.

:func:`check_sequence` is called once, by the :class:`~seqgen.SequenceModel` base, before any
model code runs; models receive clean tensors and never re-check.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch.distributions import constraints

from .errors import DataError, ShapeError

__all__ = ["check_sequence", "lengths_from_mask"]


def lengths_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """``mask: [batch, time] -> [batch]``: the index of the last observed step plus one."""
    steps = torch.arange(1, mask.shape[1] + 1, device=mask.device)
    return (mask.long() * steps).amax(dim=1)


def check_sequence(
    x: torch.Tensor,
    *,
    obs_shape: torch.Size,
    discrete: bool,
    support: constraints.Constraint = constraints.real,
    mask: Optional[torch.Tensor] = None,
    context: Optional[torch.Tensor] = None,
    input_dim: int = 0,
    argument: str = "x",
    fix_obs: str = "build the model with the data's observation shape",
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Validate a batch and return ``(x, mask, lengths, context)`` ready for model code.

    x:       ``[batch, time, *obs_shape]``; float (or long tokens / 0-1 bits when ``discrete``).
    mask:    ``[batch, time]`` bool, True = observed (default: all True).
    context: ``[batch, time, input_dim]`` given inputs, required iff ``input_dim > 0``.

    Masked steps of the returned ``x`` are zero-filled, so no model can read data a mask hides.
    Raises ShapeError (shapes), DataError (dtype, NaN/inf, empty, values outside ``support``).
    """
    if not isinstance(x, torch.Tensor):
        raise DataError(argument, f"expected a torch.Tensor, got {type(x).__name__}", "convert with torch.as_tensor")
    want = "[batch, time" + "".join(f", {d}" for d in obs_shape) + "]"
    if x.dim() != 2 + len(obs_shape) or tuple(x.shape[2:]) != tuple(obs_shape):
        raise ShapeError(argument, want, tuple(x.shape), fix_obs)
    if x.shape[0] == 0:
        raise DataError(argument, "the batch is empty (batch size 0)", "pass at least one sequence")
    if x.shape[1] == 0:
        raise DataError(argument, "sequences have zero length (time = 0)", "pass at least one time step")
    if discrete:
        if x.is_floating_point():
            if not torch.equal(x.round(), x) and torch.isfinite(x).all():
                raise DataError(argument, f"expected integer values, got non-integer floats ({x.dtype})", "pass tokens/bits as integers")
    elif not x.is_floating_point():
        raise DataError(argument, f"expected a floating-point tensor, got dtype {x.dtype}", "call x.float()")
    if x.is_floating_point() and not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        raise DataError(argument, f"contains NaN or inf (first at index {tuple(bad)})", "clean or mask the data before passing it")

    every_step = mask is None  # no hidden steps: nothing to zero-fill or select
    if every_step:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    else:
        if not isinstance(mask, torch.Tensor):
            raise DataError("mask", f"expected a bool torch.Tensor, got {type(mask).__name__}", "pass mask as a tensor")
        if tuple(mask.shape) != tuple(x.shape[:2]):
            raise ShapeError("mask", f"[batch={x.shape[0]}, time={x.shape[1]}]", tuple(mask.shape), "give one flag per (sequence, step) of x")
        if mask.dtype != torch.bool:
            if mask.is_floating_point() or not torch.isin(mask, mask.new_tensor([0, 1])).all():
                raise DataError("mask", f"expected dtype torch.bool, got {mask.dtype}", "pass mask.bool()")
            mask = mask.bool()
        if not mask.any(dim=1).all():
            row = int((~mask.any(dim=1)).nonzero()[0])
            raise DataError("mask", f"sequence {row} has no observed step", "drop empty sequences from the batch")
        every_step = bool(mask.all())
    if every_step:
        observed = x
    else:
        m = mask.reshape((mask.shape[0], mask.shape[1]) + (1,) * len(obs_shape))
        x = torch.where(m, x, torch.zeros((), dtype=x.dtype, device=x.device))  # hidden steps read as 0
        observed = x[mask]
    if observed.numel() and not bool(support.check(observed.float() if discrete and not observed.is_floating_point() else observed).all()):
        raise DataError(argument, f"has values outside the decoder's support {support}", "match the decoder to the data (e.g. Bernoulli needs 0/1, Categorical needs 0 <= token < vocab)")

    if input_dim > 0:
        if context is None:
            raise ShapeError("context", f"[batch, time, input_dim={input_dim}]", "None", "pass the per-step inputs this model was built for")
        if tuple(context.shape) != (x.shape[0], x.shape[1], input_dim):
            raise ShapeError("context", f"[batch={x.shape[0]}, time={x.shape[1]}, input_dim={input_dim}]", tuple(context.shape), "give one input vector per step of x")
        if not context.is_floating_point() or not torch.isfinite(context).all():
            raise DataError("context", "must be a finite floating-point tensor", "clean the inputs")
    elif context is not None:
        raise ShapeError("context", "None (this model takes no inputs)", tuple(context.shape), "build the agent with input_dim > 0")
    return x, mask, lengths_from_mask(mask), context
