"""Agents in the loop: a gymnasium environment behind a model's per-step interface (DESIGN §3).

:class:`EnvCore` wraps ``batch_size`` copies of an environment so that
:class:`~seqgen.GenCore` drives it exactly as it drives a model, with the same agent::

    c_t, a = agent.context(a)          # c_t: [batch, context_dim], the action in its last columns
    p_t, s = core.prior_step(s, c_t)   # the environment steps; p_t is a point mass at x_t
    x_t    = p_t.sample()              # [batch, state_dim + 2] = [state, reward, done]
    s      = core.observe(s, x_t)

The observation is one flat vector laid out like :meth:`EnvCore.decoder`'s ``GroupDecoder``:
``state`` (Normal, ``state_dim``), ``reward`` (Normal, 1), ``done`` (Bernoulli, 1). A sequence
model trained on the recorded rollouts (the actions as its agent's inputs) then stands in for the
environment: the learned world model of vae-seq (Sulsky, 2017) and of Ha & Schmidhuber (2018),
*World Models*.

Conventions: step 0 is the reset (``x_0 = [s_0, 0, 0]``, its context is ignored), so action
``a_t`` (``t >= 1``) acts on the state shown at ``t - 1``. After an episode ends (terminated or
truncated) its environment repeats the last state with ``reward = 0, done = 1``; those steps are
outside the episode (``mask = False``). ``done`` records termination only, never truncation.

:func:`rollout` runs a core with an agent holding a :class:`~seqgen.PolicyAgent` and returns
:class:`Episodes`; :func:`reinforce_loss` is REINFORCE (Williams, 1992) with a per-step baseline::

    G_t = Σ_{s >= t} γ^{s-t} r_s m_s,   b_t = mean_i G_{i,t} over live episodes,
    loss = -Σ_{i, t>=1} m_{i,t} log π(a_{i,t} | h_{i,t}) (G_{i,t} - b_t) / σ_A / Σ m  -  β H̄[π]

Shapes: ``x: [batch, time, state_dim + 2]``, ``actions: [batch, time, action_dim]`` (one-hot for
discrete actions), ``mask, log_pi, entropy, rewards: [batch, time]``, ``returns: [batch]``.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Optional, Tuple

import attrs
import numpy as np
import torch
from pyro.distributions import Delta

from .components.agents import ChainAgent, ChainAgentState, ObservationAgent, PolicyAgent, PolicyAgentState
from .components.base import Agent
from .components.decoders import BernoulliDecoder, GroupDecoder, GroupDistribution, NormalDecoder
from .components.encoders import FlattenEncoder
from .components.mlp import check_int
from .data.batch import SeqBatch
from .errors import ConfigError, DataError, SeqgenError, ShapeError
from .gencore import GenCore
from .state import State, state
from .train.objectives import LossOutput

__all__ = [
    "EnvCore", "EnvState", "Episodes", "OptionalDependencyError", "policy_of", "rollout", "reinforce_loss",
    "split_observation", "with_policy",
]


class OptionalDependencyError(SeqgenError, ImportError):
    """An optional dependency is not installed. Fields: ``package``, ``extra``."""

    def __init__(self, package: str, needed_for: str, extra: str):
        self.package, self.extra = package, extra
        super().__init__(f"{needed_for} needs the optional dependency {package!r}, which is not installed; pip install 'seqgen[{extra}]' (or pip install {package})")


def split_observation(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x: [*, state_dim + 2] -> (state [*, state_dim], reward [*], done [*])``."""
    return x[..., :-2], x[..., -2], x[..., -1]


def _describe(space: Any) -> str:
    return f"{type(space).__name__} {space!r}"


def _action_space(space: Any) -> Tuple[bool, int]:
    """``(discrete, action_dim)`` for ``Discrete(n)`` or a 1-D ``Box``; ConfigError naming any other space."""
    kind = type(space).__name__
    if kind == "Discrete":
        return True, operator.index(space.n)
    if kind == "Box" and len(space.shape) == 1:
        return False, int(space.shape[0])
    raise ConfigError(
        "env.action_space", f"env.action_space: expected Discrete(n) or a 1-D Box, got {_describe(space)}; PolicyAgent acts with one categorical or one real vector",
        "flatten the space with a gymnasium ActionWrapper (e.g. MultiDiscrete -> Discrete of the product)",
    )


