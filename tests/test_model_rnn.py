"""Tests of the built-in ``rnn`` model (seqgen.models.rnn) and its shared helpers."""

from __future__ import annotations

import importlib.util

import hypothesis.strategies as st
import pyro
import pytest
import torch
from hypothesis import given, settings

import seqgen
from seqgen.components.agents import ConstantAgent, ObservationAgent
from seqgen.components.decoders import BernoulliDecoder, NormalDecoder
from seqgen.components.encoders import FlattenEncoder
from seqgen.models.rnn import SPEC, RNNConfig, RNNModel, RNNState

OBS_KINDS = ("bernoulli", "normal", "categorical", "beta")
HAS_GENCORE = importlib.util.find_spec("seqgen.gencore") is not None


def data(obs: str, batch: int = 3, time: int = 5, obs_dim: int = 3) -> torch.Tensor:
    """A batch of valid observations for an observation kind."""
    if obs == "bernoulli":
        return torch.randint(0, 2, (batch, time, obs_dim)).float()
    if obs == "normal":
        return torch.randn(batch, time, obs_dim)
    if obs == "categorical":
        return torch.randint(0, obs_dim, (batch, time))
    return torch.rand(batch, time, obs_dim).clamp(0.02, 0.98)


def build(**over) -> RNNModel:
    return SPEC.build(**{**SPEC.test_config, **over})


def step_by_step(model, x, inputs=None):
    """Per-step ``log p(x_t | x_{<t})`` ``[batch, time]`` and the states after each step."""
    s = model.initial_state(x.shape[0])
    a = model.agent.initial_state(x.shape[0], inputs=inputs)
    lps, states = [], []
    for t in range(x.shape[1]):
        c_t, a = model.agent.context(a)
        p, s = model.prior_step(s, c_t)
        lps.append(p.log_prob(x[:, t]))
        s = model.observe(s, x[:, t])
        a = model.agent.observe(a, x[:, t])
        states.append(s)
    return torch.stack(lps, 1), states


@pytest.mark.parametrize("obs", OBS_KINDS)
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_shapes_every_obs_kind(obs, cell):
    torch.manual_seed(0)
    model = build(obs=obs, cell=cell, num_layers=2)
    x = data(obs)
    obs_shape = () if obs == "categorical" else (3,)
    assert tuple(model.obs_shape) == obs_shape
    lp = model.log_prob(x)
    assert lp.shape == (3,) and torch.isfinite(lp).all()
    s = model.initial_state(3)
    assert s.h.shape == (3, 2, 8) and (s.c is None) == (cell == "gru")
    c0, _ = model.agent.context(model.agent.initial_state(3))
    p, s = model.prior_step(s, c0)
    assert p.batch_shape == (3,) and tuple(p.event_shape) == obs_shape
    state = model.condition(x)
    assert isinstance(state, RNNState) and state.h.shape == (3, 2, 8)
    assert model.has_rsample == (obs in ("normal", "beta"))


