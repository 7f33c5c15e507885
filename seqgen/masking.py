"""Mask helpers for model authors: keep hidden steps harmless inside a log-density.

The :class:`~seqgen.SequenceModel` base zero-fills hidden steps (``mask == False``) before any model
code runs, so no model reads data a mask hides. But 0 can sit outside a distribution's support
(a Beta's edge, or inside a :class:`~seqgen.GroupDistribution` whose parts differ), where
``log_prob`` is infinite or raises, and ``0 · inf`` makes a NaN gradient even after masking.
:func:`fill_hidden` puts an in-support value there first; the result is then masked out.
"""

from __future__ import annotations

import torch

from .components.decoders import GroupDistribution

__all__ = ["fill_hidden", "safe_value"]


def safe_value(dist: torch.distributions.Distribution, x: torch.Tensor) -> torch.Tensor:
    """A value inside ``dist``'s support shaped like ``x``: 0 for discrete parts, the (detached)
    mean for continuous ones, each part of a GroupDistribution on its own slice."""
    if isinstance(dist, GroupDistribution):  # a concatenation: fill each part on its own slice
        parts = [safe_value(p, x[..., s]) for p, s in zip(dist.parts.values(), dist.slices.values())]
        return torch.cat(parts, dim=-1)
    if dist.support.is_discrete:
        return torch.zeros_like(x)
    try:
        return dist.mean.detach().to(x.dtype).expand_as(x)
    except NotImplementedError:
        return torch.zeros_like(x)


def fill_hidden(dist: torch.distributions.Distribution, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x`` with hidden steps set to :func:`safe_value`; ``x: [*lead, *obs]``, ``mask: [*lead]``.

    ``dist`` has batch shape ``lead`` (any layout: batch-first or time-major).
    """
    if bool(mask.all()):
        return x
    m = mask.reshape(mask.shape + (1,) * (x.dim() - mask.dim()))  # [*lead, 1…]
    return torch.where(m, x, safe_value(dist, x))