def _observation_space(space: Any) -> int:
    """``state_dim`` of a 1-D ``Box``; ConfigError naming any other space."""
    if type(space).__name__ == "Box" and len(space.shape) == 1:
        return int(space.shape[0])
    raise ConfigError(
        "env.observation_space", f"env.observation_space: expected a 1-D Box (a real state vector), got {_describe(space)}",
        "wrap the environment, e.g. gymnasium.wrappers.FlattenObservation for a Box of images or a Dict, or one-hot encode a Discrete state",
    )


@state
class EnvState(State):
    """last: ``[batch, state_dim + 2]`` the latest observation; over: ``[batch]`` bool, the episode has ended
    (terminated or truncated); valid: ``[batch]`` bool, ``last`` belongs to the episode; t: steps taken;
    clock: the core's clock when this state was made (a state is used once, in order)."""

    last: torch.Tensor
    over: torch.Tensor
    valid: torch.Tensor
    t: int = 0
    clock: int = 0


class EnvCore:
    """``batch_size`` environments behind ``initial_state`` / ``prior_step`` / ``observe`` (see the module docstring).

    make_env: a callable returning a new environment with the gymnasium API (``reset(seed=…) -> (obs,
              info)``, ``step(action) -> (obs, reward, terminated, truncated, info)``,
              ``observation_space`` a 1-D ``Box``, ``action_space`` ``Discrete`` or a 1-D ``Box``; spaces are
              recognised by those class names, so gymnasium, gym and hand-written spaces all work).
    seed:     seeds the per-episode reset seeds (None: drawn from torch's global generator).

    The environments hold the physics, so a state is not a pure value: each ``prior_step`` moves them
    on, and reusing an old state raises DataError. ``env_steps`` counts real ``env.step`` calls.
    The action is read from the last ``action_dim`` columns of ``c_t`` (one-hot rows when discrete;
    Box actions are clipped to the bounds), so a ``PolicyAgent`` alone, or a ``ChainAgent`` ending in
    one, drives it.
    """

    def __init__(self, make_env: Callable[[], Any], *, seed: Optional[int] = None, device=None, dtype: Optional[torch.dtype] = None):
        if not callable(make_env):
            raise ConfigError("make_env", f"EnvCore: 'make_env' must be a callable returning an environment (got {type(make_env).__name__})", "pass e.g. lambda: gymnasium.make('CartPole-v1'), or use EnvCore.from_gymnasium")
        self.make_env = make_env
        self.envs = [make_env()]
        first = self.envs[0]
        self.discrete, self.action_dim = _action_space(first.action_space)
        self.state_dim = _observation_space(first.observation_space)
        self.obs_shape = torch.Size([self.state_dim + 2])
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.dtype = dtype if dtype is not None else torch.get_default_dtype()
        self.generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        self.env_steps = 0
        self.clock = 0

    @classmethod
    def from_gymnasium(cls, env_id: str = "CartPole-v1", *, seed: Optional[int] = None, **make_kwargs) -> "EnvCore":
        """``EnvCore(lambda: gymnasium.make(env_id, **make_kwargs))``; gymnasium is imported here only."""
        try:
            import gymnasium
        except ImportError:
            raise OptionalDependencyError("gymnasium", f"EnvCore.from_gymnasium({env_id!r})", "play") from None
        return cls(lambda: gymnasium.make(env_id, **make_kwargs), seed=seed)

    def __repr__(self) -> str:
        kind = f"Discrete({self.action_dim})" if self.discrete else f"Box({self.action_dim},)"
        return f"EnvCore({type(self.envs[0]).__name__}, state_dim={self.state_dim}, actions={kind}, env_steps={self.env_steps})"

    # ------------------------------------------------------------------ components that fit
    def decoder(self, in_dim: int, *, hidden=()) -> GroupDecoder:
        """The model decoder for these observations: ``{'state': Normal, 'reward': Normal, 'done': Bernoulli}``."""
        return GroupDecoder({
            "state": NormalDecoder(in_dim, self.state_dim, hidden=hidden),
            "reward": NormalDecoder(in_dim, 1, hidden=hidden),
            "done": BernoulliDecoder(in_dim, 1, hidden=hidden),
        })

    def policy(self, *, hidden: int = 64, encoder=None) -> PolicyAgent:
        """A PolicyAgent for this action space reading the whole observation (default ``FlattenEncoder``)."""
        encoder = FlattenEncoder(self.obs_shape) if encoder is None else encoder
        return PolicyAgent(encoder, self.action_dim, hidden=hidden, discrete=self.discrete)

    def check_agent(self, agent: Agent) -> PolicyAgent:
        """The agent's PolicyAgent, or ConfigError when it cannot act in this environment's action space."""
        policy = policy_of(agent)
        space = self.envs[0].action_space
        if policy.discrete != self.discrete or policy.num_actions != self.action_dim:
            kind = "discrete" if policy.discrete else "continuous"
            raise ConfigError(
                "agent", f"agent: its PolicyAgent ({kind}, num_actions={policy.num_actions}) cannot act in env.action_space {_describe(space)}",
                f"build the policy with EnvCore.policy(), i.e. PolicyAgent(encoder, {self.action_dim}, discrete={self.discrete})",
            )
        return policy

    # ------------------------------------------------------------------ the per-step interface
    def _tensor(self, rows) -> torch.Tensor:
        return torch.as_tensor(np.asarray(rows, dtype=np.float64)).to(device=self.device, dtype=self.dtype)

    def initial_state(self, batch_size: int) -> EnvState:
        """Reset ``batch_size`` environments (seeded); step 0 will show the reset observations."""
        batch_size = check_int("EnvCore", "batch_size", batch_size)
        while len(self.envs) < batch_size:
            self.envs.append(self.make_env())
        seeds = torch.randint(0, 2**31 - 1, (batch_size,), generator=self.generator).tolist()
        states = [np.asarray(env.reset(seed=s)[0], dtype=np.float64).reshape(-1) for env, s in zip(self.envs, seeds)]
        zeros = np.zeros((batch_size, 2))
        last = self._tensor(np.concatenate([np.stack(states), zeros], axis=1))  # [batch, state_dim + 2]
        flags = torch.zeros(batch_size, dtype=torch.bool, device=self.device)
        self.clock += 1
        return EnvState(last=last, over=flags, valid=~flags, t=0, clock=self.clock)

    def _action(self, context_t: torch.Tensor, batch: int):
        """The last ``action_dim`` columns of ``c_t: [batch, ≥ action_dim]`` as env actions (numpy)."""
        if not isinstance(context_t, torch.Tensor) or context_t.dim() != 2 or context_t.shape[0] != batch or context_t.shape[1] < self.action_dim:
            got = "None" if context_t is None else tuple(getattr(context_t, "shape", ()))
            raise ShapeError("context_t", f"[batch={batch}, context_dim>={self.action_dim}] with the action last", got, "drive the environment with EnvCore.policy() or a ChainAgent ending in it")
        a = context_t[:, -self.action_dim:].detach()
        if not self.discrete:
            space = self.envs[0].action_space
            return np.clip(a.double().cpu().numpy(), space.low, space.high).astype(getattr(space, "dtype", np.float64))
        if not (((a == 0) | (a == 1)).all(-1) & (a.sum(-1) == 1)).all():
            raise DataError("context_t", f"the last {self.action_dim} columns must be one-hot actions for {_describe(self.envs[0].action_space)}", "put the PolicyAgent last in the agent")
        return (a.argmax(-1) + int(getattr(self.envs[0].action_space, "start", 0))).cpu().numpy()

    def prior_step(self, state: EnvState, context_t: Optional[torch.Tensor]) -> Tuple[GroupDistribution, EnvState]:
        """Step every live environment with its action; returns a point mass at ``x_t`` (batch ``[batch]``)."""
        if not isinstance(state, EnvState) or state.clock != self.clock:
            raise DataError("state", "is stale or foreign: the environments have moved on since it was made", "use each state once and in order (as GenCore does); start again with initial_state")
        batch = state.last.shape[0]
        actions = self._action(context_t, batch)
        if state.t == 0:  # the reset step: show s_0, ignore the action
            x, over, valid = state.last, state.over, state.valid
        else:
            rows, over, valid = state.last.cpu().double().numpy().copy(), state.over.cpu().numpy().copy(), ~state.over.cpu().numpy()
            for i in range(batch):
                if over[i]:
                    rows[i, -2:] = (0.0, 1.0)  # absorbing: last state, reward 0, done 1
                    continue
                obs, reward, terminated, truncated, _ = self.envs[i].step(actions[i])
                self.env_steps += 1
                rows[i, :-2] = np.asarray(obs, dtype=np.float64).reshape(-1)
                rows[i, -2:] = (float(reward), float(terminated))
                over[i] = bool(terminated or truncated)
            x, over, valid = self._tensor(rows), torch.as_tensor(over, device=self.device), torch.as_tensor(valid, device=self.device)
        parts = {"state": x[:, :-2], "reward": x[:, -2:-1], "done": x[:, -1:]}
        self.clock += 1
        dist = GroupDistribution({k: Delta(v, event_dim=1) for k, v in parts.items()})
        return dist, EnvState(last=x, over=over, valid=valid, t=state.t + 1, clock=self.clock)

    def observe(self, state: EnvState, x_t: torch.Tensor) -> EnvState:
        """Unchanged: the environment's observation is the one it produced."""
        return state


