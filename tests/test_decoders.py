"""Decoders and MLP: shapes over leading dims, likelihood values, value checks, GroupDecoder, gradients."""

from __future__ import annotations

import warnings

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgen import ConfigError, DataError, ShapeError
from seqgen.components import (
    MLP,
    BernoulliDecoder,
    BetaDecoder,
    CategoricalDecoder,
    GroupDecoder,
    GroupDistribution,
    MADEDecoder,
    NormalDecoder,
)

IN = 4
LEADS = [(), (2,), (2, 3)]


def make(kind: str):
    return {
        "bernoulli": lambda: BernoulliDecoder(IN, 3, hidden=(5,)),
        "made": lambda: MADEDecoder(IN, 3, hidden=(5,), made_hidden=4),
        "normal": lambda: NormalDecoder(IN, 3, hidden=(5,)),
        "normal_fixed": lambda: NormalDecoder(IN, 3, scale=0.5),
        "categorical": lambda: CategoricalDecoder(IN, 7),
        "beta": lambda: BetaDecoder(IN, 3),
        "group": lambda: GroupDecoder({"bits": BernoulliDecoder(IN, 2), "reward": NormalDecoder(IN, 1), "rate": BetaDecoder(IN, 3)}),
    }[kind]()


KINDS = ["bernoulli", "made", "normal", "normal_fixed", "categorical", "beta", "group"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lead", LEADS)
def test_decoder_shapes_over_leading_dims(kind, lead):
    torch.manual_seed(0)
    dec = make(kind)
    d = dec.dist_from(torch.randn(*lead, IN))
    assert d.batch_shape == torch.Size(lead)
    assert d.event_shape == dec.event_shape
    x = d.sample()
    assert x.shape == torch.Size(lead) + dec.event_shape
    assert d.log_prob(x).shape == torch.Size(lead)
    assert torch.isfinite(d.log_prob(x)).all()
    xs = d.sample(torch.Size([5]))
    assert xs.shape == torch.Size([5, *lead]) + dec.event_shape
    assert bool(dec.support.check(x).all())


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_every_decoder_parameter(kind):
    torch.manual_seed(1)
    dec = make(kind)
    f = torch.randn(6, IN)
    with torch.no_grad():
        x = dec.dist_from(f).sample()
    (-dec.dist_from(f).log_prob(x).sum()).backward()
    for name, p in dec.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_bernoulli_log_prob_is_the_sum_of_bit_log_likelihoods():
    torch.manual_seed(2)
    dec = BernoulliDecoder(IN, 3)
    f = torch.randn(2, 5, IN)
    logits = dec(f)
    x = torch.randint(0, 2, (2, 5, 3)).float()
    expected = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    torch.testing.assert_close(dec.dist(logits).log_prob(x), expected)
    assert dec.is_discrete and not dec.has_rsample


def test_normal_scales_learned_and_fixed():
    torch.manual_seed(3)
    learned = NormalDecoder(IN, 3, min_scale=0.1)
    p1, p2 = learned(torch.randn(8, IN)), learned(torch.randn(8, IN))
    assert set(p1) == {"loc", "scale"}
    assert (p1["scale"] > 0.1).all()
    assert not torch.equal(p1["scale"], p2["scale"])  # the scale depends on the features
    fixed = NormalDecoder(IN, 3, scale=0.25)
    p = fixed(torch.randn(2, 5, IN))
    assert p["scale"].shape == (2, 5, 3) and torch.all(p["scale"] == 0.25)
    assert fixed.has_rsample and fixed.dist(p).rsample().requires_grad


def test_categorical_check_values_names_token_and_vocabulary():
    dec = CategoricalDecoder(IN, 5)
    dec.check_values(torch.tensor([0, 4, 2]))
    dec.check_values(torch.tensor([0.0, 4.0]))  # integer-valued floats are tokens too
    with pytest.raises(DataError, match=r"token 7 .*\[0, 5\).*num_classes >= 8"):
        dec.check_values(torch.tensor([[1, 7], [0, 2]]))
    with pytest.raises(DataError, match="token -1"):
        dec.check_values(torch.tensor([-1, 2]))
    assert dec.event_shape == torch.Size([]) and dec.is_discrete


def test_bernoulli_and_beta_check_values():
    BernoulliDecoder(IN, 2).check_values(torch.tensor([[0.0, 1.0]]))
    with pytest.raises(DataError, match=r"\{0, 1\}, got 0.5 at index \(0, 1\)"):
        BernoulliDecoder(IN, 2).check_values(torch.tensor([[0.0, 0.5]]))
    BetaDecoder(IN, 2).check_values(torch.tensor([[0.1, 0.9]]))
    with pytest.raises(DataError, match=r"strictly inside \(0, 1\).*clamp"):
        BetaDecoder(IN, 2).check_values(torch.tensor([[0.0, 0.5]]))


def test_constructor_and_input_errors_name_the_decoder():
    with pytest.raises(ConfigError, match="BernoulliDecoder: 'obs_dim' must be an integer >= 1"):
        BernoulliDecoder(IN, 0)
    with pytest.raises(ConfigError, match="NormalDecoder: 'scale' must be 'learned' or a number"):
        NormalDecoder(IN, 2, scale="fixed")
    with pytest.raises(ConfigError, match="'min_concentration' must be a number > 0"):
        BetaDecoder(IN, 2, min_concentration=0)
    with pytest.raises(ShapeError, match=r"CategoricalDecoder features: expected \[\*, in_dim=4\], got \(2, 3\); build CategoricalDecoder with in_dim=3"):
        CategoricalDecoder(IN, 5)(torch.randn(2, 3))


def test_group_log_prob_is_the_sum_of_parts_on_their_slices():
    torch.manual_seed(4)
    dec = make("group")
    f = torch.randn(2, 5, IN)
    params = dec(f)
    d = dec.dist(params)
    assert isinstance(d, GroupDistribution) and d.event_shape == (6,)
    x = d.sample()
    parts = dec.split(x)
    assert {k: v.shape[-1] for k, v in parts.items()} == {"bits": 2, "reward": 1, "rate": 3}
    expected = sum(dec.parts[k].dist(params[k]).log_prob(parts[k]) for k in dec.parts)
    torch.testing.assert_close(d.log_prob(x), expected)
    assert list(d.slices) == ["bits", "reward", "rate"] and d.slices["reward"] == slice(2, 3)
    assert torch.equal(d.split(x)["rate"], x[..., 3:6])
    torch.testing.assert_close(d.entropy(), sum(p.entropy() for p in d.parts.values()))
    assert d.mean.shape == (2, 5, 6)


def test_group_rsample_only_when_every_part_has_it():
    torch.manual_seed(5)
    f = torch.randn(3, IN)
    mixed = make("group")
    assert not mixed.has_rsample and not mixed.is_discrete
    with pytest.raises(NotImplementedError, match="bits"):
        mixed.dist_from(f).rsample()
    smooth = GroupDecoder({"a": NormalDecoder(IN, 2), "b": BetaDecoder(IN, 1)})
    assert smooth.has_rsample
    assert smooth.dist_from(f).rsample().requires_grad
    assert GroupDecoder({"a": BernoulliDecoder(IN, 2), "b": BernoulliDecoder(IN, 1)}).is_discrete


def test_group_expand_plate_and_trace():
    torch.manual_seed(6)
    dec = make("group")
    d = dec.dist_from(torch.randn(4, IN))
    e = d.expand((2, 4))
    assert e.batch_shape == (2, 4) and e.event_shape == (6,) and e._validate_args == d._validate_args
    x = d.sample()

    def model():
        with pyro.plate("seqs", 4):
            pyro.sample("x", d, obs=x)

    tr = poutine.trace(model).get_trace()
    torch.testing.assert_close(tr.log_prob_sum(), d.log_prob(x).sum())
    assert isinstance(d.to_event(1), dist.Independent)


def test_group_construction_errors_name_the_part():
    with pytest.raises(ShapeError, match=r"GroupDecoder part 'r' in_dim: expected in_dim=4 \(as part 'x'\), got in_dim=5"):
        GroupDecoder({"x": BernoulliDecoder(IN, 2), "r": NormalDecoder(5, 1)})
    with pytest.raises(ShapeError, match=r"GroupDecoder part 'tok' event_shape: expected \(dim,\), got \(\)"):
        GroupDecoder({"x": BernoulliDecoder(IN, 2), "tok": CategoricalDecoder(IN, 3)})
    with pytest.raises(ConfigError, match="non-empty mapping"):
        GroupDecoder({})


def test_group_check_values_delegates_per_slice():
    dec = make("group")
    good = torch.tensor([[1.0, 0.0, -3.0, 0.2, 0.5, 0.7]])
    dec.check_values(good)
    bad = good.clone()
    bad[0, 4] = 1.0
    with pytest.raises(DataError, match=r"x\[\.\.\., 3:6\] \(part 'rate'\)"):
        dec.check_values(bad)
    with pytest.raises(ShapeError, match=r"expected \[\*, 6\]"):
        dec.check_values(good[:, :5])


@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3), batch=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_group_log_prob_sum_property(sizes, batch, seed):
    torch.manual_seed(seed)
    parts = {f"p{i}": NormalDecoder(IN, n) for i, n in enumerate(sizes)}
    dec = GroupDecoder(parts)
    f = torch.randn(batch, IN)
    d = dec.dist_from(f)
    x = d.sample()
    expected = sum(p.dist_from(f).log_prob(x[..., dec.slices[k]]) for k, p in parts.items())
    torch.testing.assert_close(d.log_prob(x), expected)  # same ops, float32 default tolerances