@pytest.mark.parametrize("cell,layers", [("gru", 2), ("lstm", 1), ("lstm", 2)])
def test_per_step_equals_whole_sequence(cell, layers):
    torch.manual_seed(1)
    model = build(obs="normal", cell=cell, num_layers=layers, input_dim=2)
    x, inputs = data("normal", time=6), torch.randn(3, 6, 2)
    per_step, _ = step_by_step(model, x, inputs)
    # float32 round-off between one length-T RNN call and T length-1 calls: 1e-5
    torch.testing.assert_close(per_step.sum(1), model.log_prob(x, context=inputs), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_condition_gathers_state_at_ragged_lengths(cell):
    torch.manual_seed(2)
    model = build(obs="bernoulli", cell=cell, num_layers=2)
    x = data("bernoulli", time=6)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[0, 2:] = False  # length 2
    mask[1, 4:] = False  # length 4
    mask[2, 1] = False  # a hole, length 6
    state = model.condition(x, mask=mask)
    xz = x * mask[..., None]  # what the model reads at hidden steps
    _, states = step_by_step(model, xz)
    for b, length in enumerate([2, 4, 6]):
        torch.testing.assert_close(state.h[b], states[length - 1].h[b], atol=1e-5, rtol=1e-5)
        if cell == "lstm":
            torch.testing.assert_close(state.c[b], states[length - 1].c[b], atol=1e-5, rtol=1e-5)


@settings(max_examples=15, deadline=None)
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4), pad=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_right_padding_and_masked_values_change_nothing(lengths, pad, seed):
    torch.manual_seed(seed)
    model = build(obs="categorical", cell="lstm")
    time = max(lengths) + pad
    x = data("categorical", batch=len(lengths), time=time)
    mask = torch.arange(time) < torch.tensor(lengths)[:, None]
    lp = model.log_prob(x, mask=mask)
    for b, n in enumerate(lengths):  # each sequence alone, unpadded
        torch.testing.assert_close(lp[b : b + 1], model.log_prob(x[b : b + 1, :n]), atol=1e-5, rtol=1e-5)
    x2 = torch.where(mask, x, torch.randint_like(x, 0, 3))  # other tokens where the mask hides them
    torch.testing.assert_close(model.log_prob(x2, mask=mask), lp)


def test_hole_inside_sequence_is_skipped_in_likelihood():
    torch.manual_seed(3)
    model = build(obs="normal")
    x = data("normal", batch=1, time=4)
    mask = torch.tensor([[True, False, True, True]])
    per_step, _ = step_by_step(model, x * mask[..., None])
    expected = per_step[:, [0, 2, 3]].sum(1)
    torch.testing.assert_close(model.log_prob(x, mask=mask), expected, atol=1e-5, rtol=1e-5)


def test_beta_hidden_steps_keep_gradients_finite():
    torch.manual_seed(4)
    model = build(obs="beta")
    x = data("beta")
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[:, 3:] = False  # zero-filled steps sit on the edge of a Beta's support
    model.log_prob(x, mask=mask).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_trace_elbo_equals_negative_log_prob():
    torch.manual_seed(5)
    pyro.clear_param_store()
    model = build(obs="bernoulli")
    x = data("bernoulli")
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[0, 3:] = False
    loss = pyro.infer.Trace_ELBO().differentiable_loss(model.model, model.guide, x, mask=mask)
    torch.testing.assert_close(loss, -model.log_prob(x, mask=mask).sum(), atol=1e-4, rtol=1e-5)
    tr = pyro.poutine.trace(model.model).get_trace(x, mask=mask)
    assert tr.nodes["x"]["fn"].batch_shape == (3,) and tr.nodes["x"]["fn"].event_shape == (5, 3)


def test_state_dict_round_trip():
    torch.manual_seed(6)
    a, x = build(obs="categorical", num_layers=2), data("categorical")
    torch.manual_seed(7)
    b = build(obs="categorical", num_layers=2)
    assert not torch.allclose(a.log_prob(x), b.log_prob(x))
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a.log_prob(x), b.log_prob(x))


def test_bad_inputs_raise_seqgen_errors():
    torch.manual_seed(8)
    normal, tokens = build(obs="normal"), build(obs="categorical")
    x = data("normal")
    with pytest.raises(seqgen.DataError, match="NaN"):
        normal.log_prob(torch.where(torch.rand_like(x) < 0.5, torch.nan, x))
    with pytest.raises(seqgen.ShapeError, match="obs_dim|3"):
        normal.log_prob(torch.randn(3, 5, 4))
    with pytest.raises(seqgen.DataError, match="floating"):
        normal.log_prob(torch.zeros(3, 5, 3, dtype=torch.long))
    with pytest.raises(seqgen.DataError, match="vocabulary|support"):
        tokens.log_prob(torch.tensor([[0, 1, 3]]))
    with pytest.raises(seqgen.ShapeError, match="context"):
        normal.log_prob(x, context=torch.randn(3, 5, 2))
    with_inputs = build(obs="normal", input_dim=2)
    with pytest.raises(seqgen.ShapeError, match="context"):
        with_inputs.log_prob(x)


