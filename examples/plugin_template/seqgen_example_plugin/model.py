"""A Gaussian autoregressive model of order one: the smallest complete seqgen model.

A vector AR(1) process (Hamilton, *Time Series Analysis*, 1994, ch. 10), for
``x: [batch, time, obs_dim]``::

    x_1 ~ N(m_0, diag s_0²)
    x_t | x_{t-1} ~ N(A x_{t-1} + b, diag σ²),      t = 2, …, T

with learned ``A: [obs_dim, obs_dim]``, ``b, σ, m_0, s_0: [obs_dim]``.

Exact likelihood with missing steps. When ``x_t`` is observed and the last observed step before
it is ``x_{t-k}``, integrating out the ``k - 1`` unobserved steps between them gives::

    x_t | x_{t-k} ~ N(A^k x_{t-k} + c_k, S_k),   c_k = Σ_{j<k} A^j b,   S_k = Σ_{j<k} A^j diag(σ²) A^jᵀ

and when nothing before ``x_t`` is observed (``t - 1`` transitions after ``x_1``)::

    x_t ~ N(A^{t-1} m_0 + c_{t-1},  A^{t-1} diag(s_0²) A^{t-1}ᵀ + S_{t-1}).

By the Markov property the product of these factors over the observed steps is
``p(x_observed)``, so :meth:`GaussianAR.log_prob` is exact for any mask, and right padding never
changes it. Without holes every factor is the plain one-step Gaussian (``k = 1``).
"""

from __future__ import annotations

import math

import attrs
import pyro.distributions as dist
import torch
from torch import nn

import seqgen

__all__ = ["GaussianARConfig", "ARState", "GaussianAR"]


@seqgen.config
class GaussianARConfig(seqgen.Config):
    """obs_dim: width of ``x_t``; ar_init: initial diagonal of ``A`` (|·| < 1 keeps it stable);
    scale_init: initial ``σ`` and ``s_0``."""

    obs_dim: int = attrs.field(validator=seqgen.positive_int)
    ar_init: float = attrs.field(default=0.5, validator=seqgen.in_range(-1.0, 1.0, lo_open=True, hi_open=True))
    scale_init: float = attrs.field(default=1.0, validator=seqgen.positive)


@seqgen.state
class ARState(seqgen.State):
    """prev: ``[batch, obs_dim]`` the last ``x`` (zeros before the first step);
    started: ``[batch]`` bool, False until the first observation."""

    prev: torch.Tensor
    started: torch.Tensor


