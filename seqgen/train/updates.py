"""One optimizer update per minibatch, for each objective kind (DESIGN §4).

- :class:`GradientUpdate`: ``loss_fn(batch, β_t)`` (β_t from the KL schedule), backward (through
  DistributedDataParallel under torchrun), clip by global norm, step the one optimizer.
- :class:`PhasedUpdate`: for each phase in order: zero *every* gradient, ``loss_fn(batch)``,
  backward, average the phase's gradients across processes, clip them, step only that phase's
  optimizer (so gradients a loss sends to other groups are dropped, as in adversarial training).
- :class:`LocalRuleUpdate`: ``statistics_fn(batch)`` under ``torch.no_grad``; its ``grads``
  (descent directions) are written into ``param.grad`` (parameters without an entry keep
  ``grad = None`` and are not stepped), averaged across processes, clipped, and stepped.

Every update returns a :class:`StepOutput` of detached tensors; nothing here syncs with the
host except the non-finite check (:class:`NonfiniteGuard`), which does so only where it is free
(CPU) or needed (``on_nonfinite='skip'``).
"""

from __future__ import annotations

import difflib
from typing import Callable, ContextManager, Dict, List, Optional, Sequence, Tuple

import attrs
import torch
from torch import nn

from ..data.batch import SeqBatch
from ..errors import ShapeError, TrainingError
from .config import TrainConfig
from .distributed import DistContext, LossModule, reduce_grads
from .metrics import stack_metrics
from .optim import OptimSlot
from .schedules import kl_weight

__all__ = ["StepOutput", "NonfiniteGuard", "GradientUpdate", "PhasedUpdate", "LocalRuleUpdate"]


@attrs.frozen
class StepOutput:
    """One step's results (detached, on the training device).

    losses: ``[num_phases]`` (``[1]`` unless phased); metric_values: ``[k]`` per-step averages named
    by metric_names; n: observed steps in the batch (scalar); kl_weight: β used (None if unused);
    applied: False when the step was skipped for a non-finite value (its metrics are not counted).
    """

    losses: torch.Tensor
    metric_names: Tuple[str, ...]
    metric_values: torch.Tensor
    n: torch.Tensor
    kl_weight: Optional[float] = None
    applied: bool = True


class NonfiniteGuard:
    """Finds a NaN/inf loss, loss term or gradient norm, and raises or skips (``on_nonfinite``).

    ``check(step, names, values)`` returns True when the optimizer may step. It looks at the
    values at once when that costs no stall (CPU) or when a skip must be decided now; otherwise
    (CUDA with ``'raise'``) it keeps them and :meth:`flush` looks at them at the next log,
    evaluation or checkpoint, still naming the first bad step and term, and before any
    checkpoint is written, so the last good checkpoint stays intact. Under torchrun every
    process reaches the same decision (the flags are max-reduced).
    """

    def __init__(self, mode: str, *, immediate: bool, ctx: DistContext, where: str):
        self.mode, self.immediate, self.ctx, self.where = mode, immediate or mode == "skip", ctx, where
        self._pending: List[Tuple[int, Tuple[str, ...], torch.Tensor]] = []

    def check(self, step: int, names: Tuple[str, ...], values: torch.Tensor) -> bool:
        if not self.immediate:
            self._pending.append((step, names, values))
            return True
        if not self.ctx.enabled and bool(torch.isfinite(values).all()):  # the common case: one small op
            return True
        bad = self.ctx.all_reduce_max_((~torch.isfinite(values)).float())  # [k]
        if not bool(bad.any()):
            return True
        if self.mode == "skip":
            return False
        raise self._error(step, names, values, bad)

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        flags = [self.ctx.all_reduce_max_((~torch.isfinite(v)).float()) for _, _, v in pending]
        any_bad = torch.stack([f.any() for f in flags]).tolist()
        for (step, names, values), bad, is_bad in zip(pending, flags, any_bad):
            if is_bad:
                raise self._error(step, names, values, bad)

    def _error(self, step: int, names: Sequence[str], values: torch.Tensor, bad: torch.Tensor) -> TrainingError:
        i = int(bad.nonzero()[0])
        local = float(values[i])
        where = " (on another process)" if torch.isfinite(values[i]) else ""
        return TrainingError(
            step,
            f"{names[i]}{where}",
            local,
            f"{self.where}; lower lr, set grad_clip, check the data for extreme values, "
            "or set on_nonfinite='skip' to skip such batches",
        )


