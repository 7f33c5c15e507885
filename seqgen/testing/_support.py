"""Values that fit a support constraint: the one place that reads a constraint's kind.

Both the hypothesis strategies (:mod:`seqgen.testing.strategies`) and the seeded conformance
checks draw observations through :func:`support_kind`, so they agree on what "data this
model accepts" means:

=====================================  ===================================================
support                                values drawn
=====================================  ===================================================
``boolean``                            0/1 as floats (Bernoulli bits)
``integer_interval(lo, hi)``           long tokens in ``[lo, hi]`` (Categorical)
``nonnegative_integer`` and the like   long counts in ``[lb, lb + 4]``
``interval(lo, hi)`` (``unit_interval``,
``half_open_interval``)                floats strictly inside, 1% away from either end
                                       (Beta(2, 2)-like: a Beta decoder's log-density stays finite)
``greater_than(lb)`` (``positive``)    floats in ``(lb, lb + 10]``
``real``                               finite floats in ``[-10, 10]`` (strategies) or
                                       standard normal (seeded checks)
``independent(c, n)``                  as ``c``
=====================================  ===================================================
"""

from __future__ import annotations

from typing import Tuple

import attrs
import torch
from torch.distributions import constraints

from ..errors import ConfigError

__all__ = ["SupportKind", "support_kind", "random_values"]

_REAL_BOUND = 10.0  # 'real' draws stay within +-10 so a freshly built model stays in range
_EDGE = 0.01  # fraction of an interval kept clear of each end


@attrs.frozen
class SupportKind:
    """What to draw: ``integer`` values (long, or 0/1 floats when ``bits``) in ``[low, high]``."""

    integer: bool
    low: float
    high: float
    bits: bool = False


def support_kind(support: constraints.Constraint, *, argument: str = "support") -> SupportKind:
    """Classify ``support`` (see the module table); ConfigError for one no strategy covers."""
    while isinstance(support, constraints._IndependentConstraint):
        support = support.base_constraint
    if isinstance(support, constraints._Boolean):
        return SupportKind(integer=True, low=0, high=1, bits=True)
    if isinstance(support, constraints._IntegerInterval):
        return SupportKind(integer=True, low=int(support.lower_bound), high=int(support.upper_bound))
    if isinstance(support, constraints._IntegerGreaterThan):
        lb = int(support.lower_bound)
        return SupportKind(integer=True, low=lb, high=lb + 4)
    if isinstance(support, (constraints._Interval, constraints._HalfOpenInterval)):
        lo, hi = float(support.lower_bound), float(support.upper_bound)
        pad = _EDGE * (hi - lo)
        return SupportKind(integer=False, low=lo + pad, high=hi - pad)
    if isinstance(support, (constraints._GreaterThan, constraints._GreaterThanEq)):
        lb = float(support.lower_bound)
        return SupportKind(integer=False, low=lb + _EDGE, high=lb + _REAL_BOUND)
    if isinstance(support, constraints._Real):
        return SupportKind(integer=False, low=-_REAL_BOUND, high=_REAL_BOUND)
    raise ConfigError(
        argument,
        f"{argument}: expected boolean, integer_interval, interval, greater_than or real, got {support}",
        "draw such observations with your own strategy and wrap them with SeqBatch.from_tensor",
    )


def random_values(
    support: constraints.Constraint,
    shape: Tuple[int, ...],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Seeded draws (torch's global RNG) inside ``support``: ``shape`` tensor.

    Floats (and 0/1 bits) come out as ``dtype``, integer tokens as ``torch.long``; interval
    values are ``low + (high - low) * Beta(2, 2)`` so they avoid the ends.
    """
    kind = support_kind(support)
    if kind.bits:
        return torch.bernoulli(torch.full(shape, 0.5, dtype=dtype, device=device))
    if kind.integer:
        return torch.randint(int(kind.low), int(kind.high) + 1, shape, device=device)
    if kind.low == -_REAL_BOUND and kind.high == _REAL_BOUND:
        return torch.randn(shape, dtype=dtype, device=device)
    u = torch.distributions.Beta(torch.tensor(2.0, dtype=dtype, device=device), torch.tensor(2.0, dtype=dtype, device=device))
    return kind.low + (kind.high - kind.low) * u.sample(shape)
