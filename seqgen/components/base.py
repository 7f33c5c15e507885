"""The component roles (DESIGN §1): ``DistModule``/``Decoder``, ``Encoder``, ``Agent``.

Shapes are batch-first: ``x: [batch, time, *obs_shape]``, ``c: [batch, time, context_dim]``.
Every component applies over any leading dims at once (``[*]`` below), so a model calls a
decoder once over ``[batch, time, features]`` rather than once per step.
"""

from __future__ import annotations

import abc
from typing import Any, Optional, Tuple

import torch
from torch import nn
from torch.distributions import constraints

from ..state import State

__all__ = ["DistModule", "Decoder", "Encoder", "Agent"]


class DistModule(nn.Module, abc.ABC):
    """An ``nn.Module`` mapping features to a Pyro distribution, in two steps.

    ``forward(features: [*, in_dim]) -> params`` (a tensor or a dict of tensors, ``[*, …]``) and
    ``dist(params) -> Distribution`` with ``batch_shape == [*]`` and ``event_shape ==
    self.event_shape``. Splitting the two lets a model compute params for a whole
    ``[batch, time]`` grid in one call, slice them, and build distributions where needed.

    Attributes: ``in_dim`` (features expected), ``event_shape`` (``torch.Size``), ``support``,
    ``is_discrete`` (True when values are integer tokens/bits), ``has_rsample``.
    """

    in_dim: int
    event_shape: torch.Size

    @abc.abstractmethod
    def forward(self, features: torch.Tensor) -> Any:
        """``features: [*, in_dim] -> params`` for ``dist``."""

    @abc.abstractmethod
    def dist(self, params: Any) -> torch.distributions.Distribution:
        """Params from ``forward`` -> a Pyro distribution, batch ``[*]``, event ``event_shape``."""

    def dist_from(self, features: torch.Tensor) -> torch.distributions.Distribution:
        """``dist(forward(features))``."""
        return self.dist(self(features))

    @property
    def support(self) -> constraints.Constraint:
        return constraints.real

    @property
    def is_discrete(self) -> bool:
        return False

    @property
    def has_rsample(self) -> bool:
        return False


class Decoder(DistModule):
    """A DistModule over observations: ``event_shape == obs_shape``.

    ``check_values(x, argument)`` raises :class:`~seqgen.errors.DataError` when observed values
    lie outside the support (tokens out of range, bits not in {0, 1}, values outside (0, 1)).
    """

    @property
    def obs_shape(self) -> torch.Size:
        return self.event_shape

    def check_values(self, x: torch.Tensor, argument: str = "x") -> None:
        """Raise DataError if any value of ``x`` (already finite) is outside ``support``."""


class Encoder(nn.Module, abc.ABC):
    """Observation -> flat feature vector: ``forward(x: [*, *obs_shape]) -> [*, out_dim]``.

    Attributes: ``obs_shape`` (what it reads), ``out_dim`` (what it writes).
    """

    obs_shape: torch.Size
    out_dim: int

    @abc.abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [*, *obs_shape] -> [*, out_dim]``."""


class Agent(nn.Module, abc.ABC):
    """Receives observations, supplies contexts (inputs, actions) — DESIGN §1, §3.

    Per step (GenCore's loop):
      ``initial_state(batch_size, *, inputs=None, device=None, dtype=None) -> State``
      ``context(state) -> (c_t: [batch, context_dim], state)``
      ``observe(state, x_t: [batch, *obs_shape]) -> state``
    Whole sequence (teacher forcing, for training; vectorised over time):
      ``contexts(x: [batch, time, *obs_shape], *, inputs=None) -> [batch, time, context_dim]``
      where ``c_t`` may depend on ``x_{<t}`` and ``inputs_t`` only, never on ``x_t``.

    ``inputs: [batch, time, input_dim]`` are given per-step inputs (``input_dim == 0`` when the agent
    takes none). Attributes: ``context_dim``, ``input_dim``, ``obs_shape``.
    """

    context_dim: int
    input_dim: int = 0
    obs_shape: Optional[torch.Size] = None

    @abc.abstractmethod
    def initial_state(
        self,
        batch_size: int,
        *,
        inputs: Optional[torch.Tensor] = None,
        device: Optional[torch.device] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> State:
        """The agent's state before the first step."""

    @abc.abstractmethod
    def context(self, state: State) -> Tuple[torch.Tensor, State]:
        """This step's context ``c_t: [batch, context_dim]`` and the advanced state."""

    @abc.abstractmethod
    def observe(self, state: State, x_t: torch.Tensor) -> State:
        """Take in this step's observation ``x_t: [batch, *obs_shape]``."""

    @abc.abstractmethod
    def contexts(self, x: torch.Tensor, *, inputs: Optional[torch.Tensor] = None) -> torch.Tensor:
        """All contexts at once, teacher-forced: ``[batch, time, *obs] -> [batch, time, context_dim]``."""
