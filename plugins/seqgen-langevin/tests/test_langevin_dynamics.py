"""The machine's equations: closed-form drift vs autograd, the fused sampler vs the textbook step,
the learning statistics vs their definition, and the trajectory log-probability vs a direct sum."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import seqgen
from seqgen_langevin import SPEC, LangevinConfig, LangevinMachine, contrastive_statistics, drift, energy, langevin_


def _params(n, seed, bias=True, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    J = torch.randn(n, n, generator=g, dtype=dtype) * (2.0 / math.sqrt(n))
    b = torch.randn(n, generator=g, dtype=dtype) if bias else None
    x = 2.0 * torch.randn(5, n, generator=g, dtype=dtype)
    return J, b, x


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 10_000), bias=st.booleans())
def test_drift_equals_minus_autograd_gradient_of_energy(n, seed, bias):
    J, b, x = _params(n, seed, bias)
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(x, J, b).sum(), x)
    # float64 closed form vs autograd: agreement to rounding (1e-10 absolute)
    torch.testing.assert_close(drift(x.detach(), J, b), -grad, rtol=1e-10, atol=1e-10)


def test_drift_over_leading_dims_matches_rows():
    J, b, _ = _params(4, 1)
    x = torch.randn(2, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(drift(x, J, b), drift(x.reshape(6, 4), J, b).reshape(2, 3, 4))


@pytest.mark.parametrize("bias", [True, False])
def test_fused_sampler_equals_textbook_euler_maruyama(bias):
    J, b, x0 = _params(7, 3, bias)
    dt, temp, steps = 0.05, 0.7, 4
    torch.manual_seed(11)
    x = x0.clone()
    snaps, traces = langevin_(x, J, b, dt=dt, temperature=temp, num_steps=steps, record_at=(4, 0, 2), trace_neurons=torch.tensor([1, 5]))
    torch.manual_seed(11)  # same noise: normal_ on a [B, N] buffer draws what randn([B, N]) draws
    ref = [x0.clone()]
    for _ in range(steps):
        ref.append(ref[-1] + dt * drift(ref[-1], J, b) + math.sqrt(2 * temp * dt) * torch.randn(x0.shape, dtype=x0.dtype))
    torch.testing.assert_close(x, ref[-1], rtol=1e-10, atol=1e-10)  # float64: rounding only
    torch.testing.assert_close(snaps, torch.stack([ref[4], ref[0], ref[2]]))
    torch.testing.assert_close(traces, torch.stack(ref)[:, :, [1, 5]])


def test_contrastive_statistics_match_their_definition():
    J, b, x_data = _params(6, 4)
    x_model = torch.randn(9, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    temp = 0.5
    s = contrastive_statistics(x_data, x_model, J, b, temperature=temp)

    def corr(x):
        r = x - (torch.tanh(x) @ J.T + b)
        return torch.einsum("mi,mj->ij", r, torch.tanh(x)) / len(x), r.mean(0), 0.5 * (r**2).sum(1).mean()

    cd, rd, ed = corr(x_data)
    cm, rm, em = corr(x_model)
    torch.testing.assert_close(s.delta_J, (cd - cm) / temp)
    torch.testing.assert_close(s.delta_b, (rd - rm) / temp)
    torch.testing.assert_close(s.energy_data, ed / temp)
    torch.testing.assert_close(s.energy_model, em / temp)


def _direct_log_prob(model, x, x0=None):
    """Σ_t log N(x_t; x_{t−1} + Δt(−∇E(x_{t−1})), 2TΔt I), one step at a time (step 1: N(0, σ₀²) or from x0)."""
    c = model.config
    total = torch.zeros(x.shape[0], dtype=x.dtype)
    prev = x0
    for t in range(x.shape[1]):
        if prev is None:
            d = torch.distributions.Normal(torch.zeros_like(x[:, t]), c.init_scale)
        else:
            d = torch.distributions.Normal(prev + c.dt * model.drift(prev), math.sqrt(2 * c.temperature * c.dt))
        total = total + d.log_prob(x[:, t]).sum(-1)
        prev = x[:, t]
    return total


@pytest.mark.parametrize("bias", [True, False])
def test_trajectory_log_prob_equals_direct_gaussian_sum(bias):
    torch.manual_seed(0)
    model = LangevinMachine(LangevinConfig(num_neurons=5, dt=0.1, temperature=0.8, init_scale=1.5, bias=bias, num_model_chains=4)).double()
    if bias:
        torch.nn.init.normal_(model.b)
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(model.log_prob(x), _direct_log_prob(model, x))
        x0 = torch.randn(3, 5, dtype=torch.float64)
        torch.testing.assert_close(model.step_log_probs(x, x0=x0).sum(1), _direct_log_prob(model, x, x0))
        # right padding: a shorter sequence scores its own steps only
        mask = torch.ones(3, 6, dtype=torch.bool)
        mask[1, 4:] = False
        want = _direct_log_prob(model, x)
        want[1] = _direct_log_prob(model, x[1:2, :4])[0]
        torch.testing.assert_close(model.log_prob(x, mask=mask), want)


def test_sampling_prior_equals_scoring_prior():
    torch.manual_seed(1)
    model = SPEC.build(**SPEC.test_config).double()
    out = seqgen.GenCore(model).run(4, 5, record=True)  # log_probs: [4, 5] densities of the draws
    with torch.no_grad():
        torch.testing.assert_close(out.log_probs.sum(1), model.log_prob(out.x))
        torch.testing.assert_close(out.log_probs, model.step_log_probs(out.x))


def test_continuing_from_a_given_state():
    torch.manual_seed(2)
    model = SPEC.build(**SPEC.test_config).double()
    x0 = torch.randn(3, 6, dtype=torch.float64)
    out = seqgen.GenCore(model).run(3, 4, state=model.state_from(x0), record=True)
    with torch.no_grad():
        torch.testing.assert_close(out.log_probs, model.step_log_probs(out.x, x0=x0))


def test_zero_temperature_descends_the_energy_to_a_fixed_point():
    torch.manual_seed(0)
    model = LangevinMachine(LangevinConfig(num_neurons=8, gain=0.5, dt=0.1, num_model_chains=2)).double()
    x0 = 3 * torch.randn(5, 8, dtype=torch.float64)
    x, _, _ = model.sample_chains(5, 1000, x0=x0, temperature=0.0)  # E reaches ~1e-9 here
    with torch.no_grad():
        assert bool((model.energy(x) < 1e-6).all()) and bool((model.energy(x0) > 1).all())  # E = 0 at a fixed point
        torch.testing.assert_close(model.field(x), x, atol=1e-3, rtol=0)  # x = Jφ(x) + b