# ---------------------------------------------------------------------------- agents
def policy_of(agent: Agent) -> PolicyAgent:
    """The PolicyAgent that supplies the action: ``agent`` itself, or the last agent of a ChainAgent
    (ConfigError for any other agent)."""
    inner = agent.agents[-1] if isinstance(agent, ChainAgent) else agent
    if not isinstance(inner, PolicyAgent):
        raise ConfigError("agent", f"agent: expected a PolicyAgent or a ChainAgent ending in one, got {type(agent).__name__}", "build it with with_policy(model.agent, policy) or pass the PolicyAgent itself")
    return inner


def _policy_state(agent_state: State) -> PolicyAgentState:
    return agent_state.states[-1] if isinstance(agent_state, ChainAgentState) else agent_state


def with_policy(model_agent: Agent, policy: PolicyAgent) -> ChainAgent:
    """The agent that lets ``policy`` act in a model trained on rollouts.

    ``model_agent`` is the model's ``ObservationAgent(enc, input_dim=num_actions)`` (teacher-forced
    contexts ``[enc(x_{t-1}), a_t]`` from the recorded actions); the result
    ``ChainAgent([ObservationAgent(enc), policy])`` gives the same contexts with ``a_t ~ π(· | h_t)``,
    and drives an :class:`EnvCore` too (the action is last).
    """
    if not isinstance(policy, PolicyAgent):
        raise ConfigError("policy", f"with_policy: 'policy' must be a PolicyAgent (got {type(policy).__name__})", "build it with EnvCore.policy()")
    if not isinstance(model_agent, ObservationAgent) or model_agent.input_dim != policy.num_actions:
        got = f"{type(model_agent).__name__}(input_dim={getattr(model_agent, 'input_dim', '?')})"
        raise ConfigError("model_agent", f"with_policy: expected the model's ObservationAgent(enc, input_dim={policy.num_actions}), got {got}", f"build the model with input_dim={policy.num_actions} and its default agent, and train it with the actions as inputs")
    return ChainAgent([ObservationAgent(model_agent.encoder), policy])


