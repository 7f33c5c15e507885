"""Tests of the built-in ``iseq`` model (seqgen.models.iseq) and ``reverse_padded``."""

from __future__ import annotations

import importlib.util

import hypothesis.strategies as st
import pyro
import pytest
import torch
from hypothesis import given, settings
from pyro import poutine

import seqgen
from seqgen.components.agents import ConstantAgent
from seqgen.components.encoders import FlattenEncoder
from seqgen.models.common import reverse_padded
from seqgen.models.iseq import SPEC, ISeqConfig, ISeqModel, ISeqState

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


def build(**over) -> ISeqModel:
    return SPEC.build(**{**SPEC.test_config, **over})


def test_reverse_padded():
    x = torch.arange(10.0).reshape(2, 5, 1)
    y = reverse_padded(x, torch.tensor([3, 5]))
    assert y[..., 0].tolist() == [[2, 1, 0, 3, 4], [9, 8, 7, 6, 5]]
    torch.testing.assert_close(reverse_padded(y, torch.tensor([3, 5])), x)  # its own inverse
    tokens = torch.arange(6).reshape(2, 3)  # [batch, time] with no feature dims
    assert reverse_padded(tokens, torch.tensor([1, 2])).tolist() == [[0, 1, 2], [4, 3, 5]]


@pytest.mark.parametrize("obs", OBS_KINDS)
def test_shapes_every_obs_kind(obs):
    torch.manual_seed(0)
    model = build(obs=obs, cell="lstm" if obs == "beta" else "gru")
    x = data(obs)
    obs_shape = () if obs == "categorical" else (3,)
    assert tuple(model.obs_shape) == obs_shape
    elbo, iwae = model.elbo(x), model.iwae(x, 3)
    assert elbo.shape == iwae.shape == (3,) and torch.isfinite(elbo).all() and torch.isfinite(iwae).all()
    q = model.infer(x)
    assert q["z_loc"].shape == q["z_scale"].shape == (3, 5, 2) and (q["z_scale"] > 0).all()
    s = model.initial_state(3)
    c0, _ = model.agent.context(model.agent.initial_state(3))
    p, s = model.prior_step(s, c0)
    assert isinstance(s, ISeqState) and s.z.shape == (3, 2) and s.z_log_prob.shape == (3,)
    assert p.batch_shape == (3,) and tuple(p.event_shape) == obs_shape
    cond = model.condition(x)
    assert cond.h.shape == (3, 1, 8) and cond.z.shape == (3, 2)
    assert model.has_rsample == (obs in ("normal", "beta"))
    assert model.prior_log_prob(x, torch.zeros(3, 5, 2)).shape == (3, 5)