def test_mismatched_components_raise_at_construction():
    cfg = RNNConfig(obs_dim=3, hidden=8, embed_dim=0)
    with pytest.raises(seqgen.ShapeError, match="decoder.*in_dim=8.*in_dim=5"):
        RNNModel(cfg, decoder=BernoulliDecoder(5, 3))
    with pytest.raises(seqgen.ShapeError, match="decoder.*obs_shape"):
        RNNModel(cfg, decoder=BernoulliDecoder(8, 4))
    with pytest.raises(seqgen.ShapeError, match="agent.*obs_shape"):
        RNNModel(cfg, agent=ObservationAgent(FlattenEncoder((4,))))
    with pytest.raises(seqgen.ShapeError, match="agent.*input_dim"):
        RNNModel(cfg, agent=ObservationAgent(FlattenEncoder((3,)), input_dim=2))
    with pytest.raises(seqgen.ShapeError, match="context_dim"):
        RNNModel(cfg, agent=ConstantAgent(0))
    with pytest.raises(seqgen.ConfigError, match="Decoder"):
        RNNModel(cfg, decoder=torch.nn.Linear(8, 3))
    model = RNNModel(cfg, decoder=NormalDecoder(8, 3, scale=0.5, hidden=(4,)))  # a fitting user decoder
    assert model.log_prob(torch.randn(2, 4, 3)).shape == (2,)


def test_config_validation_and_round_trip():
    with pytest.raises(seqgen.ConfigError, match="'obs' must be one of"):
        RNNConfig(obs_dim=3, obs="poisson")
    with pytest.raises(seqgen.ConfigError, match="'cell'"):
        RNNConfig(obs_dim=3, cell="rnn")
    with pytest.raises(seqgen.ConfigError, match="'decoder_hidden'"):
        RNNConfig(obs_dim=3, decoder_hidden=(0,))
    with pytest.raises(seqgen.ConfigError, match="'obs_dim'"):
        RNNConfig(obs_dim=0)
    cfg = RNNConfig(obs_dim=3, decoder_hidden=[16])
    assert cfg.decoder_hidden == (16,)
    assert RNNConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.with_overrides(["cell=lstm", "num_layers=2"]).num_layers == 2


def test_spec_and_objective():
    assert SPEC.name == "rnn" and SPEC.capabilities == RNNModel.capabilities
    model = SPEC.build(SPEC.make_config(**SPEC.test_config))
    assert set(SPEC.default_components(model.config)) == {"decoder", "agent"}
    with pytest.raises(seqgen.CapabilityError):
        model.iwae(data("bernoulli"), 4)  # no latents to importance-sample
    x = data("bernoulli")
    assert torch.allclose(model.elbo(x), model.log_prob(x))  # KL = 0: the bound is tight


def test_training_lowers_the_loss():
    torch.manual_seed(9)
    model = build(obs="bernoulli", hidden=16)
    x = (torch.arange(8)[None, :, None] % 2 == torch.arange(3)[None, None, :] % 2).float().expand(4, 8, 3)  # alternating bits
    batch = seqgen.SeqBatch.from_tensor(x)
    loss_fn = model.objective().loss_fn
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    first = loss_fn(batch, 1.0).loss.item()
    for _ in range(40):
        opt.zero_grad()
        loss_fn(batch, 1.0).loss.backward()
        opt.step()
    last = loss_fn(batch, 1.0).loss.item()
    assert last < 0.5 * first  # deterministic data and seed; the pattern is learnable in 40 steps


@pytest.mark.skipif(not HAS_GENCORE, reason="seqgen.gencore is not written yet")
def test_sampling_forecast_impute():
    torch.manual_seed(10)
    model = build(obs="categorical", cell="lstm", num_layers=2)
    assert model.distribution(4).sample((2,)).shape == (2, 4)
    x = data("categorical", batch=2, time=3)
    assert model.forecast(x, 4).shape == (2, 4)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    filled = model.impute(x, mask)
    assert filled.shape == x.shape and torch.equal(filled[mask], x[mask])
    assert ((filled >= 0) & (filled < 3)).all()