# ---------------------------------------------------------------------------- rollouts and REINFORCE
@attrs.frozen(kw_only=True)
class Episodes:
    """A batch of rollouts (see the module docstring for shapes); ``log_pi``/``entropy`` carry the policy's graph."""

    x: torch.Tensor
    actions: torch.Tensor
    log_pi: torch.Tensor
    entropy: torch.Tensor
    mask: torch.Tensor

    @property
    def rewards(self) -> torch.Tensor:
        """``[batch, time]`` rewards inside the episodes (0 outside)."""
        r = split_observation(self.x)[1]
        return torch.where(self.mask, r, r.new_zeros(()))

    @property
    def returns(self) -> torch.Tensor:
        """``[batch]`` undiscounted episode returns ``Σ_t r_t m_t``."""
        return self.rewards.sum(1)

    def to_batch(self) -> SeqBatch:
        """The rollouts as training data: ``x`` observed where ``mask``, the actions as ``inputs``."""
        x = self.x.detach()
        return SeqBatch.from_tensor(torch.where(self.mask.unsqueeze(-1), x, x.new_zeros(())), self.mask, inputs=self.actions.detach())


def rollout(core: Any, agent: Agent, batch_size: int, num_steps: int) -> Episodes:
    """Run ``GenCore(core, agent)`` for at most ``num_steps`` steps, stopping once every episode ended.

    ``core`` is an :class:`EnvCore` or a model trained on its observations (its sampled ``done``
    ends an episode). The per-step ``log π`` and entropy are read from the policy's running sums,
    so they carry gradients to the policy; run under ``torch.no_grad()`` to only collect, and freeze
    a model's parameters while training a policy inside it (nothing of the model needs a graph).
    """
    if isinstance(core, EnvCore):
        core.check_agent(agent)
    else:
        policy_of(agent)  # ConfigError before any step
    gen = GenCore(core, agent)
    s, a = gen.start(batch_size)
    alive = _policy_state(a).log_prob.new_ones(batch_size, dtype=torch.bool)  # [batch] the episode goes on
    xs, acts, lps, ents, masks = [], [], [], [], []
    for _ in range(num_steps):
        before = _policy_state(a)
        out = gen.run(batch_size, 1, state=s, agent_state=a)
        s, a, after = out.state, out.agent_state, _policy_state(out.agent_state)
        x_t = out.x[:, 0]  # [batch, state_dim + 2]
        xs.append(x_t)
        acts.append(after.last_action)
        lps.append(after.log_prob - before.log_prob)  # [batch] log π(a_t | h_t)
        ents.append(after.entropy - before.entropy)
        masks.append(alive)
        alive = alive & (split_observation(x_t)[2] < 0.5)
        if isinstance(core, EnvCore):
            alive = alive & ~s.over  # truncation ends an episode without done
        if not bool(alive.any()):
            break
    stack = lambda ts: torch.stack(ts, dim=1)  # noqa: E731 — T x [batch, …] -> [batch, T, …]
    return Episodes(x=stack(xs), actions=stack(acts), log_pi=stack(lps), entropy=stack(ents), mask=stack(masks))


