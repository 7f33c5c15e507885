"""What a model hands TrainOps: one of three objective kinds (DESIGN §4).

- :class:`GradientObjective`: one differentiable loss; TrainOps backpropagates it, clips by
  global norm and steps one optimizer. ``loss_fn(batch, kl_weight)`` receives the current KL
  annealing weight from TrainOps' schedule (models without a KL term ignore it).
- :class:`PhasedObjective`: named phases run in order on every minibatch, each with its own
  parameter group, optimizer and learning rate (adversarial autoencoders: reconstruction,
  discriminator, generator).
- :class:`LocalRuleObjective`: no backpropagation. ``statistics_fn(batch)`` runs under
  ``torch.no_grad`` and returns, for each parameter it trains, a *descent direction* shaped like
  the parameter (the negative of the local rule's ascent statistic). TrainOps writes these into
  ``param.grad``, averages them across processes, and steps its optimizer — so devices,
  distribution, optimizer state and checkpoints stay TrainOps' job, while the model computes its
  own update from local statistics.

Every ``*_fn`` returns a :class:`LossOutput`. ``metrics`` values are per-observed-step averages
over the batch (or plain batch means for non-sequence quantities); TrainOps weights them by
``batch.num_observed`` when it averages over an epoch, so epoch figures are exact per-step values.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Mapping, Optional, Tuple

import attrs
import torch

from ..data.batch import SeqBatch

__all__ = ["LossOutput", "Objective", "GradientObjective", "Phase", "PhasedObjective", "LocalRuleObjective"]


@attrs.frozen(kw_only=True)
class LossOutput:
    """One batch's result.

    loss:    scalar tensor to minimise (for LocalRuleObjective: a monitoring scalar, not differentiated).
    metrics: name -> scalar (tensor or float) to log, per observed step where that applies.
             Names ending in ``_bound`` are bounds; ``nll`` is exact.
    terms:   the named pieces of ``loss`` (e.g. ``{'nll': …, 'kl': …}``), so a NaN guard can say which.
    grads:   LocalRuleObjective only: parameter name -> descent direction, shaped like the parameter.
    """

    loss: torch.Tensor
    metrics: Mapping[str, torch.Tensor | float] = attrs.field(factory=dict)
    terms: Mapping[str, torch.Tensor] = attrs.field(factory=dict)
    grads: Optional[Mapping[str, torch.Tensor]] = None


class Objective:
    """Base of the three objective kinds. ``eval_fn(batch) -> LossOutput`` gives evaluation metrics."""

    eval_fn: Callable[[SeqBatch], LossOutput]


@attrs.frozen(kw_only=True)
class GradientObjective(Objective):
    """One differentiable loss. ``loss_fn(batch, kl_weight) -> LossOutput``.

    ``eval_fn(batch) -> LossOutput`` defaults to ``loss_fn(batch, 1.0)`` (the unannealed objective).
    """

    loss_fn: Callable[[SeqBatch, float], LossOutput]
    eval_fn: Optional[Callable[[SeqBatch], LossOutput]] = None

    def evaluate(self, batch: SeqBatch) -> LossOutput:
        return self.eval_fn(batch) if self.eval_fn is not None else self.loss_fn(batch, 1.0)


@attrs.frozen(kw_only=True)
class Phase:
    """One phase of a PhasedObjective.

    name:       e.g. ``'reconstruction'``; used in logs and as the optimizer's key in checkpoints.
    parameters: the parameter group this phase's optimizer steps (a tuple of ``nn.Parameter``).
    loss_fn:    ``loss_fn(batch) -> LossOutput``; gradients reach other parameters too, but only this
                group is stepped (TrainOps zeroes all grads before each phase).
    lr:         this phase's learning rate (None: TrainConfig.lr).
    optimizer:  ``'adam'`` | ``'adamw'`` | ``'sgd'`` (None: TrainConfig.optimizer).
    betas:      Adam betas for this phase (None: the optimizer's defaults).
    """

    name: str
    parameters: Tuple[torch.nn.Parameter, ...] = attrs.field(converter=tuple)
    loss_fn: Callable[[SeqBatch], LossOutput]
    lr: Optional[float] = None
    optimizer: Optional[str] = None
    betas: Optional[Tuple[float, float]] = None


@attrs.frozen(kw_only=True)
class PhasedObjective(Objective):
    """Named phases, run in order on every minibatch. ``eval_fn(batch) -> LossOutput``."""

    phases: Tuple[Phase, ...] = attrs.field(converter=tuple)
    eval_fn: Callable[[SeqBatch], LossOutput]

    def __attrs_post_init__(self):
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"phases: expected distinct names, got {names}")

    def evaluate(self, batch: SeqBatch) -> LossOutput:
        return self.eval_fn(batch)


@attrs.frozen(kw_only=True)
class LocalRuleObjective(Objective):
    """A model that updates itself from local statistics (no backprop).

    ``statistics_fn(batch) -> LossOutput`` is called under ``torch.no_grad``; its ``grads`` maps
    parameter names (as in ``model.named_parameters()``) to descent directions. Parameters absent
    from ``grads`` are not stepped. ``eval_fn(batch) -> LossOutput`` gives evaluation metrics.
    """

    statistics_fn: Callable[[SeqBatch], LossOutput]
    eval_fn: Callable[[SeqBatch], LossOutput]

    def evaluate(self, batch: SeqBatch) -> LossOutput:
        return self.eval_fn(batch)
