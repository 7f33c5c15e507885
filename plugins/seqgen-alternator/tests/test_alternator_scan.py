"""The parallel-in-time path equals the step-by-step loop on the same noise.

Three levels: the chunked linear scan against the plain recurrence; the model's whole path
(batched ``g_φ``, scan, batched ``f_θ``, and the mixed path with steps to fill) against a loop
written here from Algorithm 1; and that loop against the model's own per-step interface
(``prior_step``/``observe``) driven with the same draws.
"""

from __future__ import annotations

import math

import pytest
import torch

from seqgen_alternator import Alternator, AlternatorConfig, linear_scan, linear_scan_loop
from seqgen_alternator.paths import PathNoise, sample_paths

TOL = dict(rtol=1e-9, atol=1e-9)  # float64 throughout: the two orders of summation agree to rounding


@pytest.mark.parametrize("steps, chunk", [(1, 4), (7, 4), (8, 4), (30, 128), (30, 7)])
def test_linear_scan_matches_loop(steps, chunk):
    torch.manual_seed(steps)
    u = torch.randn(3, steps, 2, dtype=torch.float64)
    decay = torch.rand(steps, dtype=torch.float64) * 0.9 + 0.05  # a time-varying schedule
    z0 = torch.randn(3, 2, dtype=torch.float64)
    assert torch.allclose(linear_scan(u, decay, z0, chunk=chunk), linear_scan_loop(u, decay, z0), **TOL)


def test_linear_scan_is_stable_over_long_sequences():
    """Cumulative products of 0.5 underflow after ~1100 steps; the chunked scan never forms them."""
    steps = 3000
    u = torch.ones(1, steps, 1)
    decay = torch.full((steps,), 0.5)
    z = linear_scan(u, decay, torch.zeros(1, 1))
    assert torch.isfinite(z).all() and torch.allclose(z[0, -1], torch.tensor([2.0]))  # fixed point u / (1 − b)


def reference_paths(model: Alternator, x, fill, noise: PathNoise):
    """Algorithm 1 one step at a time: ``(z: [N, T+1, z_dim], x_full, obs_loc)``."""
    cfg = model.config
    sqrt_alpha, decay = model.coefficients(x.shape[1], like=x)
    a = math.sqrt(1 - cfg.sigma_x**2)
    z, zs, xs, locs = noise.z0, [noise.z0], [], []
    for t in range(x.shape[1]):
        loc = a * model.observation_net(z)
        x_t = torch.where(fill[:, t, None], loc + cfg.sigma_x * noise.eps_x[:, t], x[:, t]) if noise.eps_x is not None else x[:, t]
        z = sqrt_alpha[t] * model.feature_net(x_t) + decay[t] * z + cfg.sigma_z * noise.eps_z[:, t]
        zs.append(z), xs.append(x_t), locs.append(loc)
    return torch.stack(zs, 1), torch.stack(xs, 1), torch.stack(locs, 1)


def _model(alpha=0.3, steps=12):
    torch.manual_seed(0)
    cfg = AlternatorConfig(obs_dim=3, z_dim=2, hidden=(16,), sigma_x=0.3, sigma_z=0.2, alpha=alpha)
    return Alternator(cfg).double()


@pytest.mark.parametrize("alpha", [0.3, tuple(0.1 + 0.05 * i for i in range(12))])
@pytest.mark.parametrize("holes", ["none", "some", "most"])
def test_parallel_path_matches_loop(alpha, holes):
    model = _model(alpha)
    n, steps = 4, 12
    torch.manual_seed(1)
    x = torch.randn(n, steps, 3, dtype=torch.float64)
    fill = torch.zeros(n, steps, dtype=torch.bool)
    if holes == "some":
        fill[0, 3] = fill[2, 7] = fill[3, 11] = True
    elif holes == "most":
        fill = torch.rand(n, steps) < 0.7
    noise = PathNoise.draw(x, n, steps, 2, 3, with_x=bool(fill.any()))
    paths = sample_paths(model, x, ~fill, fill, noise)
    z, x_full, loc = reference_paths(model, x, fill, noise)
    assert torch.allclose(paths.z, z, **TOL)
    assert torch.allclose(paths.x, x_full, **TOL)
    assert torch.allclose(paths.obs_loc, loc, **TOL)


def test_loop_matches_per_step_interface():
    """prior_step/observe (GenCore's interface) give the reference loop's path on the same draws."""
    model = _model()
    n, steps = 2, 6
    torch.manual_seed(2)
    x = torch.randn(n, steps, 3, dtype=torch.float64)
    torch.manual_seed(5)
    state = model.initial_state(n)  # draws z_0
    eps_z = []
    for t in range(steps):
        p, state = model.prior_step(state, None)
        torch.manual_seed(100 + t)
        eps_z.append(torch.randn(n, 2, dtype=torch.float64))
        torch.manual_seed(100 + t)
        state = model.observe(state, x[:, t])  # draws ε^z_t: the same numbers as eps_z[t]
    torch.manual_seed(5)
    z0 = torch.randn(n, 2, dtype=torch.float64)
    noise = PathNoise(z0, torch.stack(eps_z, 1))
    z, _, loc = reference_paths(model, x, torch.zeros(n, steps, dtype=torch.bool), noise)
    assert torch.allclose(state.z_next, z[:, -1], **TOL)
    assert torch.allclose(p.mean, loc[:, -1], **TOL)


def test_training_gradients_match_loop():
    """The parallel estimate and the loop have the same gradients (same noise, float64)."""
    model = _model()
    torch.manual_seed(3)
    x = torch.randn(3, 12, 3, dtype=torch.float64)
    fill = torch.zeros(3, 12, dtype=torch.bool)
    noise = PathNoise.draw(x, 3, 12, 2, 3, with_x=False)
    params = list(model.parameters())
    a = sample_paths(model, x, ~fill, fill, noise).obs_loc.pow(2).sum()
    b = reference_paths(model, x, fill, noise)[2].pow(2).sum()
    for ga, gb in zip(torch.autograd.grad(a, params), torch.autograd.grad(b, params)):
        assert torch.allclose(ga, gb, **TOL)
