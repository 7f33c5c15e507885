"""The stock agents (DESIGN §1, §3): what a sequence model is conditioned on at each step.

An agent supplies the context ``c_t`` of step ``t`` from past observations ``x_{<t}`` and given
per-step inputs ``inputs_t``, in the vocabulary of vae-seq (Sulsky, 2017, *vae-seq*):

- ``ObservationAgent``: ``c_t = [e(x_{t-1}), inputs_t]``, ``e(x_{-1}) = 0``
- ``ConstantAgent``:    ``c_t = inputs_t`` (``input_dim = 0``: the empty ``[batch, 0]`` context)
- ``HistoryAgent``:     ``c_t = [e(x_{t-1}), …, e(x_{t-W}), inputs_t]``, ``e(x_{s<0}) = 0``
- ``ChainAgent``:       ``c_t = [c^1_t, …, c^K_t]`` with inputs split in order
- ``PolicyAgent``:      ``h_0 = 0``, ``h_{t+1} = GRU(e(x_t), h_t)`` (Cho et al., 2014),
                        ``a_t ~ π(· | h_t)``, ``c_t = onehot(a_t)`` (or ``a_t`` when continuous);
                        the state accumulates ``Σ_t log π(a_t | h_t)`` and ``Σ_t H[π(· | h_t)]`` for
                        REINFORCE (Williams, 1992).

Per step, GenCore calls ``context`` (which reads ``inputs[:, step]`` and advances ``step``) and then
``observe``; ``contexts(x, inputs=…)`` computes all ``c_t`` at once by teacher forcing and equals the
per-step loop fed the same ``x``. Shapes: ``x: [batch, time, *obs_shape]``, ``inputs: [batch, time,
input_dim]``, contexts ``[batch, time, context_dim]``. Every state stores its inputs as ``[batch,
time, input_dim]`` (``time = 0`` when none were given) and a Python ``int`` step counter.
"""

from __future__ import annotations

import itertools
from typing import Optional, Sequence, Tuple

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, DataError, ShapeError
from ..state import State, state
from .base import Agent, Encoder
from .decoders import CategoricalDecoder, NormalDecoder
from .mlp import check_int

__all__ = [
    "ObservationAgent", "ObservationAgentState", "ConstantAgent", "ConstantAgentState", "HistoryAgent",
    "HistoryAgentState", "ChainAgent", "ChainAgentState", "PolicyAgent", "PolicyAgentState",
]


# ---------------------------------------------------------------------------- shared checks
def _check_encoder(owner: str, encoder) -> Encoder:
    if not isinstance(encoder, Encoder):
        raise ConfigError("encoder", f"{owner}: 'encoder' must be a seqgen Encoder (got {type(encoder).__name__})", "pass e.g. MLPEncoder(obs_shape, out_dim)")
    return encoder


def _device_dtype(module: nn.Module, inputs, device, dtype) -> Tuple[torch.device, torch.dtype]:
    """Explicit arguments, else the module's floating parameters/buffers, else the inputs, else defaults."""
    ref = next((t for t in itertools.chain(module.parameters(), module.buffers()) if t.is_floating_point()), None)
    if ref is None and inputs is not None:
        ref = inputs
    device = torch.device(device) if device is not None else (ref.device if ref is not None else torch.device("cpu"))
    dtype = dtype if dtype is not None else (ref.dtype if ref is not None else torch.get_default_dtype())
    return device, dtype


def _check_x(agent: Agent, x: torch.Tensor, lead: int) -> Tuple[int, ...]:
    """Leading dims of ``x: [batch, time, *obs_shape]`` (lead=2) or ``x_t: [batch, *obs_shape]`` (lead=1)."""
    name, arg = type(agent).__name__, ("x" if lead == 2 else "x_t")
    if not isinstance(x, torch.Tensor):
        raise DataError(f"{name} {arg}", f"expected a torch.Tensor, got {type(x).__name__}", "convert with torch.as_tensor")
    dims = "[batch, time" if lead == 2 else "[batch"
    if agent.obs_shape is None:
        if x.dim() < lead:
            raise ShapeError(f"{name} {arg}", dims + ", *obs_shape]", tuple(x.shape), "pass batch-first observations")
    elif x.dim() != lead + len(agent.obs_shape) or tuple(x.shape[lead:]) != tuple(agent.obs_shape):
        want = dims + "".join(f", {d}" for d in agent.obs_shape) + "]"
        raise ShapeError(f"{name} {arg}", want, tuple(x.shape), f"pass observations of {name}.obs_shape={tuple(agent.obs_shape)}")
    return tuple(x.shape[:lead])


