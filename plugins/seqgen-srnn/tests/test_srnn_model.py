"""The SRNN's whole-sequence API: bounds, the IWAE's whole-sequence weights, latents, forecasting,
imputation, and construction errors."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

import seqgen
import seqgen_srnn.model as srnn_model
from seqgen.components import BernoulliDecoder, FlattenEncoder, ObservationAgent
from seqgen_srnn import SPEC, SRNNConfig

TINY = dict(obs_dim=5, z_dim=3, d_dim=6, a_dim=6, mlp_hidden=7, decoder_hidden=(5,))


def _model(**over):
    torch.manual_seed(0)
    return SPEC.build(**{**TINY, **over})


def _bits(batch=3, time=6, seed=1):
    torch.manual_seed(seed)
    return (torch.rand(batch, time, 5) < 0.4).float()


def test_shapes():
    model, x = _model(), _bits()
    assert model.elbo(x).shape == (3,)
    assert model.iwae(x, 4).shape == (3,)
    post = model.infer(x)
    assert post["z"].shape == post["z_loc"].shape == post["prior_scale"].shape == (3, 6, 3)
    assert post["d"].shape == (3, 6, 6) and post["a"].shape == (3, 6, 6)
    assert model.distribution(4).sample((2,)).shape == (2, 4, 5)


def test_elbo_terms_use_the_analytic_kl_of_the_posterior_chain():
    model, x = _model(), _bits()
    torch.manual_seed(5)
    xc, mask, lengths, ctx = model.check_inputs(x)
    terms = model._elbo_terms(xc, ctx, mask, lengths)
    torch.manual_seed(5)
    post = model.infer(x)  # the same chain (same seed, same draws)
    kl = kl_divergence(Normal(post["z_loc"], post["z_scale"]), Normal(post["prior_loc"], post["prior_scale"]))
    torch.testing.assert_close(terms.kl, kl.sum((1, 2)), rtol=1e-5, atol=1e-5)  # float32 rounding


def test_iwae_is_log_mean_exp_of_whole_sequence_weights():
    """``iwae(x, K)`` runs K particles as ``batch * K`` rows (row ``b * K + k``): under one seed it
    equals the log-mean-exp of ``iwae(·, 1)`` on each sequence repeated K times."""
    model, x = _model(), _bits()
    torch.manual_seed(7)
    bound = model.iwae(x, 4)
    torch.manual_seed(7)
    weights = model.iwae(x.repeat_interleave(4, dim=0), 1).view(3, 4)  # [batch, K] log-weights
    torch.testing.assert_close(bound, torch.logsumexp(weights, 1) - math.log(4), rtol=1e-5, atol=1e-5)
    assert bool((bound > weights.mean(1)).all())  # Jensen: above the average of log-weights


def test_iwae_in_particle_chunks(monkeypatch):
    """With memory for one particle per chunk, chunks draw in turn: the same as K one-particle calls."""
    model, x = _model(), _bits()
    monkeypatch.setattr(srnn_model, "IWAE_ROW_BUDGET", 3 * 6)  # batch * time: one particle per chunk
    torch.manual_seed(3)
    bound = model.iwae(x, 3)
    torch.manual_seed(3)
    weights = torch.stack([model.iwae(x, 1) for _ in range(3)], dim=1)
    torch.testing.assert_close(bound, torch.logsumexp(weights, 1) - math.log(3), rtol=1e-5, atol=1e-5)


def test_iwae_tightens_with_particles():
    model, x = _model(), _bits(batch=4)
    torch.manual_seed(0)
    # 30 seeded repeats; the K=50 bound exceeds the ELBO on average by many standard errors
    elbo = torch.stack([model.elbo(x) for _ in range(30)]).mean(0)
    iwae = torch.stack([model.iwae(x, 50) for _ in range(30)]).mean(0)
    assert bool((iwae > elbo).all())


def test_condition_gives_the_state_after_each_prefix():
    model, x = _model(), _bits()
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[1, 4:] = False  # sequence 1 ends at step 4
    state = model.condition(x, mask=mask)
    d = model.infer(x, mask=mask)["d"]
    torch.testing.assert_close(state.d[1], d[1, 3])  # d is deterministic: exactly d_{length-1}
    torch.testing.assert_close(state.d[0], d[0, 5])
    assert state.z.shape == (3, 3) and state.z_log_prob.shape == (3,)
    assert model.forecast(x, 4).shape == (3, 4, 5)
    cont = model.distribution(2, prefix=x).prefix_condition(x[:, :2])
    assert cont.sample().shape == (3, 2, 5)


def test_impute_keeps_observed_steps_and_fills_holes_in_support():
    model, x = _model(), _bits(batch=4, time=8)
    mask = torch.ones(4, 8, dtype=torch.bool)
    mask[0, 2:4] = False
    mask[2, 5:] = False
    torch.manual_seed(0)
    filled = model.impute(x, mask)
    assert filled.shape == x.shape and filled.dtype == x.dtype
    assert torch.equal(filled[mask], x[mask])
    assert bool(((filled == 0) | (filled == 1)).all())
    assert torch.equal(model.impute(x, torch.ones_like(mask)), x)


def test_tokens():
    model = _model(obs="categorical", obs_dim=7, embed_dim=4)
    torch.manual_seed(0)
    x = torch.randint(0, 7, (2, 5))
    assert model.elbo(x).shape == (2,) and model.iwae(x, 3).shape == (2,)
    sample = model.distribution(6).sample((2,))
    assert sample.shape == (2, 6) and sample.dtype == torch.long


def test_components_that_do_not_fit():
    cfg = SRNNConfig(**TINY)
    with pytest.raises(seqgen.ShapeError, match="in_dim=9"):
        SPEC.model_cls(cfg, decoder=BernoulliDecoder(6, 5))  # z_dim + d_dim = 9
    with pytest.raises(seqgen.ShapeError, match="agent"):
        SPEC.model_cls(cfg, agent=ObservationAgent(FlattenEncoder((4,))))
    with pytest.raises(seqgen.ShapeError, match="encoder"):
        SPEC.model_cls(cfg, encoder=FlattenEncoder((4,)))
    with pytest.raises(seqgen.ConfigError, match="decoder"):
        SPEC.model_cls(cfg, decoder="bernoulli")


@pytest.mark.parametrize(
    "bad, word",
    [({"z_dim": 0}, "z_dim"), ({"inference": "smoothing"}, "inference"), ({"resq": 1}, "resq"),
     ({"decoder_hidden": (0,)}, "decoder_hidden"), ({"min_scale": 0.0}, "min_scale"), ({"obs": "poisson"}, "obs")],
)
def test_config_validation(bad, word):
    with pytest.raises(seqgen.ConfigError, match=word):
        SRNNConfig(**{**TINY, **bad})


def test_config_round_trip_and_overrides():
    cfg = SRNNConfig(**TINY)
    assert SRNNConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.with_overrides(["decoder_hidden=[4, 4]", "inference=filter"]).decoder_hidden == (4, 4)
