"""Generation uses exactly the prior the ELBO trains: ``p(z_t | z_{t-1}, d_t)`` with ``d_t`` from the
*current* context. An earlier public SRNN fed the sampling prior a stale ``d_{t-1}``; the last test
shows that bug would be caught by the same comparison."""

import math

import pytest
import torch

import seqgen
from seqgen_srnn import SPEC, SRNNState

TINY = dict(obs_dim=5, z_dim=3, d_dim=7, a_dim=6, mlp_hidden=9, decoder_hidden=(8,))


def _model(**over):
    torch.manual_seed(0)
    return SPEC.build(**{**TINY, **over}).double()


def _normal_log_prob(z, loc, scale):
    return (-0.5 * ((z - loc) / scale) ** 2 - scale.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def prior_mismatch(model, x):
    """Largest |log p_sample(z'_t) - log p_ELBO(z'_t)| over steps.

    The ELBO's fused pass gives a posterior chain z and, at each step, the prior N(μ^p_t, σ^p_t) it
    scores against. Replaying the same x and z_{t-1} through ``prior_step`` draws z'_t and records
    its log-density under the sampling prior; the fused prior must give z'_t the same density.
    """
    with torch.no_grad():
        lengths = torch.full((x.shape[0],), x.shape[1])
        d, a = model.features(x, None, lengths)
        chain, _, _ = model._chain(d, a)  # the ELBO's own pass: [time, batch, z_dim]
        agent = model.agent
        a_state = agent.initial_state(x.shape[0], dtype=x.dtype)
        state = model.initial_state(x.shape[0])
        worst = 0.0
        for t in range(x.shape[1]):
            c_t, a_state = agent.context(a_state)
            _, state = model.prior_step(state, c_t)
            elbo_lp = _normal_log_prob(state.z, chain.prior_loc[t], chain.prior_scale[t])
            worst = max(worst, float((elbo_lp - state.z_log_prob).abs().max()))
            # continue from the ELBO's chain, so the next step compares the same conditioning
            state = SRNNState(state.d, chain.z[t], state.z_log_prob)
            state = model.observe(state, x[:, t])
            a_state = agent.observe(a_state, x[:, t])
    return worst


def test_sampling_prior_equals_elbo_prior_step_by_step():
    model = _model()
    torch.manual_seed(1)
    x = (torch.rand(4, 9, 5) < 0.4).double()
    assert prior_mismatch(model, x) < 1e-9  # double precision; same equations, different code paths


def test_generated_z_log_prob_equals_prior_log_prob():
    """The recorded ``z_log_prob`` of a generated sequence equals the teacher-forced
    ``prior_log_prob`` (the fused prior) at every step."""
    model = _model()
    torch.manual_seed(2)
    out = seqgen.GenCore(model).run(3, 8, record=True)
    z = torch.stack([s.z for s in out.states], dim=1)  # [batch, time, z_dim]
    recorded = torch.stack([s.z_log_prob for s in out.states], dim=1)  # [batch, time]
    fused = model.prior_log_prob(out.x, z)
    torch.testing.assert_close(fused, recorded, rtol=1e-9, atol=1e-9)


class StaleSRNN(SPEC.model_cls):
    """The bug: the prior reads d_{t-1}, and d_t is computed only afterwards."""

    def prior_step(self, state, context_t):
        loc, scale = self.transition.prior(state.d, state.z)  # stale: d_{t-1}
        eps = torch.randn_like(loc)
        z = loc + scale * eps
        d = self.step_deterministic(state.d, context_t.to(state.d.dtype))
        obs = self.decoder.dist_from(torch.cat([z, d], dim=-1))
        return obs, SRNNState(d, z, _normal_log_prob(z, loc, scale))


def test_stale_deterministic_state_is_caught():
    good = _model()
    bad = StaleSRNN(good.config, decoder=good.decoder, agent=good.agent, encoder=good.encoder).double()
    bad.load_state_dict(good.state_dict())
    torch.manual_seed(1)
    x = (torch.rand(4, 9, 5) < 0.4).double()
    assert prior_mismatch(good, x) < 1e-9
    assert prior_mismatch(bad, x) > 1e-3  # the stale prior differs at every step after the first
    torch.manual_seed(3)
    out = seqgen.GenCore(bad).run(3, 8, record=True)
    z = torch.stack([s.z for s in out.states], dim=1)
    recorded = torch.stack([s.z_log_prob for s in out.states], dim=1)
    with pytest.raises(AssertionError):
        torch.testing.assert_close(bad.prior_log_prob(out.x, z), recorded, rtol=1e-6, atol=1e-6)


def test_prior_step_rejects_a_wrong_context():
    model = _model()
    with pytest.raises(seqgen.ShapeError, match="context_t"):
        model.prior_step(model.initial_state(2), torch.zeros(2, 3, dtype=torch.double))
