"""GenCore and SequenceDistribution against the Pyro distribution contract (DESIGN §3)."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from gencore_fixtures import GaussianAR
from hypothesis import given, settings
from hypothesis import strategies as st
from pyro.infer import SVI, Predictive, Trace_ELBO

from seqgen import CapabilityError, ConfigError, GenCore, SequenceDistribution, ShapeError


@pytest.fixture
def model():
    torch.manual_seed(0)
    return GaussianAR()


@settings(max_examples=15, deadline=None)
@given(
    sample_shape=st.lists(st.integers(1, 3), max_size=2),
    batch_shape=st.lists(st.integers(1, 3), max_size=2),
    steps=st.integers(1, 4),
)
def test_sample_and_log_prob_shapes(sample_shape, batch_shape, steps):
    torch.manual_seed(0)
    d = GaussianAR().distribution(steps).expand(batch_shape)
    x = d.sample(sample_shape)
    assert x.shape == torch.Size(sample_shape + batch_shape + [steps, 2])
    lp = d.log_prob(x)
    assert lp.shape == torch.Size(sample_shape + batch_shape)
    assert torch.isfinite(lp).all()


def test_support_event_dim_and_rsample(model):
    d = model.distribution(3)
    assert d.support.event_dim == len(d.event_shape) == 2
    x = d.rsample((2,))
    x.sum().backward()  # gradients flow through reparameterised steps
    assert model.A.weight.grad is not None


def test_expand_keeps_validate_args(model):
    d = SequenceDistribution(model, 3, validate_args=True).expand([4])
    assert d._validate_args is True
    assert SequenceDistribution(model, 3, validate_args=False).expand([4])._validate_args is False


def test_log_prob_equals_sum_of_recorded_step_log_probs(model):
    ro = GenCore(model).run(5, 6, record=True)
    assert torch.allclose(ro.log_probs.sum(1), model.log_prob(ro.x), atol=1e-5)


def test_prefix_condition_is_a_conditional(model):
    prefix = torch.randn(3, 4, 2)
    d = model.distribution(2).prefix_condition(prefix)
    assert d.batch_shape == (3,)
    y = d.sample((5,))
    assert y.shape == (5, 3, 2, 2)
    whole = model.log_prob(torch.cat([prefix, y[0]], 1))
    assert torch.allclose(d.log_prob(y[0]), whole - model.log_prob(prefix), atol=1e-5)
    # conditioning twice equals conditioning once on the concatenation
    more = torch.randn(3, 1, 2)
    d2 = d.prefix_condition(more)
    assert torch.equal(d2.prefix, torch.cat([prefix, more], 1))


def test_works_in_plate_trace_and_predictive(model):
    def program():
        with pyro.plate("seqs", 3):
            return pyro.sample("x", model.distribution(4))

    tr = pyro.poutine.trace(program).get_trace()
    assert tr.nodes["x"]["value"].shape == (3, 4, 2)
    assert torch.isfinite(tr.log_prob_sum())
    out = Predictive(program, num_samples=7, parallel=True)()
    assert out["x"].shape == (7, 3, 4, 2)


def test_svi_fits_a_sequence_model_through_the_distribution():
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    teacher, student = GaussianAR(), GaussianAR()
    data = GenCore(teacher).run(64, 5).x.detach()

    def program(x):
        pyro.module("ar", student)
        with pyro.plate("seqs", x.shape[0]):
            pyro.sample("x", student.distribution(5), obs=x)

    svi = SVI(program, lambda x: None, pyro.optim.Adam({"lr": 0.05}), Trace_ELBO())
    first = svi.step(data)
    for _ in range(60):
        last = svi.step(data)
    assert last < first  # the exact NLL falls (seeded; typically by > 20 %)


def test_log_prob_needs_capability_and_iwae_only_by_name(model):
    class NoLP(GaussianAR):
        capabilities = frozenset({"generate"})

    d = NoLP().distribution(3)
    x = d.sample()
    with pytest.raises(CapabilityError, match="log_prob"):
        d.log_prob(x)
    with pytest.raises(CapabilityError, match="iwae"):
        d.iwae_log_prob(x, 5)


def test_bad_arguments_get_seqgen_errors(model):
    with pytest.raises(ConfigError, match="num_steps"):
        model.distribution(0)
    with pytest.raises(ShapeError, match="value"):
        model.distribution(3).log_prob(torch.zeros(2, 4, 2))
    with pytest.raises(ShapeError, match="prefix"):
        model.distribution(3).prefix_condition(torch.zeros(2, 4, 3))


def test_impute_keeps_observed_steps(model):
    x = torch.randn(3, 6, 2)
    mask = torch.rand(3, 6) > 0.5
    mask[:, 0] = True
    filled = GenCore(model).impute(x, mask)
    assert torch.equal(filled[mask], x[mask])
    assert torch.isfinite(filled).all()
