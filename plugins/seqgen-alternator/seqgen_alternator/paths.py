"""Latent paths of an alternator given (some of) the observations, parallel over time where possible.

For a sequence ``x_{1:T}`` with some steps to fill (hidden inside the sequence), one path is
(Rezaei & Dieng, TMLR 2025, Algorithm 1, with observed ``x_t`` in place of sampled ones)::

    z_0 ~ N(0, I)
    x_t = x_t (observed)   or   √(1−σ_x²) f_θ(z_{t−1}) + σ_x ε^x_t   (a step to fill)
    z_t = √α_t g_φ(x_t) + √(1−α_t−σ_z²) z_{t−1} + σ_z ε^z_t

and its weight is ``Π_{t observed} N(x_t; √(1−σ_x²) f_θ(z_{t−1}), σ_x² I)``. Because every
factor ``p(z_t | z_{t−1}, x_t)`` and ``p(x_t | z_{t−1})`` at a filled step integrates to one,
``E[weight] = p(x_observed)`` exactly: the weight is an unbiased estimate of the likelihood.

Computation: ``g_φ`` runs once on the whole ``[N, T, obs_dim]`` grid, the recurrence runs as a
parallel :func:`~seqgen_alternator.scan.linear_scan` over every stretch of steps where no path
has anything to fill, and only at a step to fill does one loop step run (``f_θ`` to sample
``x_t``, ``g_φ`` on it, one update); then ``f_θ`` runs once on ``z_{0:T−1}``. With nothing to fill
the whole path is three batched calls and ``⌈T / 256⌉`` scan chunks.

Hidden data are never read: every unobserved entry of ``x`` is replaced by zero before any network
sees it, and a filled step uses the path's own sample, both with ``torch.where``, so neither the
value nor the gradient of a hidden entry reaches any output.

Shapes: ``x: [N, T, obs_dim]``, ``mask, fill: [N, T]`` bool, ``z: [N, T+1, z_dim]`` (``z_0 … z_T``).
"""

from __future__ import annotations

import math
from typing import Optional

import attrs
import torch

from .scan import linear_scan

__all__ = ["PathNoise", "Paths", "sample_paths", "observed_log_lik", "standard_normal_log_prob"]

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def standard_normal_log_prob(e: torch.Tensor) -> torch.Tensor:
    """``log N(e; 0, I)`` summed over the last dim: ``[*, D] → [*]``."""
    return (-0.5 * e.pow(2) - HALF_LOG_2PI).sum(-1)


@attrs.frozen
class PathNoise:
    """The standard normal draws one batch of paths is made of.

    z0:    ``[N, z_dim]``        ``z_0``
    eps_z: ``[N, T, z_dim]``     ``ε^z_t``
    eps_x: ``[N, T, obs_dim]``   ``ε^x_t`` (read only at steps to fill; None when there are none)
    """

    z0: torch.Tensor
    eps_z: torch.Tensor
    eps_x: Optional[torch.Tensor] = None

    @classmethod
    def draw(cls, like: torch.Tensor, num: int, steps: int, z_dim: int, obs_dim: int, *, with_x: bool) -> "PathNoise":
        """Fresh draws from torch's global RNG, on ``like``'s device and dtype."""
        z0 = like.new_empty(num, z_dim).normal_()
        eps_z = like.new_empty(num, steps, z_dim).normal_()
        eps_x = like.new_empty(num, steps, obs_dim).normal_() if with_x else None
        return cls(z0, eps_z, eps_x)


@attrs.frozen
class Paths:
    """One batch of paths.

    z:          ``[N, T+1, z_dim]`` ``z_0 … z_T``
    x:          ``[N, T, obs_dim]`` the observations with the filled steps holding the path's samples
    obs_loc:    ``[N, T, obs_dim]`` ``√(1−σ_x²) f_θ(z_{t−1})``, the mean of ``p(x_t | z_{t−1})``
    z_log_prob: ``[N, T+1]`` each ``z_t``'s log-density under the distribution it was drawn from
                (``N(0, I)`` for ``z_0``, ``N(√α_t g(x_t) + b_t z_{t−1}, σ_z² I)`` after)
    """

    z: torch.Tensor
    x: torch.Tensor
    obs_loc: torch.Tensor
    z_log_prob: torch.Tensor


