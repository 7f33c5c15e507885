"""``GenCore``: the closed-loop sampler (DESIGN §3).

One step of the loop, for a core (a :class:`~seqgen.SequenceModel`, or an environment with the
same per-step interface) and an agent::

    c_t, a = agent.context(a)          # c_t: [batch, context_dim]
    p_t, s = core.prior_step(s, c_t)   # p(x_t | x_{<t}, c_{≤t}), batch [batch]
    x_t    = p_t.sample()              # [batch, *obs_shape]
    s      = core.observe(s, x_t)
    a      = agent.observe(a, x_t)

Because a model and an environment share ``initial_state``/``prior_step``/``observe``, the same
agent can be driven by either. :class:`~seqgen.SequenceDistribution` (in
:mod:`seqgen.sequence_distribution`) wraps this loop as a Pyro distribution.
"""

from __future__ import annotations

from typing import Any, List, Optional

import attrs
import torch

from .errors import ConfigError, ShapeError

__all__ = ["GenCore", "Rollout"]


@attrs.frozen(kw_only=True)
class Rollout:
    """What :meth:`GenCore.run` returns.

    x:           ``[batch, T, *obs_shape]`` the sampled (or imputed) sequences
    log_probs:   ``[batch, T]`` per-step ``log p_t(x_t)`` (when ``record=True``)
    states:      model states after each full step (when ``record=True``)
    state:       the final model state
    agent_state: the final agent state
    """

    x: torch.Tensor
    state: Any
    agent_state: Any
    log_probs: Optional[torch.Tensor] = None
    states: Optional[List[Any]] = None


class GenCore:
    """Run ``core`` and ``agent`` in closed loop.

    core:  anything with ``initial_state(batch_size)``, ``prior_step(state, c_t)`` and
           ``observe(state, x_t)`` (a model or a wrapped environment), plus ``obs_shape``.
    agent: an :class:`~seqgen.Agent`; defaults to ``core.agent``.
    """

    def __init__(self, core: Any, agent: Any = None):
        agent = agent if agent is not None else getattr(core, "agent", None)
        if agent is None:
            raise ConfigError(
                "agent",
                f"GenCore: {type(core).__name__} has no default agent and none was given",
                "pass agent=seqgen.ConstantAgent(0) for a core that takes no context",
            )
        a_obs = getattr(agent, "obs_shape", None)
        c_obs = getattr(core, "obs_shape", None)
        if a_obs is not None and c_obs is not None and tuple(a_obs) != tuple(c_obs):
            raise ShapeError(
                f"agent ({type(agent).__name__}).obs_shape",
                tuple(c_obs),
                tuple(a_obs),
                f"build the agent's encoder for the {type(core).__name__} observation shape",
            )
        self.core = core
        self.agent = agent

    def _device_dtype(self):
        return getattr(self.core, "device", None), getattr(self.core, "dtype", None)

    def start(self, batch_size: int, *, inputs: Optional[torch.Tensor] = None):
        """Fresh ``(model_state, agent_state)`` for ``batch_size`` sequences."""
        device, dtype = self._device_dtype()
        s = self.core.initial_state(batch_size)
        a = self.agent.initial_state(batch_size, inputs=inputs, device=device, dtype=dtype)
        return s, a

    def replay_agent(self, agent_state: Any, x: torch.Tensor) -> Any:
        """Advance the agent over observed steps ``x: [batch, T0, *obs]`` (teacher-forced)."""
        for t in range(x.shape[1]):
            _, agent_state = self.agent.context(agent_state)
            agent_state = self.agent.observe(agent_state, x[:, t])
        return agent_state

    def run(
        self,
        batch_size: int,
        num_steps: int,
        *,
        inputs: Optional[torch.Tensor] = None,
        state: Any = None,
        agent_state: Any = None,
        rsample: bool = False,
        record: bool = False,
    ) -> Rollout:
        """Sample ``num_steps`` steps for ``batch_size`` sequences.

        inputs: ``[batch, T_inputs, input_dim]`` given inputs read by the agent at its step counter.
        state / agent_state: start from these (e.g. after a prefix) instead of fresh states.
        rsample: draw each step with ``rsample`` so gradients flow through the samples.
        record: also return per-step log-probs and the model states after each full step.
        """
        if not isinstance(num_steps, int) or num_steps < 1:
            raise ConfigError("num_steps", f"'num_steps' must be an integer >= 1 (got {num_steps!r})")
        if state is None or agent_state is None:
            s0, a0 = self.start(batch_size, inputs=inputs)
            state = s0 if state is None else state
            agent_state = a0 if agent_state is None else agent_state
        s, a = state, agent_state
        xs, lps, states = [], [], []
        for _ in range(num_steps):
            c_t, a = self.agent.context(a)
            p_t, s = self.core.prior_step(s, c_t)
            x_t = p_t.rsample() if rsample else p_t.sample()
            if record:
                lps.append(p_t.log_prob(x_t))  # [batch]
            s = self.core.observe(s, x_t)
            a = self.agent.observe(a, x_t)
            xs.append(x_t)
            if record:
                states.append(s)
        x = torch.stack(xs, dim=1)  # [batch, T, *obs_shape]
        return Rollout(
            x=x,
            state=s,
            agent_state=a,
            log_probs=torch.stack(lps, dim=1) if record else None,
            states=states if record else None,
        )

    def impute(self, x: torch.Tensor, mask: torch.Tensor, *, inputs: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Fill ``x``'s unobserved steps with samples of ``p(x_t | x_{<t})``; keep observed steps.

        x: ``[batch, T, *obs]``, mask: ``[batch, T]`` bool. Conditions on the past only (filtering).
        """
        s, a = self.start(x.shape[0], inputs=inputs)
        out = []
        with torch.no_grad():
            for t in range(x.shape[1]):
                c_t, a = self.agent.context(a)
                p_t, s = self.core.prior_step(s, c_t)
                sampled = p_t.sample()
                m = mask[:, t].reshape((-1,) + (1,) * (x.dim() - 2))
                x_t = torch.where(m, x[:, t].to(sampled.dtype), sampled)
                s = self.core.observe(s, x_t)
                a = self.agent.observe(a, x_t)
                out.append(x_t)
        return torch.stack(out, dim=1).to(x.dtype)
