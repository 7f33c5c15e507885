"""The Pyro model/guide: per-step sites under ``pyro.markov`` with masks, and the fused torch ELBO
equal to Pyro's estimators on the same seed.

- ``TraceMeanField_ELBO`` uses the analytic KL of each ``z_t`` site given the sampled ``z_{t-1}``:
  exactly the fused ELBO (``elbo(x)``), sample for sample.
- ``Trace_ELBO`` scores ``log p(x, z) - log q(z)`` at the sampled chain: exactly the fused
  one-particle importance weight (``iwae(x, 1)``).
Both under one seed, in double precision, with a ragged batch and a hole.
"""

import pyro
import pytest
import torch
from pyro.infer import SVI, Trace_ELBO, TraceMeanField_ELBO
from pyro.optim import Adam

from seqgen_srnn import SPEC

TINY = dict(obs_dim=5, z_dim=3, d_dim=6, a_dim=6, mlp_hidden=7, decoder_hidden=(5,))


def _data(kind="bernoulli"):
    torch.manual_seed(0)
    x = (torch.rand(3, 6, 5) < 0.4).double() if kind in ("bernoulli", "made") else torch.randn(3, 6, 5, dtype=torch.double)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[0, 4:] = False  # ragged: length 4
    mask[2, 2] = False  # a hole inside a sequence
    return x, mask


@pytest.mark.parametrize("overrides", [{}, {"inference": "filter", "resq": False}, {"obs": "normal"}, {"obs": "made"}])
def test_fused_elbo_equals_pyro_on_the_same_seed(overrides):
    torch.manual_seed(0)
    model = SPEC.build(**{**TINY, **overrides}).double()
    x, mask = _data(overrides.get("obs", "bernoulli"))
    for seed in range(2):
        pyro.set_rng_seed(seed)
        fused = model.elbo(x, mask=mask).sum()
        pyro.set_rng_seed(seed)
        mean_field = -TraceMeanField_ELBO().differentiable_loss(model.model, model.guide, x, mask=mask)
        torch.testing.assert_close(fused, mean_field, rtol=1e-10, atol=1e-10)  # double: rounding only
        pyro.set_rng_seed(seed)
        weight = model.iwae(x, 1, mask=mask).sum()
        pyro.set_rng_seed(seed)
        trace = -Trace_ELBO().differentiable_loss(model.model, model.guide, x, mask=mask)
        torch.testing.assert_close(weight, trace, rtol=1e-10, atol=1e-10)


def test_sites_are_per_step_and_masked():
    torch.manual_seed(0)
    model = SPEC.build(**TINY).double()
    x, mask = _data()
    guide = pyro.poutine.trace(model.guide).get_trace(x, mask=mask)
    tr = pyro.poutine.trace(pyro.poutine.replay(model.model, trace=guide)).get_trace(x, mask=mask)
    tr.compute_log_prob()
    for t in range(6):
        z_site, x_site = tr.nodes[f"z_{t}"], tr.nodes[f"x_{t}"]
        assert z_site["value"].shape == (3, 3) and x_site["is_observed"]
        # padding (t >= 4 in sequence 0) adds nothing; the hole (sequence 2, t = 2) keeps its latent
        assert (z_site["log_prob"][0] == 0) == (t >= 4)
        assert (x_site["log_prob"][0] == 0) == (t >= 4)
        assert (x_site["log_prob"][2] == 0) == (t == 2)
        assert z_site["log_prob"][2] != 0


def test_svi_step_runs_and_lowers_the_loss():
    torch.manual_seed(0)
    pyro.clear_param_store()
    model = SPEC.build(**TINY)
    x, mask = _data()
    x = x.float()
    svi = SVI(model.model, model.guide, Adam({"lr": 0.02}), TraceMeanField_ELBO())
    pyro.set_rng_seed(0)
    losses = [svi.step(x, mask=mask) for _ in range(40)]
    # seeded; the first and last 5-step means differ by far more than the step-to-step noise
    assert sum(losses[-5:]) < sum(losses[:5]) - 5.0
    pyro.clear_param_store()
