"""Metric bookkeeping for TrainOps: observed-step-weighted averages, and the ``History`` of a run.

A batch's metric ``m_b`` is a per-observed-step average over its ``n_b`` observed steps
(``batch.num_observed``), so an epoch (or window) figure is the weighted mean

    m = Σ_b n_b m_b / Σ_b n_b

which equals the per-step average over every observed step, whatever the batch sizes and
padding. :class:`Accumulator` keeps ``Σ n_b m_b`` and ``Σ n_b`` as tensors on the training
device, so a step costs two in-place adds and no host sync; the sync happens when a result is
read (at log and evaluation intervals), where the sums are also reduced across processes.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

from .distributed import DistContext

__all__ = ["History", "Accumulator", "stack_metrics"]


class History(list):
    """A run's evaluation records: a list of dicts, one per evaluation, oldest first.

    Each record holds ``step`` and ``epoch`` (completed epochs), ``train/<name>`` (the training
    metrics averaged since the previous evaluation) and, when validation data was given,
    ``valid/<name>`` (names as the model's objective gives them: ``nll`` is exact, names ending
    in ``_bound`` are bounds). Attributes:

    losses:       the training loss of every step run by this ``TrainOps`` object, in order
                  (the sum over phases for a PhasedObjective; NaN for a skipped step)
    phase_losses: PhasedObjective only: phase name -> per-step losses
    start_step:   the global step before ``losses[0]`` (non-zero after ``TrainOps.resume``)
    skipped:      steps skipped because of a non-finite loss (``on_nonfinite='skip'``)
    """

    def __init__(self, records=()):
        super().__init__(records)
        self.losses: List[float] = []
        self.phase_losses: Dict[str, List[float]] = {}
        self.start_step = 0
        self.skipped = 0

    def metric(self, key: str) -> List[float]:
        """Values of ``key`` (e.g. ``'valid/nll'``) across the records that have it."""
        return [r[key] for r in self if key in r]


def _scalar(value: Any, like: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        v = value.detach()
        return (v if v.dim() == 0 else v.mean()).float()
    return like.new_tensor(float(value), dtype=torch.float32)


def stack_metrics(metrics: Mapping[str, Any], like: torch.Tensor) -> Tuple[Tuple[str, ...], torch.Tensor]:
    """``{name: scalar}`` -> ``(names, values [k])`` as one float32 tensor on ``like``'s device."""
    names = tuple(metrics)
    if not names:
        return names, like.new_zeros(0, dtype=torch.float32)
    return names, torch.stack([_scalar(metrics[k], like) for k in names])


class Accumulator:
    """Running ``Σ n_b m_b`` and ``Σ n_b`` per metric name (see the module docstring)."""

    def __init__(self):
        self._names: Tuple[str, ...] = ()
        self._sums: Optional[torch.Tensor] = None  # [k] Σ n_b m_b, on the training device
        self._count: Optional[torch.Tensor] = None  # [] Σ n_b
        self._host: Dict[str, List[float]] = {}  # name -> [Σ n m, Σ n] for names no longer current

    def add(self, names: Tuple[str, ...], values: torch.Tensor, n: torch.Tensor) -> None:
        """Add one batch: ``values [k]`` per-step averages over ``n`` observed steps (scalar tensor)."""
        self.add_weighted(names, values * n, n)

    def add_weighted(self, names: Tuple[str, ...], weighted: torch.Tensor, n: torch.Tensor) -> None:
        """Add one batch given ``weighted = values * n`` (``[k]``), computed once for several accumulators."""
        if names != self._names:
            self._spill()
            self._names = names
        if self._sums is None:
            self._sums, self._count = weighted.clone(), n.detach().float().clone()
        else:
            if self._sums.device != weighted.device:  # restored from a checkpoint onto another device
                self._sums, self._count = self._sums.to(weighted.device), self._count.to(weighted.device)
            self._sums += weighted
            self._count += n

    def _spill(self) -> None:
        if self._sums is None:
            return
        count = float(self._count)
        for name, s in zip(self._names, self._sums.tolist()):
            slot = self._host.setdefault(name, [0.0, 0.0])
            slot[0] += s
            slot[1] += count
        self._names, self._sums, self._count = (), None, None

    @property
    def empty(self) -> bool:
        return self._sums is None and not self._host

    def result(self, ctx: DistContext) -> Dict[str, float]:
        """Weighted means over every process, and reset. ``{}`` when nothing was added anywhere."""
        local = self._totals()
        self.reset()
        merged: Dict[str, List[float]] = {}
        for part in ctx.gather_objects(local):
            for name, (s, n) in part.items():
                slot = merged.setdefault(name, [0.0, 0.0])
                slot[0] += s
                slot[1] += n
        return {name: s / n for name, (s, n) in merged.items() if n > 0}

    def _totals(self) -> Dict[str, List[float]]:
        totals = {k: list(v) for k, v in self._host.items()}
        if self._sums is not None:
            count = float(self._count)
            for name, s in zip(self._names, self._sums.tolist()):
                slot = totals.setdefault(name, [0.0, 0.0])
                slot[0] += s
                slot[1] += count
        return totals

    def reset(self) -> None:
        self._names, self._sums, self._count, self._host = (), None, None, {}

    # -------------------------------------------------------------- checkpoints (exact float32 sums)
    def state(self) -> Dict[str, Any]:
        return {
            "names": list(self._names),
            "sums": None if self._sums is None else self._sums.tolist(),
            "count": None if self._count is None else float(self._count),
            "host": {k: list(v) for k, v in self._host.items()},
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self._names = tuple(state["names"])
        sums, count = state["sums"], state["count"]
        self._sums = None if sums is None else torch.tensor(sums, dtype=torch.float32)
        self._count = None if count is None else torch.tensor(count, dtype=torch.float32)
        self._host = {k: list(v) for k, v in state["host"].items()}
