"""The Pyro model/guide pair: Trace_ELBO equals the fused single-path estimate on the same noise."""

from __future__ import annotations

import math

import pyro
import pyro.poutine as poutine
import pytest
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam

from seqgen_alternator import Alternator, AlternatorConfig
from seqgen_alternator.paths import PathNoise, observed_log_lik, sample_paths


def _setup(holes: bool):
    torch.manual_seed(0)
    model = Alternator(AlternatorConfig(obs_dim=3, z_dim=2, hidden=(8,), sigma_x=0.4, sigma_z=0.3, alpha=(0.2, 0.3, 0.4, 0.5, 0.6, 0.5))).double()
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    mask = torch.ones(3, 6, dtype=torch.bool)
    if holes:
        mask[0, 1] = mask[1, 3] = mask[1, 4] = False
        mask[2, 5] = False  # right padding
    return model, torch.where(mask[..., None], x, torch.zeros_like(x)), mask


def _noise_from_trace(model: Alternator, trace, x, mask) -> tuple:
    """The standard normal draws behind the guide's sites, so the fused path can replay them."""
    cfg = model.config
    sqrt_alpha, decay = model.coefficients(x.shape[1], like=x)
    a = math.sqrt(1 - cfg.sigma_x**2)
    z = trace.nodes["z_0"]["value"]
    z0, eps_z, eps_x = z, [], torch.zeros_like(x)
    for t in range(x.shape[1]):
        x_t = x[:, t]
        name = f"x_hidden_{t + 1}"
        if name in trace.nodes:
            drawn = trace.nodes[name]["value"]
            eps_x[:, t] = (drawn - a * model.observation_net(z)) / cfg.sigma_x
            x_t = torch.where(~mask[:, t, None], drawn, x_t)
        z_next = trace.nodes[f"z_{t + 1}"]["value"]
        eps_z.append((z_next - sqrt_alpha[t] * model.feature_net(x_t) - decay[t] * z) / cfg.sigma_z)
        z = z_next
    return PathNoise(z0, torch.stack(eps_z, 1), eps_x)


@pytest.mark.parametrize("holes", [False, True])
def test_trace_elbo_equals_fused_estimate_on_the_same_noise(holes):
    model, x, mask = _setup(holes)
    pyro.clear_param_store()
    torch.manual_seed(11)
    elbo_loss = Trace_ELBO().differentiable_loss(model.model, model.guide, x, mask=mask)
    torch.manual_seed(11)  # Trace_ELBO ran the guide first, so this trace holds the same draws
    guide_trace = poutine.trace(model.guide).get_trace(x, mask=mask)
    noise = _noise_from_trace(model, guide_trace, x, mask)
    valid = torch.arange(6) < torch.tensor([6, 6, 5])[:, None]
    paths = sample_paths(model, x, mask, ~mask & valid, noise)
    fused = observed_log_lik(paths, x, mask, model.config.sigma_x).sum()
    assert torch.allclose(-elbo_loss, fused, rtol=1e-9, atol=1e-9)
    params = list(model.parameters())
    for ga, gb in zip(torch.autograd.grad(-elbo_loss, params), torch.autograd.grad(fused, params)):
        assert torch.allclose(ga, gb, rtol=1e-7, atol=1e-9)


def test_svi_trains_the_networks():
    model, x, mask = _setup(True)
    pyro.clear_param_store()
    torch.manual_seed(0)
    before = [p.detach().clone() for p in model.parameters()]
    svi = SVI(model.model, model.guide, Adam({"lr": 1e-2}), Trace_ELBO())
    losses = [svi.step(x, mask=mask) for _ in range(3)]
    assert all(math.isfinite(v) for v in losses)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_model_sites_are_masked_by_length():
    model, x, mask = _setup(True)
    trace = poutine.trace(model.model).get_trace(x, mask=mask)
    trace.compute_log_prob()
    assert trace.nodes["z_6"]["log_prob"][2] == 0  # step 6 lies after sequence 2's last observed step
    assert trace.nodes["x_2"]["log_prob"][0] == 0 and "x_hidden_2" in trace.nodes