def _check_inputs(agent: Agent, inputs, batch: int, time: Optional[int] = None, *, required: bool = True):
    """Validate ``inputs: [batch, time, input_dim]`` (required iff ``input_dim > 0`` and ``required``)."""
    name, d = type(agent).__name__, agent.input_dim
    want = f"[batch={batch}, time{'' if time is None else f'={time}'}, input_dim={d}]"
    if inputs is None:
        if d > 0 and required:
            raise ShapeError(f"{name} inputs", want, "None", f"pass the per-step inputs {name} was built for (input_dim={d})")
        return None
    if not isinstance(inputs, torch.Tensor):
        raise DataError(f"{name} inputs", f"expected a torch.Tensor, got {type(inputs).__name__}", "convert with torch.as_tensor")
    if d == 0:
        got = inputs.shape[-1] if inputs.dim() else 0
        raise ShapeError(f"{name} inputs", f"None ({name} takes no inputs)", tuple(inputs.shape), f"build {name} with input_dim={got}")
    if inputs.dim() != 3 or inputs.shape[0] != batch or inputs.shape[2] != d or (time is not None and inputs.shape[1] != time):
        raise ShapeError(f"{name} inputs", want, tuple(inputs.shape), f"give {name} one {d}-vector of inputs per sequence and step")
    if not inputs.is_floating_point():
        raise DataError(f"{name} inputs", f"expected a floating-point tensor, got dtype {inputs.dtype}", "call inputs.float()")
    return inputs


def _store(agent: Agent, inputs, batch: int, device, dtype) -> torch.Tensor:
    """Inputs as kept in a state: ``[batch, time, input_dim]``, ``time = 0`` when none were given."""
    if inputs is None:
        return torch.zeros(batch, 0, agent.input_dim, device=device, dtype=dtype)
    return inputs.to(device=device, dtype=dtype)


def _input_at(agent: Agent, inputs: torch.Tensor, step: int) -> torch.Tensor:
    """``inputs[:, step]: [batch, input_dim]`` (``[batch, 0]`` for agents without inputs)."""
    if agent.input_dim == 0:
        return inputs.new_zeros(inputs.shape[0], 0)
    if step >= inputs.shape[1]:
        name = type(agent).__name__
        raise ShapeError(f"{name} inputs", f"at least {step + 1} steps", f"{inputs.shape[1]} steps", "pass inputs covering every step to generate")
    return inputs[:, step]


def _with_inputs(c: torch.Tensor, inputs: Optional[torch.Tensor]) -> torch.Tensor:
    """``[batch, time, k] ++ [batch, time, input_dim] -> [batch, time, k + input_dim]``."""
    return c if inputs is None else torch.cat([c, inputs.to(c.dtype)], dim=-1)


# ---------------------------------------------------------------------------- ObservationAgent
@state
class ObservationAgentState(State):
    """prev: ``[batch, out_dim]`` ``e(x_{t-1})`` (zeros before the first observation); inputs; step."""

    prev: torch.Tensor
    inputs: torch.Tensor
    step: int = 0