@settings(max_examples=12, deadline=None)
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=3), pad=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_right_padding_changes_nothing_under_the_same_seed(lengths, pad, seed):
    torch.manual_seed(seed)
    model = build(obs="normal", cell="lstm")
    time = max(lengths)
    x = data("normal", batch=len(lengths), time=time + pad)
    mask = torch.arange(time + pad) < torch.tensor(lengths)[:, None]
    results = []
    for t in (time, time + pad):  # the same batch with and without `pad` extra padded steps
        torch.manual_seed(seed)  # padding draws noise for extra steps, so re-seed before each call
        elbo = model.elbo(x[:, :t], mask=mask[:, :t])
        torch.manual_seed(seed)
        iwae = model.iwae(x[:, :t], 3, mask=mask[:, :t])
        results.append((elbo, iwae, model.infer(x[:, :t], mask=mask[:, :t])["z_loc"][:, :time]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)  # float32 round-off only
    x2 = torch.where(mask[..., None], x, torch.randn_like(x))  # other values where the mask hides them
    torch.manual_seed(seed)
    torch.testing.assert_close(model.elbo(x2, mask=mask), results[1][0])


def test_posterior_reads_the_future_but_not_padding():
    torch.manual_seed(1)
    model = build(obs="normal")
    x = data("normal", batch=1, time=6)
    mask = torch.tensor([[True] * 4 + [False] * 2])
    loc = model.infer(x, mask=mask)["z_loc"]
    x_future = x.clone()
    x_future[:, 3] += 1.0  # a later observed step: the smoother's q(z_1 | x) must move
    assert not torch.allclose(model.infer(x_future, mask=mask)["z_loc"][:, 1], loc[:, 1])
    longer = torch.ones(1, 6, dtype=torch.bool)  # observing steps 4, 5 as well changes q at t < 4 too
    assert not torch.allclose(model.infer(x, mask=longer)["z_loc"][:, :4], loc[:, :4])


def test_iwae_grows_with_particles_and_iwae1_matches_elbo_in_expectation():
    torch.manual_seed(2)
    model = build(obs="bernoulli")
    x = data("bernoulli", batch=1, time=4).expand(400, 4, 3)  # 400 copies: averages over the noise
    with torch.no_grad():
        elbo = model.elbo(x)
        iw = {k: model.iwae(x, k) for k in (1, 4, 16)}
    # E[IWAE_1] = ELBO; |mean difference| < 4 standard errors (seeded; failure rate ~6e-5 unseeded)
    se = (iw[1].std() ** 2 / 400 + elbo.std() ** 2 / 400).sqrt()
    assert (iw[1].mean() - elbo.mean()).abs() < 4 * se
    # E[IWAE_K] is non-decreasing in K (Burda et al. 2016, Theorem 1); gaps are many standard errors here
    assert iw[1].mean() < iw[4].mean() < iw[16].mean()


def test_fused_elbo_equals_pyro_trace_elbo():
    torch.manual_seed(3)
    pyro.clear_param_store()
    model = build(obs="categorical")
    x = data("categorical", time=6)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[0, 4:] = False  # padding: no latent, no likelihood
    mask[1, 2] = False  # a hole: a latent, no likelihood
    xz, mask_, lengths, _ = model.check_inputs(x, mask=mask)
    q = model.infer(x, mask=mask)
    for elbo_cls in (pyro.infer.Trace_ELBO, pyro.infer.TraceMeanField_ELBO):
        pyro.set_rng_seed(11)
        loss = elbo_cls().differentiable_loss(model.model, model.guide, x, mask=mask)
        pyro.set_rng_seed(11)  # the same seed draws the same reparameterised z in the guide
        guide_tr = poutine.trace(model.guide).get_trace(x, mask=mask)
        model_tr = poutine.trace(poutine.replay(model.model, trace=guide_tr)).get_trace(x, mask=mask)
        z = guide_tr.nodes["z"]["value"]  # [batch, time, z_dim]
        torch.testing.assert_close(model_tr.nodes["z"]["value"], z)
        # the fused torch ELBO (analytic KL), fed the guide's noise ε = (z - μ) / σ
        eps = ((z - q["z_loc"]) / q["z_scale"]).detach()
        model._noise = lambda loc: eps
        fused = -model.elbo(x, mask=mask).sum()
        del model._noise
        if elbo_cls is pyro.infer.TraceMeanField_ELBO:  # analytic KL on both sides
            torch.testing.assert_close(loss, fused, atol=1e-4, rtol=1e-5)
        else:  # Trace_ELBO's KL is the one-sample log q - log p at the same z
            c = model.agent.contexts(xz)
            log_lik, kl, log_p, log_q = model._score(xz, c, mask_, lengths, z, q["z_loc"], q["z_scale"])
            torch.testing.assert_close(fused, -(log_lik - kl).sum(), atol=1e-4, rtol=1e-5)
            torch.testing.assert_close(loss, fused - (kl - (log_q - log_p)).sum(), atol=1e-4, rtol=1e-5)
    assert guide_tr.nodes["z"]["fn"].batch_shape == (3,) and guide_tr.nodes["z"]["fn"].event_shape == (6, 2)


def test_prior_used_in_sampling_equals_prior_in_the_elbo():
    torch.manual_seed(4)
    model = build(obs="normal", input_dim=2)
    inputs = torch.randn(2, 4, 2)
    s = model.initial_state(2)
    a = model.agent.initial_state(2, inputs=inputs)
    xs, zs, lps = [], [], []
    for _ in range(4):
        c_t, a = model.agent.context(a)
        p, s = model.prior_step(s, c_t)
        x_t = p.sample()
        s, a = model.observe(s, x_t), model.agent.observe(a, x_t)
        xs.append(x_t), zs.append(s.z), lps.append(s.z_log_prob)
    x, z = torch.stack(xs, 1), torch.stack(zs, 1)
    torch.testing.assert_close(model.prior_log_prob(x, z, context=inputs), torch.stack(lps, 1))
    with pytest.raises(seqgen.ShapeError, match="z"):
        model.prior_log_prob(x, z[..., :1], context=inputs)


def test_per_step_decoder_equals_whole_sequence_for_given_latents():
    torch.manual_seed(5)
    model = build(obs="bernoulli", num_layers=2, cell="lstm")
    x, z = data("bernoulli", time=4), torch.randn(3, 4, 2)
    c = model.agent.contexts(x)
    whole = model._decode(c, z).log_prob(x)  # [batch, time]
    h, cell = model.dec_rnn.initial(3, c)
    for t in range(4):
        d, h, cell = model.dec_rnn.step(torch.cat([c[:, t], z[:, t]], -1), h, cell)
        torch.testing.assert_close(model.decoder.dist_from(d).log_prob(x[:, t]), whole[:, t], atol=1e-5, rtol=1e-5)


def test_context_free_agent():
    torch.manual_seed(6)
    cfg = ISeqConfig(obs_dim=3, obs="normal", z_dim=2, hidden=8, inference_hidden=8, embed_dim=0)
    model = ISeqModel(cfg, agent=ConstantAgent(0), encoder=FlattenEncoder((3,)))
    x = data("normal", batch=2)
    assert model.elbo(x).shape == (2,)
    p, s = model.prior_step(model.initial_state(2), None)
    assert p.batch_shape == (2,)
    with pytest.raises(seqgen.ShapeError, match="encoder.*obs_shape"):
        ISeqModel(cfg, encoder=FlattenEncoder((4,)))


def test_state_dict_round_trip_and_bad_inputs():
    torch.manual_seed(7)
    a = build(obs="categorical")
    torch.manual_seed(8)
    b = build(obs="categorical")
    x = data("categorical")
    b.load_state_dict(a.state_dict())
    for k in ("z_loc", "z_scale"):
        torch.testing.assert_close(a.infer(x)[k], b.infer(x)[k])
    torch.manual_seed(0)
    ea = a.elbo(x)
    torch.manual_seed(0)
    torch.testing.assert_close(ea, b.elbo(x))
    with pytest.raises(seqgen.DataError, match="vocabulary|support"):
        a.elbo(torch.tensor([[0, 5]]))
    with pytest.raises(seqgen.ShapeError):
        a.elbo(torch.zeros(2, 3, 3, dtype=torch.long))
    normal = build(obs="normal")
    with pytest.raises(seqgen.DataError, match="NaN"):
        normal.iwae(torch.full((1, 2, 3), float("nan")), 2)
    with pytest.raises(seqgen.DataError, match="floating"):
        normal.elbo(torch.zeros(1, 2, 3, dtype=torch.long))
    with pytest.raises(seqgen.ConfigError, match="num_particles"):
        normal.iwae(torch.zeros(1, 2, 3), 0)
    with pytest.raises(seqgen.CapabilityError, match="log_prob"):
        normal.log_prob(torch.zeros(1, 2, 3))
    with pytest.raises(seqgen.ConfigError, match="'z_dim'"):
        ISeqConfig(obs_dim=3, z_dim=0)


def test_training_lowers_the_negative_elbo():
    torch.manual_seed(9)
    model = build(obs="bernoulli", hidden=16)
    x = (torch.arange(8)[None, :, None] % 2 == torch.arange(3)[None, None, :] % 2).float().expand(4, 8, 3)  # alternating bits
    batch = seqgen.SeqBatch.from_tensor(x)
    loss_fn = model.objective().loss_fn
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    with torch.no_grad():
        first = sum(loss_fn(batch, 1.0).loss.item() for _ in range(5)) / 5
    for _ in range(40):
        opt.zero_grad()
        out = loss_fn(batch, 1.0)
        out.loss.backward()
        opt.step()
    with torch.no_grad():
        last = sum(loss_fn(batch, 1.0).loss.item() for _ in range(5)) / 5
    assert set(out.terms) == {"reconstruction", "kl"}
    assert last < 0.6 * first  # seeded; 5-sample averages of the noisy bound, a wide margin


@pytest.mark.skipif(not HAS_GENCORE, reason="seqgen.gencore is not written yet")
def test_sampling_forecast_impute():
    torch.manual_seed(10)
    model = build(obs="normal", num_layers=2)
    assert model.distribution(4).sample((2,)).shape == (2, 4, 3)
    x = data("normal", batch=2, time=3)
    assert model.forecast(x, 4).shape == (2, 4, 3)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    filled = model.impute(x, mask)
    assert filled.shape == x.shape and torch.equal(filled[mask], x[mask])
    assert torch.isfinite(filled).all()