def reinforce_loss(episodes: Episodes, *, discount: float = 0.99, entropy_weight: float = 0.0) -> LossOutput:
    """REINFORCE with a per-step batch-mean baseline and normalised advantages (module docstring).

    Step 0 (the reset, whose action nothing reads) is left out of the policy term. Metrics:
    ``return`` (mean undiscounted return), ``entropy`` (mean per-step policy entropy).
    """
    if not 0.0 <= discount <= 1.0:
        raise ConfigError("discount", f"'discount' must be in [0, 1] (got {discount!r})")
    m = episodes.mask.to(episodes.log_pi.dtype)  # [batch, time]
    r = episodes.rewards.detach().to(m.dtype)
    g, acc = torch.zeros_like(r), r.new_zeros(r.shape[0])
    for t in range(r.shape[1] - 1, -1, -1):  # G_t = r_t + γ G_{t+1}
        acc = r[:, t] + discount * acc
        g[:, t] = acc
    live = m.sum(0).clamp(min=1.0)  # [time]
    adv = (g - (g * m).sum(0) / live) * m  # G_t - b_t on live steps
    steps = m.clone()
    steps[:, 0] = 0.0
    n = steps.sum().clamp(min=1.0)
    std = ((adv.pow(2) * steps).sum() / n).sqrt().clamp(min=1e-6)
    pg = -(episodes.log_pi * (adv / std).detach() * steps).sum() / n
    ent = (episodes.entropy * steps).sum() / n
    loss = pg - entropy_weight * ent
    return LossOutput(loss=loss, metrics={"return": episodes.returns.mean().detach(), "entropy": ent.detach()}, terms={"policy_gradient": pg, "entropy": ent})