class ObservationAgent(Agent):
    """``c_t = [e(x_{t-1}), inputs_t]`` with ``e(x_{-1}) = 0``; ``context_dim = encoder.out_dim + input_dim``."""

    def __init__(self, encoder: Encoder, *, input_dim: int = 0):
        super().__init__()
        self.encoder = _check_encoder("ObservationAgent", encoder)
        self.input_dim = check_int("ObservationAgent", "input_dim", input_dim, minimum=0)
        self.obs_shape = encoder.obs_shape
        self.context_dim = encoder.out_dim + self.input_dim

    def initial_state(self, batch_size, *, inputs=None, device=None, dtype=None) -> ObservationAgentState:
        batch_size = check_int("ObservationAgent", "batch_size", batch_size)
        inputs = _check_inputs(self, inputs, batch_size)
        device, dtype = _device_dtype(self, inputs, device, dtype)
        prev = torch.zeros(batch_size, self.encoder.out_dim, device=device, dtype=dtype)
        return ObservationAgentState(prev=prev, inputs=_store(self, inputs, batch_size, device, dtype))

    def context(self, state: ObservationAgentState):
        c = torch.cat([state.prev, _input_at(self, state.inputs, state.step)], dim=-1)  # [batch, context_dim]
        return c, attrs.evolve(state, step=state.step + 1)

    def observe(self, state: ObservationAgentState, x_t: torch.Tensor) -> ObservationAgentState:
        _check_x(self, x_t, 1)
        return attrs.evolve(state, prev=self.encoder(x_t).to(state.prev.dtype))

    def contexts(self, x: torch.Tensor, *, inputs=None) -> torch.Tensor:
        b, t = _check_x(self, x, 2)
        inputs = _check_inputs(self, inputs, b, t)
        e = self.encoder(x)  # [batch, time, out_dim]
        prev = torch.cat([e.new_zeros(b, 1, e.shape[-1]), e], dim=1)[:, :t]  # e(x_{t-1}): [batch, time, out_dim]
        return _with_inputs(prev, inputs)


# ---------------------------------------------------------------------------- ConstantAgent
@state
class ConstantAgentState(State):
    """inputs: ``[batch, time, input_dim]`` (``time = 0`` when ``input_dim = 0``); step."""

    inputs: torch.Tensor
    step: int = 0


class ConstantAgent(Agent):
    """``c_t = inputs_t``: given inputs, independent of the observations; ``context_dim = input_dim``.

    ``input_dim = 0`` is the "no context" agent: contexts are ``[batch, 0]`` and no inputs are taken.
    """

    def __init__(self, input_dim: int = 0):
        super().__init__()
        self.input_dim = check_int("ConstantAgent", "input_dim", input_dim, minimum=0)
        self.context_dim = self.input_dim
        self.obs_shape = None

    def initial_state(self, batch_size, *, inputs=None, device=None, dtype=None) -> ConstantAgentState:
        batch_size = check_int("ConstantAgent", "batch_size", batch_size)
        inputs = _check_inputs(self, inputs, batch_size)
        device, dtype = _device_dtype(self, inputs, device, dtype)
        return ConstantAgentState(inputs=_store(self, inputs, batch_size, device, dtype))

    def context(self, state: ConstantAgentState):
        return _input_at(self, state.inputs, state.step), attrs.evolve(state, step=state.step + 1)

    def observe(self, state: ConstantAgentState, x_t: torch.Tensor) -> ConstantAgentState:
        return state

    def contexts(self, x: torch.Tensor, *, inputs=None) -> torch.Tensor:
        b, t = _check_x(self, x, 2)
        inputs = _check_inputs(self, inputs, b, t)
        if inputs is not None:
            return inputs
        return torch.zeros(b, t, 0, device=x.device, dtype=x.dtype if x.is_floating_point() else torch.get_default_dtype())


# ---------------------------------------------------------------------------- HistoryAgent
@state
class HistoryAgentState(State):
    """history: ``[batch, window, out_dim]``, row ``j`` = ``e(x_{t-1-j})`` (zeros before the start); inputs; step."""

    history: torch.Tensor
    inputs: torch.Tensor
    step: int = 0


