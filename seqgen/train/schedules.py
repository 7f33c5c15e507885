"""KL-annealing weights and learning-rate schedules, as pure functions of the step.

Both are functions of ``step`` (the number of optimizer steps already taken), never of hidden
state, so a resumed run recomputes exactly the values the uninterrupted run would have used.

KL annealing (the weight ``β_t`` in ``loss = rec + β_t · KL``), with floor ``f`` and span ``T``
(``kl_warmup_steps``):

- ``none``:    ``β_t = 1``.
- ``linear``:  ``β_t = f + (1 - f) · min(1, t / T)`` (Bowman et al. 2016, "Generating sentences
  from a continuous space", with a floor so the KL term is never switched off entirely).
- ``sigmoid``: ``β_t = f + (1 - f) · (σ(k(t/T - ½)) - σ(-k/2)) / (σ(k/2) - σ(-k/2))`` with ``k = 10``:
  a logistic ramp rescaled to start exactly at ``f`` and reach 1 at ``t = T``.
- ``cyclic``:  Fu et al. 2019, "Cyclical annealing schedule: a simple approach to mitigating KL
  vanishing": ``M`` cycles of length ``L = T / M``; with ``τ = (t mod L) / L``,
  ``β_t = f + (1 - f) · min(1, τ / R)`` for ``t < T`` and ``β_t = 1`` afterwards (``R`` =
  ``kl_cycle_ratio``, the fraction of each cycle spent increasing).

Learning rate: a factor ``λ(t)`` of the base rate, applied through
``torch.optim.lr_scheduler.LambdaLR``. A linear warmup ``λ(t) = min(1, (t + 1) / W)`` over
``W = lr_warmup_steps`` steps comes first; then, with ``s = t - W`` and horizon ``S = total - W``:

- ``constant``:      ``λ = 1``.
- ``cosine``/``warmup_cosine``: ``λ = m + (1 - m) · ½(1 + cos(π · min(1, s / S)))`` (Loshchilov &
  Hutter 2017, SGDR, without restarts; ``m = lr_min_factor``). ``warmup_cosine`` requires ``W > 0``.
- ``step``:          ``λ = γ ** (s // step_size)``.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch

from .config import TrainConfig

__all__ = ["kl_weight", "lr_factor", "LRHorizon", "make_lr_scheduler"]

_SIGMOID_SHARPNESS = 10.0


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def kl_weight(config: TrainConfig, step: int) -> float:
    """The KL weight ``β`` for the update that follows ``step`` completed steps (see the module docstring)."""
    schedule, floor, span = config.kl_schedule, config.kl_floor, config.kl_warmup_steps
    if schedule == "none" or step >= span:
        return 1.0
    if schedule == "linear":
        ramp = step / span
    elif schedule == "sigmoid":
        k = _SIGMOID_SHARPNESS
        lo, hi = _sigmoid(-k / 2), _sigmoid(k / 2)
        ramp = (_sigmoid(k * (step / span - 0.5)) - lo) / (hi - lo)
    else:  # cyclic
        cycle = span / config.kl_cycles
        tau = (step % cycle) / cycle
        ramp = min(1.0, tau / config.kl_cycle_ratio)
    return floor + (1.0 - floor) * min(1.0, max(0.0, ramp))


class LRHorizon:
    """The total number of steps a run plans (set by ``TrainOps.fit`` once the data is known).

    The LR schedule reads it on every step, so a cosine decay spans the run actually planned.
    ``None`` means not known yet: the cosine factor is then 1 (its value at the start).
    """

    def __init__(self, total_steps: Optional[int] = None):
        self.total_steps = total_steps


def lr_factor(config: TrainConfig, step: int, total_steps: Optional[int]) -> float:
    """``λ(step)``, the multiple of the base learning rate used by the update after ``step`` steps."""
    warm = config.lr_warmup_steps
    if step < warm:
        return (step + 1) / warm
    s = step - warm
    if config.lr_schedule == "constant":
        return 1.0
    if config.lr_schedule == "step":
        return config.lr_gamma ** (s // config.lr_step_size)
    if total_steps is None:  # cosine before the horizon is known: its starting value
        return 1.0
    horizon = max(1, total_steps - warm)
    progress = min(1.0, s / horizon)
    m = config.lr_min_factor
    return m + (1.0 - m) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _factor_fn(config: TrainConfig, horizon: LRHorizon) -> Callable[[int], float]:
    def factor(step: int) -> float:
        return lr_factor(config, step, horizon.total_steps)

    return factor


def make_lr_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, horizon: LRHorizon) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` applying :func:`lr_factor`; ``scheduler.step()`` once per optimizer step.

    The factor is a plain function, so ``LambdaLR.state_dict()`` holds only numbers (no pickled
    callables) and a checkpoint can store it as JSON.
    """
    return torch.optim.lr_scheduler.LambdaLR(optimizer, _factor_fn(config, horizon))
