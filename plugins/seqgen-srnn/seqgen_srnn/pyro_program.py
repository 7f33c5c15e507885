"""The SRNN as a Pyro model and guide, one sample site per step (``z_t``, ``x_t``) under ``pyro.markov``.

model::

    d = GRU(c)                                          (deterministic, no site)
    for t in markov(range(T)):
        z_t ~ p(z_t | z_{t-1}, d_t)        site "z_{t}", masked to t < length
        x_t ~ p(x_t | z_t, d_t)            site "x_{t}", observed, masked to the observed steps

guide::

    d = GRU(c),  a = inference(d, enc(x))
    for t in markov(range(T)):
        z_t ~ q(z_t | z_{t-1}, a_t)        site "z_{t}", masked to t < length

Both are written with the plain per-step ``Transition.prior``/``posterior`` (no fusion), so a test
can check that the fused torch ELBO equals ``TraceMeanField_ELBO`` (analytic KL) and that the
fused one-particle IWAE weight equals ``Trace_ELBO`` on the same seed. Shapes: ``x: [batch, time,
*obs_shape]``, ``mask: [batch, time]``; each site has batch ``[batch]`` inside ``pyro.plate``.
"""

from __future__ import annotations

import pyro
import torch
from pyro.distributions import Normal

from seqgen import lengths_from_mask

from seqgen.masking import fill_hidden

__all__ = ["model", "guide"]


def _plate(x):
    return pyro.plate("sequences", x.shape[0], dim=-1)


def model(srnn, x, context, mask):
    """Generative model over observed ``x`` (validated by the caller)."""
    pyro.module("srnn", srnn)
    lengths = lengths_from_mask(mask)
    d = srnn.deterministic(x, context)  # [time, batch, d_dim]
    z = d.new_zeros(x.shape[0], srnn.config.z_dim)  # z_{-1} = 0
    with _plate(x):
        for t in pyro.markov(range(x.shape[1])):
            loc, scale = srnn.transition.prior(d[t], z)
            z = pyro.sample(f"z_{t}", Normal(loc, scale).to_event(1).mask(t < lengths))  # [batch, z_dim]
            p = srnn.decoder.dist_from(torch.cat([z, d[t]], dim=-1))  # batch [batch]
            x_t = fill_hidden(p, x[:, t], mask[:, t])
            pyro.sample(f"x_{t}", p.mask(mask[:, t]), obs=x_t)


def guide(srnn, x, context, mask):
    """Smoothing (or filtering) posterior ``q(z | x)``, one site per step."""
    pyro.module("srnn", srnn)
    lengths = lengths_from_mask(mask)
    d, a = srnn.features(x, context, lengths)  # [time, batch, d_dim], [time, batch, a_dim]
    z = d.new_zeros(x.shape[0], srnn.config.z_dim)
    with _plate(x):
        for t in pyro.markov(range(x.shape[1])):
            prior_loc, _ = srnn.transition.prior(d[t], z)
            loc, scale = srnn.transition.posterior(a[t], z, prior_loc)
            z = pyro.sample(f"z_{t}", Normal(loc, scale).to_event(1).mask(t < lengths))