class HistoryAgent(Agent):
    """``c_t = [e(x_{t-1}), …, e(x_{t-window}), inputs_t]``, most recent first, zeros before the start.

    ``context_dim = window * encoder.out_dim + input_dim`` (an n-gram-style window of encodings).
    """

    def __init__(self, encoder: Encoder, window: int, *, input_dim: int = 0):
        super().__init__()
        self.encoder = _check_encoder("HistoryAgent", encoder)
        self.window = check_int("HistoryAgent", "window", window, minimum=1)
        self.input_dim = check_int("HistoryAgent", "input_dim", input_dim, minimum=0)
        self.obs_shape = encoder.obs_shape
        self.context_dim = self.window * encoder.out_dim + self.input_dim

    def initial_state(self, batch_size, *, inputs=None, device=None, dtype=None) -> HistoryAgentState:
        batch_size = check_int("HistoryAgent", "batch_size", batch_size)
        inputs = _check_inputs(self, inputs, batch_size)
        device, dtype = _device_dtype(self, inputs, device, dtype)
        history = torch.zeros(batch_size, self.window, self.encoder.out_dim, device=device, dtype=dtype)
        return HistoryAgentState(history=history, inputs=_store(self, inputs, batch_size, device, dtype))

    def context(self, state: HistoryAgentState):
        flat = state.history.flatten(1)  # [batch, window, out_dim] -> [batch, window * out_dim]
        c = torch.cat([flat, _input_at(self, state.inputs, state.step)], dim=-1)  # [batch, context_dim]
        return c, attrs.evolve(state, step=state.step + 1)

    def observe(self, state: HistoryAgentState, x_t: torch.Tensor) -> HistoryAgentState:
        _check_x(self, x_t, 1)
        e = self.encoder(x_t).to(state.history.dtype).unsqueeze(1)  # [batch, 1, out_dim]
        return attrs.evolve(state, history=torch.cat([e, state.history[:, :-1]], dim=1))

    def contexts(self, x: torch.Tensor, *, inputs=None) -> torch.Tensor:
        b, t = _check_x(self, x, 2)
        inputs = _check_inputs(self, inputs, b, t)
        e = self.encoder(x)  # [batch, time, out_dim]
        d, w = e.shape[-1], self.window
        padded = torch.cat([e.new_zeros(b, w, d), e], dim=1)  # [batch, window + time, out_dim]; row s = e(x_{s-window})
        windows = padded.unfold(1, w, 1)[:, :t]  # [batch, time, out_dim, window]; [..., k] = e(x_{t-window+k})
        recent_first = windows.flip(-1).transpose(-1, -2)  # [batch, time, window, out_dim]; [:, :, j] = e(x_{t-1-j})
        return _with_inputs(recent_first.reshape(b, t, w * d), inputs)  # [batch, time, window * out_dim]


# ---------------------------------------------------------------------------- ChainAgent
@state
class ChainAgentState(State):
    """states: one state per chained agent, in order."""

    states: tuple


