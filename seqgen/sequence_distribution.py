"""``SequenceDistribution``: any generating model as a Pyro distribution over whole sequences.

``event_shape = (num_steps, *obs_shape)`` (time left of the observation dims, as in Pyro's HMM
distributions); ``batch_shape`` indexes independent sequences. Sampling runs
:class:`~seqgen.GenCore`; ``log_prob`` is the model's *exact* ``log p(x)`` (or
``log p(x | prefix)``) and exists only for models with the ``log_prob`` capability — an ELBO is
never passed off as a log-probability. An importance-weighted estimate is available only by
name, :meth:`SequenceDistribution.iwae_log_prob`.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from pyro.distributions import TorchDistribution
from torch.distributions import constraints

from .errors import CapabilityError, ConfigError, ShapeError
from .gencore import GenCore

__all__ = ["SequenceDistribution"]


class SequenceDistribution(TorchDistribution):
    """Distribution over ``num_steps``-step sequences of ``model`` driven by ``agent``.

    model:     a :class:`~seqgen.SequenceModel` with the ``generate`` capability
    num_steps: steps to generate (after the prefix, if any)
    agent:     the agent supplying contexts (default ``model.agent``)
    prefix:    ``[*batch_shape, T0, *obs_shape]`` observed steps to continue from (``forecast``)
    inputs:    ``[*batch_shape, T0 + num_steps, input_dim]`` given inputs for the agent
    """

    arg_constraints: dict = {}

    def __init__(
        self,
        model: Any,
        num_steps: int,
        *,
        agent: Any = None,
        prefix: Optional[torch.Tensor] = None,
        inputs: Optional[torch.Tensor] = None,
        batch_shape: Optional[torch.Size] = None,
        validate_args: Optional[bool] = None,
    ):
        model.require("generate")
        if not isinstance(num_steps, int) or num_steps < 1:
            raise ConfigError("num_steps", f"'num_steps' must be an integer >= 1 (got {num_steps!r})")
        obs_shape = tuple(model.obs_shape)
        if prefix is not None:
            model.require("forecast", "prefix_condition needs a model that conditions on a prefix")
            if prefix.dim() < 1 + len(obs_shape) or tuple(prefix.shape[prefix.dim() - len(obs_shape):]) != obs_shape:
                raise ShapeError("prefix", f"[*batch, T0, *obs_shape={obs_shape}]", tuple(prefix.shape), "pass observed steps shaped like the model's observations")
            if prefix.shape[-1 - len(obs_shape)] == 0:
                raise ShapeError("prefix", "at least one step", tuple(prefix.shape), "drop the prefix to sample from the start")
            prefix_batch = prefix.shape[: prefix.dim() - 1 - len(obs_shape)]
            batch_shape = torch.Size(prefix_batch) if batch_shape is None else torch.Size(batch_shape)
            prefix = prefix.expand(tuple(batch_shape) + tuple(prefix.shape[len(prefix_batch):]))
        batch_shape = torch.Size(() if batch_shape is None else batch_shape)
        if inputs is not None:
            t_total = num_steps + (0 if prefix is None else prefix.shape[len(batch_shape)])
            want = tuple(batch_shape) + (t_total, model.input_dim)
            if inputs.dim() < 2 or tuple(inputs.shape[-2:]) != want[-2:]:
                raise ShapeError("inputs", f"[*batch_shape, {t_total}, input_dim={model.input_dim}]", tuple(inputs.shape), "give one input per prefix and generated step")
            inputs = inputs.expand(want)
        self.model = model
        self.agent = agent if agent is not None else model.agent
        self.num_steps = num_steps
        self.prefix = prefix
        self.inputs = inputs
        super().__init__(batch_shape, torch.Size((num_steps,) + obs_shape), validate_args=validate_args)

    # ------------------------------------------------------------------ Pyro distribution API
    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        base = self.model.obs_support
        return constraints.independent(base, len(self.event_shape) - base.event_dim)

    @property
    def has_rsample(self) -> bool:
        return bool(self.model.has_rsample)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(SequenceDistribution, _instance)
        batch_shape = torch.Size(batch_shape)
        new.model, new.agent, new.num_steps = self.model, self.agent, self.num_steps
        new.prefix = None if self.prefix is None else self.prefix.expand(tuple(batch_shape) + tuple(self.prefix.shape[len(self.batch_shape):]))
        new.inputs = None if self.inputs is None else self.inputs.expand(tuple(batch_shape) + tuple(self.inputs.shape[-2:]))
        super(SequenceDistribution, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args  # torch's idiom: expand keeps validation
        return new

    def prefix_condition(self, x_prefix: torch.Tensor) -> "SequenceDistribution":
        """The distribution of the continuation after observing ``x_prefix`` ``[*batch, T0, *obs]``."""
        if self.prefix is not None:  # continue after the prefix we already have: [*batch, T0 + T1, *obs]
            nb = len(self.batch_shape)
            x_prefix = x_prefix.expand(tuple(self.batch_shape) + tuple(x_prefix.shape[x_prefix.dim() - (self.prefix.dim() - nb):]))
            x_prefix = torch.cat([self.prefix, x_prefix.to(self.prefix.dtype)], dim=nb)
        prefix = x_prefix
        return SequenceDistribution(self.model, self.num_steps, agent=self.agent, prefix=prefix, inputs=self.inputs, validate_args=self._validate_args)

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            return self._generate(torch.Size(sample_shape), rsample=False)

    def rsample(self, sample_shape=torch.Size()):
        if not self.has_rsample:
            raise CapabilityError(type(self.model).__name__, "rsample", self.model.capabilities, "some step is not reparameterisable; use sample()")
        return self._generate(torch.Size(sample_shape), rsample=True)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Exact ``log p(value)`` (or ``log p(value | prefix)``), shape ``value``'s batch dims."""
        self.model.require("log_prob", "ask for an estimate by name: iwae_log_prob(value, num_particles)")
        return self._score(value, lambda x, ctx: self.model.log_prob(x, context=ctx))

    def iwae_log_prob(self, value: torch.Tensor, num_particles: int = 100) -> torch.Tensor:
        """An importance-weighted *estimate* of ``log p(value)`` (a bound in expectation)."""
        self.model.require("iwae")
        return self._score(value, lambda x, ctx: self.model.iwae(x, num_particles, context=ctx))

    # ------------------------------------------------------------------ internals
    def _flat(self, t: Optional[torch.Tensor], shape: torch.Size) -> Optional[torch.Tensor]:
        """Broadcast a ``[*batch_shape, …]`` tensor to ``shape + …`` and flatten to ``[n, …]``."""
        if t is None:
            return None
        tail = tuple(t.shape[len(self.batch_shape):])
        return t.expand(tuple(shape) + tail).reshape((-1,) + tail)

    def _generate(self, sample_shape: torch.Size, *, rsample: bool) -> torch.Tensor:
        shape = sample_shape + self.batch_shape
        n = math.prod(shape)
        core = GenCore(self.model, self.agent)
        if n == 0:
            return self.model_empty(shape)
        inputs = self._flat(self.inputs, shape)
        state = agent_state = None
        if self.prefix is not None:
            prefix = self._flat(self.prefix, shape)  # [n, T0, *obs]
            t0 = prefix.shape[1]
            state = self.model.condition(prefix, context=None if inputs is None else inputs[:, :t0])
            _, agent_state = core.start(n, inputs=inputs)
            agent_state = core.replay_agent(agent_state, prefix.to(self.model.device))
        out = core.run(n, self.num_steps, inputs=inputs, state=state, agent_state=agent_state, rsample=rsample)
        return out.x.reshape(tuple(shape) + tuple(self.event_shape))

    def model_empty(self, shape: torch.Size) -> torch.Tensor:
        dtype = torch.long if self.model.obs_discrete and self.model.obs_support is not constraints.boolean else self.model.dtype
        return torch.empty(tuple(shape) + tuple(self.event_shape), dtype=dtype, device=self.model.device)

    def _score(self, value: torch.Tensor, fn) -> torch.Tensor:
        ev = len(self.event_shape)
        if value.dim() < ev or tuple(value.shape[value.dim() - ev:]) != tuple(self.event_shape):
            raise ShapeError("value", f"[*, {', '.join(map(str, self.event_shape))}]", tuple(value.shape), "score sequences with this distribution's num_steps and obs_shape")
        if self._validate_args:
            self._validate_sample(value)
        if self.agent is not self.model.agent:
            raise CapabilityError(type(self.model).__name__, "log_prob under another agent", self.model.capabilities, "score with the model's own agent")
        lead = torch.broadcast_shapes(value.shape[: value.dim() - ev], self.batch_shape)
        x = value.expand(tuple(lead) + tuple(self.event_shape)).reshape((-1,) + tuple(self.event_shape))
        inputs = self._flat(self.inputs, lead)
        if self.prefix is None:
            return fn(x, inputs).reshape(lead)
        prefix = self._flat(self.prefix, lead).to(x.dtype)
        t0 = prefix.shape[1]
        whole = fn(torch.cat([prefix, x], dim=1), inputs)
        head = fn(prefix, None if inputs is None else inputs[:, :t0])
        return (whole - head).reshape(lead)  # log p(x | prefix) = log p(prefix, x) - log p(prefix)
