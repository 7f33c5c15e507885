"""Optimizers and LR schedulers for each objective kind, one "slot" per optimizer.

- ``GradientObjective`` and ``LocalRuleObjective``: one slot, ``'main'``, over every trainable
  parameter of the model (a local rule's parameters without a direction are simply not stepped:
  their ``grad`` stays ``None``).
- ``PhasedObjective``: one slot per phase, named after it, over that phase's parameter group,
  with the phase's ``optimizer``/``lr``/``betas`` where given and the TrainConfig's otherwise.

Slot names are the keys under which checkpoints store each optimizer and scheduler.
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional, Tuple

import attrs
import torch
from torch import nn

from ..errors import ConfigError
from .objectives import GradientObjective, LocalRuleObjective, Objective, PhasedObjective
from .config import OPTIMIZERS, TrainConfig
from .schedules import LRHorizon, make_lr_scheduler

__all__ = ["OptimSlot", "make_optimizer", "build_slots", "move_optimizer_state"]


@attrs.define
class OptimSlot:
    """One optimizer: its name, parameters, ``torch.optim`` optimizer, LambdaLR and (fp16) GradScaler."""

    name: str
    params: Tuple[nn.Parameter, ...]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: Optional[object] = None


def make_optimizer(
    params: Iterable[nn.Parameter],
    *,
    name: str,
    lr: float,
    betas: Tuple[float, float],
    weight_decay: float,
    momentum: float,
    owner: str = "optimizer",
) -> torch.optim.Optimizer:
    """``'adam' | 'adamw' | 'sgd'`` -> a ``torch.optim`` optimizer over ``params``.

    Adam and AdamW use torch's fused kernel when every parameter is a floating-point tensor on
    the CPU or a CUDA device (one kernel for all parameters: on a small recurrent model on one
    CPU thread, ``step`` falls from about 1.5 ms to 0.3 ms); otherwise the default implementation.
    """
    params = list(params)
    if name not in OPTIMIZERS:
        raise ConfigError(owner, f"'{owner}' must be one of {', '.join(map(repr, OPTIMIZERS))} (got {name!r})")
    fused = bool(params) and all(p.dtype.is_floating_point and p.device.type in ("cpu", "cuda") for p in params) or None
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay, fused=fused)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay, fused=fused)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _trainable(model: nn.Module, what: str) -> Tuple[nn.Parameter, ...]:
    params = tuple(p for p in model.parameters() if p.requires_grad)
    if not params:
        raise ConfigError(
            "model",
            f"{type(model).__name__} has no trainable parameters ({what})",
            "give the model parameters with requires_grad=True",
        )
    return params


def build_slots(objective: Objective, model: nn.Module, config: TrainConfig, horizon: LRHorizon) -> Dict[str, OptimSlot]:
    """The optimizer slots ``objective`` needs (see the module docstring)."""

    def slot(name, params, opt_name, lr, betas, owner):
        opt = make_optimizer(
            params, name=opt_name, lr=lr, betas=betas, weight_decay=config.weight_decay, momentum=config.momentum, owner=owner
        )
        return OptimSlot(name=name, params=tuple(params), optimizer=opt, scheduler=make_lr_scheduler(opt, config, horizon))

    if isinstance(objective, (GradientObjective, LocalRuleObjective)):
        params = _trainable(model, "every parameter is trained by one optimizer")
        return {"main": slot("main", params, config.optimizer, config.lr, config.betas, "optimizer")}
    if isinstance(objective, PhasedObjective):
        slots: Dict[str, OptimSlot] = {}
        for phase in objective.phases:
            params = tuple(p for p in phase.parameters if p.requires_grad)
            if not params:
                raise ConfigError(
                    f"phases[{phase.name!r}].parameters",
                    f"phase {phase.name!r} has no trainable parameters",
                    "give each phase the parameter group it steps",
                )
            if phase.lr is not None and not phase.lr > 0:
                raise ConfigError(f"phases[{phase.name!r}].lr", f"'lr' of phase {phase.name!r} must be > 0 (got {phase.lr!r})")
            slots[phase.name] = slot(
                phase.name,
                params,
                phase.optimizer or config.optimizer,
                phase.lr if phase.lr is not None else config.lr,
                phase.betas if phase.betas is not None else config.betas,
                f"phases[{phase.name!r}].optimizer",
            )
        return slots
    raise ConfigError(
        "objective",
        f"objective: expected a GradientObjective, PhasedObjective or LocalRuleObjective, got {type(objective).__name__}",
        "return one of seqgen's objective kinds from model.objective()",
    )


def move_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """Move every state tensor of ``optimizer`` to its parameter's device (after the model moved).

    Adam's ``step`` counter stays where ``torch.optim`` expects it (a CPU scalar unless
    ``capturable``/``fused``), so only tensors shaped like their parameter move.
    """
    for param, state in optimizer.state.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.device != param.device and value.dim() > 0:
                state[key] = value.to(param.device)