class GaussianAR(seqgen.SequenceModel):
    """``x_t ~ N(A x_{t-1} + b, diag σ²)``; exact ``log_prob``, sampling and forecasting.

    Takes no inputs: its agent is ``seqgen.ConstantAgent(0)``, whose empty context ``[batch, 0]``
    :meth:`prior_step` ignores.
    """

    config_cls = GaussianARConfig
    capabilities = frozenset({"log_prob", "generate", "gradient", "forecast"})

    def __init__(self, config: GaussianARConfig):
        super().__init__(config)
        d, log_s = config.obs_dim, math.log(config.scale_init)
        self.weight = nn.Parameter(torch.eye(d) * config.ar_init)  # A: [obs_dim, obs_dim]
        self.bias = nn.Parameter(torch.zeros(d))  # b
        self.log_scale = nn.Parameter(torch.full((d,), log_s))  # log σ
        self.init_loc = nn.Parameter(torch.zeros(d))  # m_0
        self.init_log_scale = nn.Parameter(torch.full((d,), log_s))  # log s_0
        self.agent = seqgen.ConstantAgent(0)

    # ------------------------------------------------------------------ per-step interface
    @property
    def obs_shape(self) -> torch.Size:
        return torch.Size([self.config.obs_dim])

    @property
    def has_rsample(self) -> bool:
        return True  # every step is a Normal

    def initial_state(self, batch_size: int) -> ARState:
        return ARState(
            prev=self.bias.new_zeros(batch_size, self.config.obs_dim),
            started=self.bias.new_zeros(batch_size, dtype=torch.bool),
        )

    def prior_step(self, state: ARState, context_t):
        """``p(x_t | x_{t-1})``, batch ``[batch]``, event ``[obs_dim]``; ``context_t`` is unused."""
        started = state.started[:, None]  # [batch, 1]
        loc = torch.where(started, state.prev @ self.weight.T + self.bias, self.init_loc)  # [batch, obs_dim]
        scale = torch.where(started, self.log_scale.exp(), self.init_log_scale.exp())  # [batch, obs_dim]
        return dist.Normal(loc, scale).to_event(1), state

    def observe(self, state: ARState, x_t: torch.Tensor) -> ARState:
        return ARState(prev=x_t, started=torch.ones_like(state.started))

    # ------------------------------------------------------------------ whole-sequence hooks
    def _transition_moments(self, max_gap: int):
        """``(A^k, c_k, S_k)`` for ``k = 0 … max_gap``: ``[K, D, D]``, ``[K, D]``, ``[K, D, D]``."""
        a, b = self.weight, self.bias
        step_cov = torch.diag_embed(self.log_scale.exp().pow(2))  # diag σ²: [D, D]
        power, offset, cov = [torch.eye(a.shape[0], dtype=a.dtype, device=a.device)], [b.new_zeros(b.shape)], [a.new_zeros(a.shape)]
        for _ in range(max_gap):
            power.append(a @ power[-1])
            offset.append(a @ offset[-1] + b)
            cov.append(a @ cov[-1] @ a.T + step_cov)
        return torch.stack(power), torch.stack(offset), torch.stack(cov)

    def _log_prob(self, x, context, mask, lengths) -> torch.Tensor:
        """Exact ``log p(x_observed)``, ``[batch]``: the module docstring's factors, summed."""
        batch, num_steps, d = x.shape
        steps = torch.arange(num_steps, device=x.device)  # [time]
        seen = torch.where(mask, steps, -1).cummax(dim=1).values  # [batch, time] last observed index <= t
        prev = torch.cat([seen.new_full((batch, 1), -1), seen[:, :-1]], dim=1)  # [batch, time] ... < t
        has_prev = prev >= 0
        gap = torch.where(has_prev, steps - prev, steps)  # [batch, time] transitions to bridge
        x_prev = x.gather(1, prev.clamp(min=0)[..., None].expand(-1, -1, d))  # [batch, time, obs_dim]

        power, offset, cov = self._transition_moments(int(gap[mask].max()))
        init_cov = power @ torch.diag_embed(self.init_log_scale.exp().pow(2)) @ power.mT + cov  # [K, D, D]
        init_loc = power @ self.init_loc + offset  # [K, D]

        log_p = x.new_zeros(batch, num_steps)  # [batch, time], zero at unobserved steps
        # One Gaussian per distinct (kind, gap): without holes that is two groups in all.
        for from_prev in (True, False):
            kind = mask & (has_prev == from_prev)
            for k in torch.unique(gap[kind]).tolist():
                sel = kind & (gap == k)  # [batch, time]
                if from_prev:
                    loc, tril = x_prev[sel] @ power[k].T + offset[k], torch.linalg.cholesky(cov[k])  # [n, D]
                else:
                    loc, tril = init_loc[k].expand(int(sel.sum()), d), torch.linalg.cholesky(init_cov[k])
                log_p[sel] = dist.MultivariateNormal(loc, scale_tril=tril).log_prob(x[sel])
        return log_p.sum(dim=1)

    def _condition(self, x, context, mask, lengths) -> ARState:
        """The state after the whole prefix ``x: [batch, T0, obs_dim]``.

        Steps after a sequence's last observed one (right padding) are unobserved, so ``prev`` is a
        draw of ``x_{T0} | x_last ~ N(A^g x_last + c_g, S_g)`` with ``g`` those steps' count.
        """
        batch, num_steps, d = x.shape
        last = lengths - 1  # [batch] index of the last observed step
        x_last = x[torch.arange(batch, device=x.device), last]  # [batch, obs_dim]
        gap = (num_steps - 1) - last  # [batch]
        power, offset, cov = self._transition_moments(int(gap.max()))
        prev = x_last.clone()
        for k in torch.unique(gap[gap > 0]).tolist():
            sel = gap == k
            loc = x_last[sel] @ power[k].T + offset[k]  # [n, obs_dim]
            prev[sel] = dist.MultivariateNormal(loc, scale_tril=torch.linalg.cholesky(cov[k])).rsample()
        return ARState(prev=prev, started=torch.ones(batch, dtype=torch.bool, device=x.device))