class ChainAgent(Agent):
    """``c_t = [c^1_t, …, c^K_t]``: the agents' contexts concatenated; inputs split in the same order.

    ``context_dim = Σ_k context_dim_k``, ``input_dim = Σ_k input_dim_k``; every agent that reads
    observations must read the same ``obs_shape``.
    """

    def __init__(self, agents: Sequence[Agent]):
        super().__init__()
        agents = list(agents)
        if not agents:
            raise ConfigError("agents", "ChainAgent: 'agents' must hold at least one Agent (got none)", "pass e.g. [ObservationAgent(enc), ConstantAgent(2)]")
        shape, first = None, None
        for i, a in enumerate(agents):
            if not isinstance(a, Agent):
                raise ConfigError("agents", f"ChainAgent: agents[{i}] must be a seqgen Agent (got {type(a).__name__})")
            if a.obs_shape is None:
                continue
            if shape is None:
                shape, first = torch.Size(a.obs_shape), i
            elif torch.Size(a.obs_shape) != shape:
                raise ShapeError(f"ChainAgent agents[{i}] ({type(a).__name__}) obs_shape", f"{tuple(shape)} (as agents[{first}])", tuple(a.obs_shape), "build every agent's encoder for the same observations")
        self.agents = nn.ModuleList(agents)
        self.obs_shape = shape
        self.context_dim = sum(a.context_dim for a in agents)
        self.input_dim = sum(a.input_dim for a in agents)

    def _split(self, inputs: Optional[torch.Tensor]):
        """``inputs: [batch, time, Σ input_dim_k] -> [inputs_k or None]`` in order."""
        if inputs is None:
            return [None] * len(self.agents)
        pieces = inputs.split([a.input_dim for a in self.agents], dim=-1)
        return [p if a.input_dim > 0 else None for a, p in zip(self.agents, pieces)]

    def initial_state(self, batch_size, *, inputs=None, device=None, dtype=None) -> ChainAgentState:
        batch_size = check_int("ChainAgent", "batch_size", batch_size)
        # Missing inputs are left to the agents that need them, so the error names the agent.
        inputs = _check_inputs(self, inputs, batch_size, required=False)
        parts = self._split(inputs)
        return ChainAgentState(states=tuple(a.initial_state(batch_size, inputs=p, device=device, dtype=dtype) for a, p in zip(self.agents, parts)))

    def context(self, state: ChainAgentState):
        pairs = [a.context(s) for a, s in zip(self.agents, state.states)]
        c = torch.cat([p[0] for p in pairs], dim=-1)  # [batch, Σ context_dim_k]
        return c, ChainAgentState(states=tuple(p[1] for p in pairs))

    def observe(self, state: ChainAgentState, x_t: torch.Tensor) -> ChainAgentState:
        return ChainAgentState(states=tuple(a.observe(s, x_t) for a, s in zip(self.agents, state.states)))

    def contexts(self, x: torch.Tensor, *, inputs=None) -> torch.Tensor:
        b, t = _check_x(self, x, 2)
        inputs = _check_inputs(self, inputs, b, t, required=False)
        return torch.cat([a.contexts(x, inputs=p) for a, p in zip(self.agents, self._split(inputs))], dim=-1)


# ---------------------------------------------------------------------------- PolicyAgent
@state
class PolicyAgentState(State):
    """h: ``[batch, hidden]`` summary of ``x_{<t}``; log_prob, entropy: ``[batch]`` sums over the
    actions taken so far; last_action: ``[batch, num_actions]`` the latest context (zeros before the
    first); inputs: recorded actions ``[batch, time, num_actions]`` (``time = 0``: sample); step."""

    h: torch.Tensor
    log_prob: torch.Tensor
    entropy: torch.Tensor
    last_action: torch.Tensor
    inputs: torch.Tensor
    step: int = 0


