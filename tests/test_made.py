"""MADEDecoder: a normalised autoregressive distribution over bits, sampled in order, usable in Pyro."""

from __future__ import annotations

import itertools

import pyro
import pyro.poutine as poutine
import pytest
import torch

import seqgen
from seqgen import ConfigError, DataError, ShapeError
from seqgen.components import MADEDecoder
from seqgen.components.made import made_masks


def decoder(obs_dim=5, in_dim=3, made_hidden=7, seed=0):
    torch.manual_seed(seed)
    dec = MADEDecoder(in_dim, obs_dim, hidden=(6,), made_hidden=made_hidden)
    with torch.no_grad():  # the direct weights start at zero; give them values so they are exercised
        dec.w_dir.normal_()
    return dec


def every_bit_vector(obs_dim):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=obs_dim)))  # [2^D, D]


@pytest.mark.parametrize("obs_dim", [1, 2, 5])
def test_probabilities_sum_to_one(obs_dim):
    dec = decoder(obs_dim)
    d = dec.dist_from(torch.randn(2, 3))
    log_p = d.log_prob(every_bit_vector(obs_dim)[:, None, :])  # [2^D, 2]
    torch.testing.assert_close(log_p.logsumexp(0), torch.zeros(2), atol=1e-5, rtol=0)


def test_each_logit_depends_only_on_earlier_bits():
    dec = decoder(6)
    d = dec.dist_from(torch.randn(3))
    x = (torch.rand(6) < 0.5).float()
    jac = torch.autograd.functional.jacobian(d.logits, x)  # [6 logits, 6 bits]
    assert torch.count_nonzero(jac.triu()) == 0  # logit k ignores bits k, k+1, …
    assert torch.count_nonzero(jac.tril(-1)) > 0  # … and reads the ones before it


def test_masks_give_every_output_after_the_first_a_path():
    m_in, m_out, m_dir = made_masks(4, 6)
    assert m_in.shape == (6, 4) and m_out.shape == (4, 6) and m_dir.shape == (4, 4)
    reach = (m_out @ m_in > 0) | (m_dir > 0)  # bit k reads bit j through a unit or directly
    assert torch.equal(reach, torch.ones(4, 4).tril(-1).bool())


def test_samples_follow_the_probabilities():
    # seed 0; 40,000 draws: the largest frequency error of 32 outcomes stays below 0.01
    # (the standard error of a frequency is at most 0.0025)
    dec = decoder(5)
    d = dec.dist_from(torch.randn(3))
    torch.manual_seed(0)
    xs = d.sample((40000,))
    code = (xs * 2 ** torch.arange(4, -1, -1.0)).sum(-1).long()
    freq = torch.bincount(code, minlength=32).float() / len(xs)
    prob = d.log_prob(every_bit_vector(5)).exp()
    assert (freq - prob).abs().max() < 0.01


def test_shapes_expand_and_pyro_trace():
    dec = decoder(4)
    d = dec.dist_from(torch.randn(2, 5, 3))
    assert d.batch_shape == (2, 5) and d.event_shape == (4,)
    assert d.sample((3,)).shape == (3, 2, 5, 4)
    e = d.expand((7, 2, 5))
    x = d.sample()
    torch.testing.assert_close(e.log_prob(x), d.log_prob(x).expand(7, 2, 5))
    mask = torch.tensor([True, False, True, True, False])

    def model():
        with pyro.plate("seqs", 2, dim=-2), pyro.plate("steps", 5, dim=-1):
            pyro.sample("x", d.mask(mask), obs=x)

    tr = poutine.trace(model).get_trace()
    torch.testing.assert_close(tr.log_prob_sum(), d.log_prob(x)[:, mask].sum())


def test_bad_values_and_sizes_get_clear_errors():
    dec = decoder(3)
    with pytest.raises(DataError, match=r"MADEDecoder needs bits in \{0, 1\}, got 0\.5"):
        dec.check_values(torch.tensor([[0.0, 0.5, 1.0]]))
    with pytest.raises(ShapeError, match=r"MADEDecoder features: expected \[\*, in_dim=3\]"):
        dec(torch.randn(2, 4))
    with pytest.raises(ConfigError, match="made_hidden"):
        MADEDecoder(3, 4, made_hidden=-1)
    with pytest.raises(NotImplementedError, match="no closed-form mean"):
        dec.dist_from(torch.randn(3)).mean


def chords(n, seed):
    """Bits 0 and 1 equal (a fair coin), bits 2 and 3 independent with p = 0.3: ``[n, 4]``."""
    g = torch.Generator().manual_seed(seed)
    coin = (torch.rand(n, 1, generator=g) < 0.5).float()
    return torch.cat([coin, coin, (torch.rand(n, 2, generator=g) < 0.3).float()], dim=-1)


def test_made_learns_a_chord_that_independent_bits_cannot():
    # Entropy: log 2 + 2 H(0.3) = 1.915 nats; independent bits cannot go below 2 log 2 + 2 H(0.3) = 2.609.
    # 600 seeded Adam steps on 4,096 draws; held-out NLL within 0.03 nats of each optimum.
    train, held_out = chords(4096, 0), chords(4096, 1)
    features = torch.zeros(4096, 0)
    nll = {}
    for name, dec in (("bernoulli", seqgen.components.BernoulliDecoder(0, 4)), ("made", MADEDecoder(0, 4, made_hidden=8))):
        torch.manual_seed(0)
        opt = torch.optim.Adam(dec.parameters(), lr=0.05)
        for _ in range(600):
            opt.zero_grad()
            (-dec.dist_from(features).log_prob(train).mean()).backward()
            opt.step()
        with torch.no_grad():
            nll[name] = float(-dec.dist_from(features).log_prob(held_out).mean())
    assert abs(nll["bernoulli"] - 2.609) < 0.03 and abs(nll["made"] - 1.915) < 0.03, nll


def test_builtin_models_accept_obs_made():
    x = (torch.rand(3, 5, 4) < 0.4).float()
    for family, extra in (("rnn", {"hidden": 8}), ("iseq", {"hidden": 8, "z_dim": 2})):
        torch.manual_seed(0)
        model = seqgen.load_model(family, obs="made", obs_dim=4, **extra)
        assert isinstance(model.decoder, MADEDecoder)
        score = model.log_prob(x) if family == "rnn" else model.elbo(x)
        assert score.shape == (3,) and torch.isfinite(score).all()
        assert model.distribution(6).sample((2,)).shape == (2, 6, 4)