def _checks(prefix: str, loss: torch.Tensor, terms, grad_norm: Optional[torch.Tensor]) -> Tuple[Tuple[str, ...], torch.Tensor]:
    """Named scalars to test for finiteness; terms first, so the message names the culprit."""
    names = [f"{prefix}loss term {k!r}" for k in terms] + [f"{prefix}loss"]
    values = [_f32_scalar(t) for t in terms.values()] + [_f32_scalar(loss)]
    if grad_norm is not None:
        names.append(f"{prefix}gradient norm")
        values.append(_f32_scalar(grad_norm))
    return tuple(names), torch.stack(values)


def _f32_scalar(t: torch.Tensor) -> torch.Tensor:
    t = t.detach()
    if t.dim():
        t = t.sum()  # NaN/inf anywhere in a non-scalar term shows in its sum
    return t if t.dtype == torch.float32 else t.float()


class _Update:
    def __init__(self, model: nn.Module, config: TrainConfig, ctx: DistContext, guard: NonfiniteGuard, autocast: Callable[[], ContextManager]):
        self.model, self.config, self.ctx, self.guard, self.autocast = model, config, ctx, guard, autocast

    def _weight(self, batch: SeqBatch) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``(n_r, n_r / N)``: this process's observed steps and its share of the global batch."""
        n = batch.num_observed.float()
        if not self.ctx.enabled:
            return n, None
        total = self.ctx.all_reduce_(n.clone())
        return n, n / total

    def _clip(self, params) -> Optional[torch.Tensor]:
        clip = self.config.clip_norm
        return None if clip is None else torch.nn.utils.clip_grad_norm_(params, clip)

    def _apply(self, slot: OptimSlot, step: int, names, values) -> bool:
        """Step ``slot`` unless the guard says skip; advance its LR schedule either way."""
        ok = self.guard.check(step, names, values)
        if ok:
            if slot.scaler is not None:
                slot.scaler.step(slot.optimizer)
            else:
                slot.optimizer.step()
        else:
            slot.optimizer.zero_grad(set_to_none=True)
        if slot.scaler is not None:
            slot.scaler.update()
        slot.scheduler.step()
        return ok


class GradientUpdate(_Update):
    """One differentiable loss, one optimizer (see the module docstring)."""

    def __init__(self, model, config, ctx, guard, autocast, *, objective, slot: OptimSlot):
        super().__init__(model, config, ctx, guard, autocast)
        self.slot = slot
        self.forward = objective.loss_fn
        if ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel

            device = next(model.parameters()).device
            self.ddp = DistributedDataParallel(
                LossModule(model, objective.loss_fn),
                device_ids=[device] if device.type == "cuda" else None,
                find_unused_parameters=config.ddp_find_unused_parameters,
            )

    def __call__(self, batch: SeqBatch, step: int) -> StepOutput:
        slot = self.slot
        slot.optimizer.zero_grad(set_to_none=True)
        beta = kl_weight(self.config, step)
        n, share = self._weight(batch)
        with self.autocast():
            if share is None:
                out = self.forward(batch, beta)
                loss, metrics, terms = out.loss, out.metrics, out.terms
            else:
                loss, metrics, terms = self.ddp(batch, beta)
        scaled = loss if share is None else loss * (share * self.ctx.world_size)  # DDP divides by W
        if slot.scaler is not None:
            slot.scaler.scale(scaled).backward()
            slot.scaler.unscale_(slot.optimizer)
        else:
            scaled.backward()
        norm = self._clip(slot.params)
        # With fp16 an inf gradient is the GradScaler's business (it skips and rescales).
        names, values = _checks("", loss, terms, None if slot.scaler is not None else norm)
        applied = self._apply(slot, step + 1, names, values)
        metric_names, metric_values = stack_metrics(metrics, loss)
        return StepOutput(loss.detach().float().reshape(1), metric_names, metric_values, n, beta, applied)


