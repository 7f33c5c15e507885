"""Agents: the per-step loop equals teacher-forced ``contexts``; inputs; errors; PolicyAgent scoring."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgen import ConfigError, DataError, ShapeError
from seqgen.components import (
    ChainAgent,
    ConstantAgent,
    EmbeddingEncoder,
    FlattenEncoder,
    HistoryAgent,
    MLPEncoder,
    ObservationAgent,
    OneHotEncoder,
    PolicyAgent,
    PolicyAgentState,
)

OBS = (3,)


def run_steps(agent, x, inputs=None):
    """GenCore's loop fed ``x``: ``context`` then ``observe`` at every step -> ``[batch, time, context_dim]``."""
    state = agent.initial_state(x.shape[0], inputs=inputs)
    cs = []
    for t in range(x.shape[1]):
        c, state = agent.context(state)
        cs.append(c)
        state = agent.observe(state, x[:, t])
    return torch.stack(cs, dim=1), state


def make(kind: str):
    """(agent, obs draw, input_dim) for each stock agent."""
    enc = lambda: MLPEncoder(OBS, 4, hidden=(5,))  # noqa: E731
    real = lambda b, t: torch.randn(b, t, *OBS)  # noqa: E731
    return {
        "observation": (ObservationAgent(enc()), real),
        "observation_inputs": (ObservationAgent(enc(), input_dim=2), real),
        "tokens": (ObservationAgent(EmbeddingEncoder(5, 3)), lambda b, t: torch.randint(0, 5, (b, t))),
        "constant": (ConstantAgent(2), real),
        "none": (ConstantAgent(0), real),
        "history": (HistoryAgent(enc(), 3, input_dim=1), real),
        "chain": (ChainAgent([ObservationAgent(enc(), input_dim=1), ConstantAgent(2), HistoryAgent(FlattenEncoder(OBS), 2)]), real),
        "policy": (PolicyAgent(enc(), 3, hidden=6), real),
        "policy_continuous": (PolicyAgent(enc(), 2, hidden=6, discrete=False), real),
    }[kind]


KINDS = ["observation", "observation_inputs", "tokens", "constant", "none", "history", "chain", "policy", "policy_continuous"]


def draw_inputs(agent, b, t):
    if agent.input_dim == 0:
        return None
    if isinstance(agent, PolicyAgent) and agent.discrete:
        return F.one_hot(torch.randint(0, agent.num_actions, (b, t)), agent.num_actions).float()
    return torch.randn(b, t, agent.input_dim)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=8, deadline=None)
