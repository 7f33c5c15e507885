"""Tests of the example plugin: seqgen's conformance kit, then the model's own maths.

The likelihood is checked against a brute-force joint Gaussian (every step's mean and covariance
written out), so the gap-bridging formulas in ``model.py`` are tested by an independent route.
"""

import pytest
import torch

import seqgen
import seqgen.testing
from seqgen_example_plugin import SPEC, GaussianAR, GaussianARConfig

check_model = getattr(seqgen.testing, "check_model", None)


@pytest.mark.skipif(check_model is None, reason="seqgen.testing.check_model is not written yet in this seqgen")
def test_conformance_kit():
    check_model(SPEC)


def _model(obs_dim=2, seed=0):
    """A float64 model with random, stable parameters (|eigenvalues of A| < 1 not needed for the tests)."""
    torch.manual_seed(seed)
    model = SPEC.build(obs_dim=obs_dim).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def _joint_gaussian(model, num_steps):
    """Mean ``[T, D]`` and covariance ``[T, D, T, D]`` of ``x_1..x_T`` under the AR(1) recursion."""
    a, b = model.weight.detach(), model.bias.detach()
    step_cov = torch.diag(model.log_scale.detach().exp() ** 2)
    d = a.shape[0]
    mean = [model.init_loc.detach()]
    cov = {(0, 0): torch.diag(model.init_log_scale.detach().exp() ** 2)}
    for t in range(1, num_steps):
        mean.append(a @ mean[-1] + b)
        for s in range(t):  # Cov(x_t, x_s) = A Cov(x_{t-1}, x_s)
            cov[t, s] = a @ cov[t - 1, s]
            cov[s, t] = cov[t, s].T
        cov[t, t] = a @ cov[t - 1, t - 1] @ a.T + step_cov
    full = torch.zeros(num_steps, d, num_steps, d, dtype=a.dtype)
    for (t, s), c in cov.items():
        full[t, :, s, :] = c
    return torch.stack(mean), full


def test_log_prob_with_holes_equals_the_joint_gaussian_marginal():
    model = _model(obs_dim=2)
    torch.manual_seed(1)
    x = torch.randn(5, 6, 2, dtype=torch.float64)
    mask = torch.ones(5, 6, dtype=torch.bool)
    mask[1, 2:4] = False  # a hole
    mask[2, :2] = False  # unobserved start
    mask[3, 4:] = False  # right padding
    mask[4, ::2] = False  # every other step
    mean, cov = _joint_gaussian(model, 6)
    want = []
    for i in range(5):
        obs = mask[i].nonzero().squeeze(1)
        m = mean[obs].reshape(-1)
        c = cov[obs][:, :, obs].reshape(len(obs) * 2, len(obs) * 2)
        want.append(torch.distributions.MultivariateNormal(m, c).log_prob(x[i, obs].reshape(-1)))
    got = model.log_prob(x, mask=mask)
    torch.testing.assert_close(got, torch.stack(want), rtol=1e-9, atol=1e-9)  # float64 round-off only


def test_right_padding_never_changes_log_prob():
    model = _model(obs_dim=3, seed=2)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    padded = torch.cat([x, torch.randn(2, 3, 3, dtype=torch.float64)], dim=1)
    mask = torch.cat([torch.ones(2, 4, dtype=torch.bool), torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(model.log_prob(padded, mask=mask), model.log_prob(x))


def test_sampling_uses_the_likelihood_it_is_trained_with():
    model = _model(obs_dim=2, seed=3)
    torch.manual_seed(4)
    rollout = seqgen.GenCore(model).run(3, 5, record=True)  # x: [3, 5, 2], log_probs: [3, 5]
    torch.testing.assert_close(rollout.log_probs.sum(1), model.log_prob(rollout.x))


def test_condition_bridges_unobserved_tail_with_the_right_gaussian():
    model = _model(obs_dim=2, seed=5)
    n = 4000
    torch.manual_seed(6)
    x = torch.randn(1, 4, 2, dtype=torch.float64).expand(n, 4, 2)
    mask = torch.tensor([True, True, False, False]).expand(n, 4)  # x_3, x_4 unobserved: gap g = 2
    with torch.no_grad():
        prev = model.condition(x, mask=mask).prev  # [n, 2] draws of x_4 | x_2
        a, b = model.weight, model.bias
        want = a @ a @ x[0, 1] + a @ b + b
        cov = a @ torch.diag(model.log_scale.exp() ** 2) @ a.T + torch.diag(model.log_scale.exp() ** 2)
    stderr = (cov.diagonal() / n).sqrt()
    # 5 standard errors: fails with probability ~1e-6 per coordinate; the seed is fixed anyway
    assert ((prev.mean(0) - want).abs() < 5 * stderr).all()
    torch.testing.assert_close(torch.cov(prev.T), cov, rtol=0.15, atol=0.05)  # ~7 stderr of a 4000-sample covariance


def test_nll_reaches_every_parameter():
    model = _model(obs_dim=2, seed=7)
    x = torch.randn(2, 5, 2, dtype=torch.float64)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, :2] = False  # exercises the marginal of x_t from x_1 (m_0, s_0 through A^k)
    (-model.log_prob(x, mask=mask).sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_config_validates_and_unknown_capability_is_refused():
    with pytest.raises(seqgen.ConfigError, match="ar_init"):
        GaussianARConfig(obs_dim=2, ar_init=1.0)
    with pytest.raises(seqgen.ConfigError, match="obs_dim"):
        GaussianARConfig(obs_dim=0)
    model = GaussianAR(GaussianARConfig(obs_dim=1))
    with pytest.raises(seqgen.CapabilityError, match="elbo"):
        model.elbo(torch.zeros(1, 2, 1))