@pytest.mark.parametrize("lead", LEADS)
def test_mlp_shapes_and_layers(lead):
    torch.manual_seed(7)
    assert MLP(3, 2)(torch.randn(*lead, 3)).shape == torch.Size(lead) + (2,)
    assert len([m for m in MLP(3, 2).modules() if isinstance(m, torch.nn.Linear)]) == 1
    deep = MLP(3, 2, hidden=(8, 8), activation="tanh", out_activation="sigmoid")
    y = deep(torch.randn(*lead, 3))
    assert y.shape == torch.Size(lead) + (2,) and ((y > 0) & (y < 1)).all()
    assert len([m for m in deep.modules() if isinstance(m, torch.nn.Linear)]) == 3


def test_mlp_errors_and_empty_input():
    with pytest.raises(ConfigError, match="'activation' must be one of"):
        MLP(3, 2, activation="swish")
    with pytest.raises(ConfigError, match="'hidden' must be a tuple"):
        MLP(3, 2, hidden=8)
    with pytest.raises(ShapeError, match=r"expected \[\*, in_dim=3\], got \(2, 4\)"):
        MLP(3, 2)(torch.randn(2, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = MLP(0, 2)  # a context-free head: the output is the bias
    assert torch.equal(m(torch.zeros(5, 0)), m.net[0].bias.expand(5, 2))
