"""The alternator as a Pyro model and guide over its latent path (capability ``pyro``).

Model (Rezaei & Dieng, TMLR 2025, Algorithm 1), one ``pyro.plate`` over sequences, sites per step::

    z_0 ~ N(0, I)                                                  site "z_0"
    for t = 1 … T:
        x_t ~ N(√(1−σ_x²) f_θ(z_{t−1}), σ_x² I)                    site "x_t" (observed rows),
                                                                   site "x_hidden_t" (rows hidden
                                                                   inside the sequence, if any)
        z_t ~ N(√α_t g_φ(x_t) + √(1−α_t−σ_z²) z_{t−1}, σ_z² I)      site "z_t"

Guide: the model's own conditional — the same ``z_0``, ``x_hidden_t`` and ``z_t`` sites, drawn from
the same distributions, given the observed ``x``. Every latent site then has ``log p − log q = 0``
and Trace_ELBO's estimate is ``Σ_{t observed} log N(x_t; √(1−σ_x²) f_θ(z_{t−1}), σ_x²)`` on the
guide's path: the single-path (K = 1) training estimate of :class:`~seqgen_alternator.Alternator`.
Steps after a sequence's last observed one are masked out of every site.

Shapes: ``x: [batch, time, obs_dim]``, ``mask: [batch, time]``; sites are ``[batch, dim]`` with
``event_dim = 1`` inside the ``"sequences"`` plate.
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import torch

from seqgen import lengths_from_mask

__all__ = ["alternator_model", "alternator_guide"]


def _walk(model, x: torch.Tensor, mask: torch.Tensor, *, observe: bool) -> torch.Tensor:
    """The shared program; ``observe=True`` adds the observation sites (the model)."""
    pyro.module("alternator", model)
    cfg = model.config
    batch, steps = x.shape[:2]
    valid = torch.arange(steps, device=mask.device) < lengths_from_mask(mask)[:, None]  # [batch, time]
    hidden = ~mask & valid  # steps to draw inside each sequence
    sqrt_alpha, decay = model.coefficients(steps, like=x)  # [T], [T]
    obs_coef = math.sqrt(1.0 - cfg.sigma_x**2)
    with pyro.plate("sequences", batch):
        zero = x.new_zeros(())
        z = pyro.sample("z_0", dist.Normal(zero, zero + 1).expand([batch, cfg.z_dim]).to_event(1))  # [batch, z_dim]
        for t in range(steps):
            p_x = dist.Normal(obs_coef * model.observation_net(z), cfg.sigma_x).to_event(1)  # batch [batch]
            x_t = x[:, t]
            if bool(hidden[:, t].any()):
                drawn = pyro.sample(f"x_hidden_{t + 1}", p_x.mask(hidden[:, t]))  # [batch, obs_dim]
                x_t = torch.where(hidden[:, t, None], drawn, x_t)
            if observe:
                pyro.sample(f"x_{t + 1}", p_x.mask(mask[:, t]), obs=x[:, t])
            loc = sqrt_alpha[t] * model.feature_net(x_t) + decay[t] * z  # [batch, z_dim]
            z = pyro.sample(f"z_{t + 1}", dist.Normal(loc, cfg.sigma_z).to_event(1).mask(valid[:, t]))
    return z


def alternator_model(model, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The generative program observing ``x`` where ``mask``; returns ``z_T`` ``[batch, z_dim]``."""
    return _walk(model, x, mask, observe=True)


def alternator_guide(model, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The latent path from the model's own conditional ``p(z_t | z_{t−1}, x_t)`` (hidden ``x_t`` drawn)."""
    return _walk(model, x, mask, observe=False)
