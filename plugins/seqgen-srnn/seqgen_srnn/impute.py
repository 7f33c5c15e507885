"""Imputation for the SRNN: fill hidden steps using the smoothing posterior, not the prior alone.

The base class's default (``GenCore.impute``) samples every ``z_t`` from the prior, so an
observed ``x_t`` never informs ``z_t`` and an observation after a hole never informs the hole.
For the SRNN the inference network can do both, but it reads ``enc(x_t)`` and ``d_t`` at every
step, and hidden steps hold zeros it was not trained on. So, two passes:

1. ``x̃ = GenCore.impute(x, mask)``: holes filled by the model run forward (filtering).
2. ``a = inference(d(x̃), enc(x̃))`` (backward over each sequence's observed span), then one
   forward pass: ``d_t = GRU(d_{t-1}, c_t)`` from the steps filled so far,
   ``z_t ~ q(z_t | z_{t-1}, a_t)`` for ``t < length`` (the prior ``p(z_t | z_{t-1}, d_t)`` past the
   last observation, where there is nothing to smooth on), and at a hidden step
   ``x_t ~ p(x_t | z_t, d_t)``; observed steps keep their values.

Pass 2 is one sweep of a data-augmentation scheme: ``a`` is computed from pass 1's completion, so
a hole's ``z_t`` is informed by the observations after it. Shapes: ``x: [batch, time, *obs_shape]``,
``mask: [batch, time]``, ``lengths: [batch]``; the result has ``x``'s shape and dtype.
"""

from __future__ import annotations

import torch

import seqgen

__all__ = ["posterior_impute"]


def posterior_impute(srnn, x: torch.Tensor, context, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x`` with its hidden steps filled (see the module docstring); observed steps are unchanged."""
    if bool(mask.all()):
        return x
    core = seqgen.GenCore(srnn, srnn.agent)
    with torch.no_grad():
        first = srnn.coerce_observations(core.impute(x, mask, inputs=context))  # pass 1: [batch, time, *obs]
        _, a = srnn.features(first, context, lengths)  # [time, batch, a_dim]
        state, agent_state = core.start(x.shape[0], inputs=context)
        d, z = state.d, state.z  # [batch, d_dim], [batch, z_dim]
        out = []
        for t in range(x.shape[1]):
            c_t, agent_state = srnn.agent.context(agent_state)
            d = srnn.step_deterministic(d, c_t.to(d.dtype))
            p_loc, p_scale = srnn.transition.prior(d, z)
            q_loc, q_scale = srnn.transition.posterior(a[t], z, p_loc)
            smooth = (t < lengths).unsqueeze(1)  # [batch, 1]: posterior up to the last observation
            loc, scale = torch.where(smooth, q_loc, p_loc), torch.where(smooth, q_scale, p_scale)
            z = loc + scale * torch.randn_like(loc)
            sampled = srnn.emission(z, d).sample()  # [batch, *obs]
            m = mask[:, t].reshape((-1,) + (1,) * (x.dim() - 2))
            x_t = torch.where(m, x[:, t].to(sampled.dtype), sampled)
            agent_state = srnn.agent.observe(agent_state, x_t)
            out.append(x_t)
    return torch.stack(out, dim=1).to(x.dtype)
