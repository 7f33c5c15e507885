"""Masks and padding, in one place: which steps count, and how hidden steps are kept harmless.

Conventions (``seqgen.SequenceModel``): ``mask[b, t]`` is True where ``x[b, t]`` is observed;
``lengths[b]`` is the last observed step plus one. Likelihood terms count observed steps; latent
(KL) terms count ``t < lengths[b]``; nothing at or past a sequence's length reaches any result.
Shapes here are time-major: ``[time, N, …]``.
"""

from __future__ import annotations

import torch

__all__ = ["reverse_within_length", "latent_steps"]


def reverse_within_length(u: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``u: [time, N, *] -> v`` with ``v[t, n] = u[lengths[n] - 1 - t, n]`` for ``t < lengths[n]``,
    ``v[t, n] = u[t, n]`` otherwise. It is its own inverse, so ``rev(rnn(rev(u)))`` is a backward
    RNN whose output at ``t < length`` reads steps ``t … length-1`` only, never the padding."""
    time, n = u.shape[:2]
    steps = torch.arange(time, device=u.device).unsqueeze(1)  # [time, 1]
    lengths = lengths.to(u.device).unsqueeze(0)  # [1, N]
    idx = torch.where(steps < lengths, lengths - 1 - steps, steps.expand(time, n))  # [time, N]
    return u.gather(0, idx.reshape(time, n, *([1] * (u.dim() - 2))).expand_as(u))


def latent_steps(lengths: torch.Tensor, time: int) -> torch.Tensor:
    """``[time, N]`` bool, True at ``t < lengths[n]``: the steps whose latents count."""
    return torch.arange(time, device=lengths.device).unsqueeze(1) < lengths.unsqueeze(0)