@given(batch=st.integers(1, 3), time=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_per_step_loop_equals_contexts(kind, batch, time, seed):
    torch.manual_seed(seed)
    agent, draw = make(kind)
    x = draw(batch, time)
    inputs = draw_inputs(agent, batch, time)
    with torch.no_grad():
        whole = agent.contexts(x, inputs=inputs)
        steps, _ = run_steps(agent, x, inputs)
    assert whole.shape == (batch, time, agent.context_dim)
    # Same ops; only the GEMM batching differs (rows [batch*time] vs [batch]), so float32 may
    # differ in the last bits: tolerance 1e-6 relative and absolute.
    torch.testing.assert_close(steps, whole, rtol=1e-6, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(batch=st.integers(1, 3), time=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_per_step_loop_equals_contexts_bitwise_without_gemms(batch, time, seed):
    """With parameter-free encoders no arithmetic differs, so the two paths agree bit for bit."""
    torch.manual_seed(seed)
    agents = [
        ObservationAgent(FlattenEncoder(OBS), input_dim=1),
        HistoryAgent(FlattenEncoder(OBS), 2, input_dim=2),
        ChainAgent([ObservationAgent(FlattenEncoder(OBS)), ConstantAgent(1), HistoryAgent(FlattenEncoder(OBS), 3)]),
        ConstantAgent(2),
        ObservationAgent(OneHotEncoder(4)),
    ]
    for agent in agents:
        x = torch.randint(0, 4, (batch, time)) if agent.obs_shape == () else torch.randn(batch, time, *OBS)
        inputs = draw_inputs(agent, batch, time)
        steps, _ = run_steps(agent, x, inputs)
        assert torch.equal(steps, agent.contexts(x, inputs=inputs)), type(agent).__name__


def test_observation_agent_shifts_encodings_by_one_step():
    torch.manual_seed(0)
    agent = ObservationAgent(FlattenEncoder(OBS), input_dim=2)
    x, u = torch.randn(2, 4, 3), torch.randn(2, 4, 2)
    c = agent.contexts(x, inputs=u)
    assert torch.equal(c[:, 0, :3], torch.zeros(2, 3))
    assert torch.equal(c[:, 1:, :3], x[:, :-1])
    assert torch.equal(c[..., 3:], u)
    assert agent.context_dim == 5 and agent.obs_shape == OBS


def test_history_agent_window_is_most_recent_first():
    agent = HistoryAgent(FlattenEncoder((1,)), 3)
    x = torch.arange(1.0, 6.0).reshape(1, 5, 1)  # x_t = t + 1
    c = agent.contexts(x)  # [1, 5, 3]: [x_{t-1}, x_{t-2}, x_{t-3}]
    expected = torch.tensor([[0, 0, 0], [1, 0, 0], [2, 1, 0], [3, 2, 1], [4, 3, 2]], dtype=torch.float)
    assert torch.equal(c[0], expected)
    assert agent.contexts(x[:, :0]).shape == (1, 0, 3)


def test_constant_agent_inputs_and_no_context():
    none = ConstantAgent(0)
    s = none.initial_state(4)
    c, s = none.context(s)
    assert c.shape == (4, 0) and s.step == 1
    assert none.contexts(torch.randn(4, 6, 3)).shape == (4, 6, 0)
    with pytest.raises(ShapeError, match=r"ConstantAgent inputs: expected None \(ConstantAgent takes no inputs\), got \(4, 6, 2\); build ConstantAgent with input_dim=2"):
        none.contexts(torch.randn(4, 6, 3), inputs=torch.randn(4, 6, 2))
    given = ConstantAgent(2)
    with pytest.raises(ShapeError, match=r"ConstantAgent inputs: expected \[batch=4, time, input_dim=2\], got None"):
        given.initial_state(4)
    with pytest.raises(ShapeError, match=r"expected \[batch=4, time=6, input_dim=2\], got \(4, 5, 2\)"):
        given.contexts(torch.randn(4, 6), inputs=torch.randn(4, 5, 2))
    s = given.initial_state(4, inputs=torch.randn(4, 1, 2))
    _, s = given.context(s)
    with pytest.raises(ShapeError, match="inputs: expected at least 2 steps, got 1 steps"):
        given.context(s)
    with pytest.raises(DataError, match="floating-point"):
        given.initial_state(2, inputs=torch.ones(2, 3, 2, dtype=torch.long))


def test_chain_agent_splits_inputs_in_order():
    torch.manual_seed(1)
    a, b = ObservationAgent(FlattenEncoder(OBS), input_dim=1), ConstantAgent(2)
    chain = ChainAgent([a, b])
    assert (chain.context_dim, chain.input_dim, chain.obs_shape) == (6, 3, OBS)
    x, u = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    c = chain.contexts(x, inputs=u)
    assert torch.equal(c, torch.cat([a.contexts(x, inputs=u[..., :1]), u[..., 1:]], dim=-1))
    with pytest.raises(ShapeError, match="ObservationAgent inputs"):  # the agent that needs them is named
        chain.initial_state(2)


def test_construction_errors_name_the_component():
    with pytest.raises(ShapeError, match=r"ChainAgent agents\[1\] \(ObservationAgent\) obs_shape: expected \(3,\) \(as agents\[0\]\), got \(4,\)"):
        ChainAgent([ObservationAgent(FlattenEncoder(OBS)), ObservationAgent(FlattenEncoder((4,)))])
    with pytest.raises(ConfigError, match="HistoryAgent: 'window' must be an integer >= 1 \\(got 0\\)"):
        HistoryAgent(FlattenEncoder(OBS), 0)
    with pytest.raises(ConfigError, match="PolicyAgent: 'num_actions' must be an integer >= 1"):
        PolicyAgent(FlattenEncoder(OBS), 0)
    with pytest.raises(ConfigError, match="ObservationAgent: 'encoder' must be a seqgen Encoder"):
        ObservationAgent(torch.nn.Linear(3, 3))
    with pytest.raises(ConfigError, match="at least one Agent"):
        ChainAgent([])
    with pytest.raises(ShapeError, match=r"ObservationAgent x_t: expected \[batch, 3\], got \(2, 4\)"):
        agent = ObservationAgent(FlattenEncoder(OBS))
        agent.observe(agent.initial_state(2), torch.randn(2, 4))


def test_states_follow_parameters_and_support_indexing():
    agent = ObservationAgent(MLPEncoder(OBS, 4)).double()
    s = agent.initial_state(3)
    assert s.prev.dtype == torch.float64
    c, s = agent.context(s)
    assert c.dtype == torch.float64
    s = agent.observe(s, torch.randn(3, 3, dtype=torch.float64))
    picked = s.index(torch.tensor([0, 2]))
    assert picked.prev.shape == (2, 4) and picked.step == 1
    assert s.repeat_interleave(2).prev.shape == (6, 4)
    assert ConstantAgent(1).initial_state(2, inputs=torch.zeros(2, 3, 1, dtype=torch.float64)).inputs.dtype == torch.float64


@pytest.mark.parametrize("discrete", [True, False])
def test_policy_agent_accumulates_log_prob_and_entropy(discrete):
    torch.manual_seed(2)
    agent = PolicyAgent(MLPEncoder(OBS, 4), 3, hidden=5, discrete=discrete)
    x = torch.randn(2, 4, 3)
    state = agent.initial_state(2)
    assert isinstance(state, PolicyAgentState)
    manual_lp, manual_ent, actions = torch.zeros(2), torch.zeros(2), []
    for t in range(4):
        pi = agent.policy_dist(state)
        c, state = agent.context(state)
        a = c.argmax(-1) if discrete else c
        manual_lp, manual_ent = manual_lp + pi.log_prob(a), manual_ent + pi.entropy()
        actions.append(c)
        assert torch.equal(state.last_action, c)
        state = agent.observe(state, x[:, t])
    actions = torch.stack(actions, dim=1)  # [batch, time, num_actions]
    if discrete:
        assert torch.equal(actions.sum(-1), torch.ones(2, 4))  # one-hot contexts
    torch.testing.assert_close(state.log_prob, manual_lp)
    torch.testing.assert_close(state.entropy, manual_ent)
    # The teacher-forced score of the same actions equals the accumulated one (batched GEMMs: 1e-5).
    torch.testing.assert_close(agent.action_log_prob(x, actions).sum(1), state.log_prob, rtol=1e-5, atol=1e-5)
    assert agent.policy_dists(x).batch_shape == (2, 4)
    # REINFORCE: the accumulated log-probability reaches every policy parameter.
    state.log_prob.sum().backward()
    for name, p in agent.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_policy_agent_teacher_forcing_and_errors():
    torch.manual_seed(3)
    agent = PolicyAgent(FlattenEncoder(OBS), 3, hidden=4)
    x = torch.randn(2, 3, 3)
    acts = F.one_hot(torch.tensor([[0, 2, 1], [1, 1, 0]]), 3).float()
    assert torch.equal(agent.contexts(x, inputs=acts), acts)
    replay, _ = run_steps(agent, x, acts)
    assert torch.equal(replay, acts)
    with pytest.raises(ShapeError, match="recorded actions"):
        agent.contexts(x)
    with pytest.raises(DataError, match=r"one-hot rows, got \[0.5, 0.5, 0.0\] at \(batch, time\) \(0, 0\)"):
        agent.contexts(x, inputs=torch.tensor([[[0.5, 0.5, 0.0]] * 3] * 2))