class PhasedUpdate(_Update):
    """Named phases in order, each stepping only its own group (see the module docstring)."""

    def __init__(self, model, config, ctx, guard, autocast, *, objective, slots: Dict[str, OptimSlot]):
        super().__init__(model, config, ctx, guard, autocast)
        self.phases = tuple((phase, slots[phase.name]) for phase in objective.phases)

    def __call__(self, batch: SeqBatch, step: int) -> StepOutput:
        n, share = self._weight(batch)
        losses, names, values = [], [], []
        for i, (phase, slot) in enumerate(self.phases):
            self.model.zero_grad(set_to_none=True)
            for p in slot.params:  # a group may hold parameters outside the model
                p.grad = None
            with self.autocast():
                out = phase.loss_fn(batch)
            loss = out.loss if share is None else out.loss * share
            if slot.scaler is not None:
                slot.scaler.scale(loss).backward()
            else:
                loss.backward()
            reduce_grads(slot.params, None, self.ctx)  # the shares n_r / N are already in the loss
            if slot.scaler is not None:
                slot.scaler.unscale_(slot.optimizer)
            norm = self._clip(slot.params)
            prefix = f"phase {phase.name!r} "
            check_names, check_values = _checks(prefix, out.loss, out.terms, None if slot.scaler is not None else norm)
            if not self._apply(slot, step + 1, check_names, check_values):
                for _, rest in self.phases[i + 1 :]:  # skip the whole batch; keep the schedules in step
                    rest.scheduler.step()
                self.model.zero_grad(set_to_none=True)
                nan = out.loss.detach().float().new_full((len(self.phases),), float("nan"))
                return StepOutput(nan, (), nan[:0], n, None, False)
            losses.append(out.loss.detach().float())
            m_names, m_values = stack_metrics(out.metrics, out.loss)
            names.extend(f"{phase.name}/{k}" for k in m_names)
            values.append(m_values)
        self.model.zero_grad(set_to_none=True)
        return StepOutput(torch.stack(losses), tuple(names), torch.cat(values), n, None, True)


class LocalRuleUpdate(_Update):
    """Descent directions from local statistics, stepped by TrainOps' optimizer (see the module docstring)."""

    def __init__(self, model, config, ctx, guard, autocast, *, objective, slot: OptimSlot):
        super().__init__(model, config, ctx, guard, autocast)
        self.slot = slot
        self.statistics_fn = objective.statistics_fn
        self.named = dict(model.named_parameters())

    def __call__(self, batch: SeqBatch, step: int) -> StepOutput:
        slot = self.slot
        n, share = self._weight(batch)
        with torch.no_grad():
            with self.autocast():
                out = self.statistics_fn(batch)
            slot.optimizer.zero_grad(set_to_none=True)
            stepped = []
            for name, direction in sorted((out.grads or {}).items()):
                param = self.named.get(name)
                if param is None:
                    near = difflib.get_close_matches(name, list(self.named), n=1)
                    raise TrainingError(
                        step + 1,
                        f"statistics_fn grads key {name!r}",
                        "not a parameter of the model",
                        f"use names from model.named_parameters(){f', e.g. {near[0]!r}' if near else ''}",
                    )
                if tuple(direction.shape) != tuple(param.shape):
                    raise ShapeError(f"grads[{name!r}]", tuple(param.shape), tuple(direction.shape), "return a descent direction shaped like the parameter")
                param.grad = direction.detach().to(device=param.device, dtype=param.dtype, copy=True)
                stepped.append(param)
            if share is not None:
                reduce_grads(stepped, share, self.ctx)
            clip = self.config.clip_norm
            norm = None
            if stepped:
                norm = torch.nn.utils.clip_grad_norm_(stepped, clip) if clip else torch.nn.utils.get_total_norm([p.grad for p in stepped])
        names, values = _checks("", out.loss, out.terms, norm)
        applied = self._apply(slot, step + 1, names, values)
        metric_names, metric_values = stack_metrics(out.metrics, out.loss)
        return StepOutput(out.loss.detach().float().reshape(1), metric_names, metric_values, n, None, applied)