def sample_paths(model, x: torch.Tensor, mask: torch.Tensor, fill: torch.Tensor, noise: PathNoise) -> Paths:
    """Paths of ``model`` (an :class:`~seqgen_alternator.Alternator`) through ``x``, reading it only
    where ``mask`` (observed) and sampling the steps where ``fill`` (a subset of ``~mask``); see
    the module docstring. Unobserved steps that are not filled (right padding) read as zeros.
    Differentiable in the parameters."""
    num, steps = x.shape[:2]
    x = torch.where(mask[..., None], x, x.new_zeros(()))  # [N, T, obs_dim]: hidden entries never read
    cfg = model.config
    sqrt_alpha, decay = model.coefficients(steps, like=x)  # [T], [T]
    obs_coef = math.sqrt(1.0 - cfg.sigma_x**2)
    g_obs = model.feature_net(x)  # [N, T, z_dim]: g_φ(x_t) on every step at once
    u = sqrt_alpha[None, :, None] * g_obs + cfg.sigma_z * noise.eps_z  # [N, T, z_dim]
    times = fill.any(0).nonzero().flatten().tolist()  # steps where some path samples x_t
    if not times:
        z = linear_scan(u, decay, noise.z0, plan=model.scan_plan(0, steps, like=x))  # [N, T, z_dim]
        x_full = x
    else:
        pieces, sampled, carry, start = [], [], noise.z0, 0
        for t in times:
            if t > start:  # a stretch where every path is observed: one parallel scan
                stretch = linear_scan(u[:, start:t], decay[start:t], carry, plan=model.scan_plan(start, t - start, like=x))  # [N, t - start, z_dim]
                pieces.append(stretch)
                carry = stretch[:, -1]
            rows = fill[:, t, None]  # [N, 1]
            draw = obs_coef * model.observation_net(carry) + cfg.sigma_x * noise.eps_x[:, t]  # [N, obs_dim]
            x_t = torch.where(rows, draw, x[:, t])  # the hidden entry is never selected
            g_t = torch.where(rows, model.feature_net(x_t), g_obs[:, t])  # [N, z_dim]
            carry = decay[t] * carry + sqrt_alpha[t] * g_t + cfg.sigma_z * noise.eps_z[:, t]  # z_t: [N, z_dim]
            pieces.append(carry[:, None])
            sampled.append(x_t)
            start = t + 1
        if start < steps:
            pieces.append(linear_scan(u[:, start:], decay[start:], carry, plan=model.scan_plan(start, steps - start, like=x)))
        z = torch.cat(pieces, dim=1)  # [N, T, z_dim]
        x_full = x.clone()
        x_full[:, times] = torch.stack(sampled, dim=1)  # [N, len(times), obs_dim]
    z = torch.cat([noise.z0[:, None], z], dim=1)  # [N, T+1, z_dim]
    obs_loc = obs_coef * model.observation_net(z[:, :-1])  # [N, T, obs_dim]: f_θ(z_{t−1}) for every t at once
    z_log_prob = torch.cat(
        [
            standard_normal_log_prob(noise.z0)[:, None],  # [N, 1]
            standard_normal_log_prob(noise.eps_z) - cfg.z_dim * math.log(cfg.sigma_z),  # [N, T]: z_t − mean = σ_z ε
        ],
        dim=1,
    )
    return Paths(z=z, x=x_full, obs_loc=obs_loc, z_log_prob=z_log_prob)


def observed_log_lik(paths: Paths, x: torch.Tensor, mask: torch.Tensor, sigma_x: float) -> torch.Tensor:
    """``Σ_{t observed} log N(x_t; obs_loc_t, σ_x² I)`` per path: ``[N]`` (the log-weight)."""
    lp = (-0.5 * ((x - paths.obs_loc) / sigma_x).pow(2) - math.log(sigma_x) - HALF_LOG_2PI).sum(-1)  # [N, T]
    return torch.where(mask, lp, lp.new_zeros(())).sum(1)