class PolicyAgent(Agent):
    """A recurrent policy whose actions are the contexts: ``a_t ~ π(· | h_t)``, ``h_{t+1} = GRU(e(x_t), h_t)``.

    ``π`` is ``Categorical(num_actions)`` (context ``onehot(a_t)``) when ``discrete``, else a diagonal
    Normal with learned, state-dependent scale (context ``a_t``). ``context_dim = input_dim =
    num_actions``. Given recorded actions (``initial_state(…, inputs=actions)``), the per-step API
    replays them and scores them instead of sampling, and ``contexts(x, inputs=actions)`` returns them:
    teacher-forced training conditions the model on the actions that were taken. Gradients reach the
    policy through ``state.log_prob`` (REINFORCE); the sampled contexts themselves carry none.
    """

    def __init__(self, encoder: Encoder, num_actions: int, *, hidden: int = 64, discrete: bool = True):
        super().__init__()
        self.encoder = _check_encoder("PolicyAgent", encoder)
        self.num_actions = check_int("PolicyAgent", "num_actions", num_actions)
        self.hidden = check_int("PolicyAgent", "hidden", hidden)
        if not isinstance(discrete, bool):
            raise ConfigError("discrete", f"PolicyAgent: 'discrete' must be True or False (got {discrete!r})")
        self.discrete = discrete
        self.cell = nn.GRUCell(encoder.out_dim, self.hidden)
        head = CategoricalDecoder if discrete else NormalDecoder
        self.head = head(self.hidden, self.num_actions)
        self.obs_shape = encoder.obs_shape
        self.context_dim = self.input_dim = self.num_actions

    def _check_actions(self, actions: torch.Tensor) -> None:
        if not self.discrete:
            return
        bad = ~(((actions == 0) | (actions == 1)).all(-1) & (actions.sum(-1) == 1))  # [batch, time]
        if bad.any():
            idx = tuple(bad.nonzero()[0].tolist())
            raise DataError("PolicyAgent inputs", f"discrete actions must be one-hot rows, got {actions[idx].tolist()} at (batch, time) {idx}", "encode actions with F.one_hot(actions, num_actions).float()")

    def initial_state(self, batch_size, *, inputs=None, device=None, dtype=None) -> PolicyAgentState:
        batch_size = check_int("PolicyAgent", "batch_size", batch_size)
        inputs = _check_inputs(self, inputs, batch_size, required=False)
        if inputs is not None:
            self._check_actions(inputs)
        device, dtype = _device_dtype(self, inputs, device, dtype)
        zero = torch.zeros(batch_size, device=device, dtype=dtype)  # [batch]
        h, last = zero.new_zeros(batch_size, self.hidden), zero.new_zeros(batch_size, self.num_actions)
        return PolicyAgentState(h=h, log_prob=zero, entropy=zero, last_action=last, inputs=_store(self, inputs, batch_size, device, dtype))

    def policy_dist(self, state: PolicyAgentState) -> torch.distributions.Distribution:
        """``π(· | h_t)``, batch ``[batch]`` (event ``()`` when discrete, ``(num_actions,)`` otherwise)."""
        return self.head.dist_from(state.h)

    def context(self, state: PolicyAgentState):
        pi = self.policy_dist(state)
        if state.inputs.shape[1] > 0:  # replay the recorded action
            c = _input_at(self, state.inputs, state.step)  # [batch, num_actions]
            a = c.argmax(-1) if self.discrete else c
        else:
            a = pi.sample()  # [batch] long, or [batch, num_actions]
            c = F.one_hot(a, self.num_actions).to(state.h.dtype) if self.discrete else a
        lp, ent = state.log_prob + pi.log_prob(a), state.entropy + pi.entropy()  # [batch]
        return c, attrs.evolve(state, log_prob=lp, entropy=ent, last_action=c, step=state.step + 1)

    def observe(self, state: PolicyAgentState, x_t: torch.Tensor) -> PolicyAgentState:
        _check_x(self, x_t, 1)
        e = self.encoder(x_t).to(state.h.dtype)  # [batch, out_dim]
        return attrs.evolve(state, h=self.cell(e, state.h))

    def contexts(self, x: torch.Tensor, *, inputs=None) -> torch.Tensor:
        b, t = _check_x(self, x, 2)
        if inputs is None:
            raise ShapeError("PolicyAgent inputs", f"[batch={b}, time={t}, num_actions={self.num_actions}] recorded actions", "None", "pass the actions taken (teacher forcing); sample new ones with the per-step API (GenCore)")
        inputs = _check_inputs(self, inputs, b, t)
        self._check_actions(inputs)
        _, dtype = _device_dtype(self, inputs, None, None)
        return inputs.to(dtype)

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """Teacher-forced ``h_t`` for every step: ``x: [batch, time, *obs_shape] -> [batch, time, hidden]``."""
        b, t = _check_x(self, x, 2)
        e = self.encoder(x)  # [batch, time, out_dim]
        h = e.new_zeros(b, self.hidden)
        hs = []
        for s in range(t):
            hs.append(h)
            if s + 1 < t:
                h = self.cell(e[:, s], h)
        return torch.stack(hs, dim=1) if hs else e.new_zeros(b, 0, self.hidden)

    def policy_dists(self, x: torch.Tensor) -> torch.distributions.Distribution:
        """``π(· | h_t)`` for every step at once, batch ``[batch, time]``."""
        return self.head.dist_from(self.hidden_states(x))

    def action_log_prob(self, x: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log π(a_t | h_t)``: ``[batch, time]``; ``actions: [batch, time, num_actions]`` (one-hot when discrete)."""
        b, t = _check_x(self, x, 2)
        actions = _check_inputs(self, actions, b, t)
        self._check_actions(actions)
        pi = self.policy_dists(x)
        return pi.log_prob(actions.argmax(-1) if self.discrete else actions.to(pi.mean.dtype))
