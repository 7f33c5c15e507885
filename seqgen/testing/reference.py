"""Two small, correct models the conformance kit is proven on (and :mod:`seqgen.testing.broken` breaks).

Both read ``x: [batch, time, obs_dim]`` real vectors through one recurrence
(``nn.RNNCell``, Elman 1990)::

    h_t = tanh(W_x x_t + W_h h_{t-1} + b),   h_{-1} = 0          h: [batch, hidden_dim]

:class:`ReferenceAR` (``log_prob``, ``generate``, ``gradient``): a Gaussian autoregressive model,
``p(x_t | x_{<t}) = N(μ(h_{t-1}), σ(h_{t-1}))`` with ``[μ, s] = Linear(h)``,
``σ = softplus(s) + 1e-3``, so ``log p(x) = Σ_{t observed} log N(x_t; μ_t, σ_t)`` exactly.

:class:`ReferenceLatent` (``elbo``, ``log_prob``, ``iwae``, ``latents``, ``generate``,
``gradient``): one Gaussian latent per step with a linear-Gaussian emission, so the likelihood
stays exact while the bounds are real bounds::

    p(z_t | x_{<t})      = N(m(h_{t-1}), s(h_{t-1}))                 [m, s] = Linear(h)
    p(x_t | z_t, x_{<t}) = N(z_t + μ(h_{t-1}), σ_ε)                  σ_ε = softplus(ρ) + 1e-3
    p(x_t | x_{<t})      = N(m + μ, sqrt(s² + σ_ε²))                  (z_t marginalised)
    q(z_t | x_t, x_{<t}) = N(a(h_{t-1}, x_t), b(h_{t-1}, x_t)) at observed steps, q = p elsewhere
    ELBO   = Σ_t [mask_t E_q log p(x_t | z_t, ·) − KL(q_t ‖ p_t)]    (one reparameterised sample,
                                                                     analytic KL; Kingma & Welling 2014)
    IWAE_K = log (1/K) Σ_k exp Σ_t [mask_t log p(x_t | z^k_t, ·) + log p(z^k_t | ·) − log q(z^k_t | ·)]
                                                                    (Burda et al. 2016)

It trains by the ELBO (so the inference network gets gradients) and reports the exact NLL.
Since ``q = p`` at unobserved steps, their KL and log-weight terms are exactly zero.
"""

from __future__ import annotations

import math

import attrs
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Independent, Normal, kl_divergence

from ..components.agents import ConstantAgent
from ..config import Config, config, positive_int
from ..model import ElboTerms, SequenceModel
from ..spec import ModelSpec
from ..state import State, state
from ..train.objectives import GradientObjective

__all__ = ["ReferenceConfig", "ARState", "LatentState", "ReferenceAR", "ReferenceLatent", "REFERENCE_AR", "REFERENCE_LATENT"]

MIN_SCALE = 1e-3


@config
class ReferenceConfig(Config):
    """obs_dim: width of each observation; hidden_dim: width of the recurrent state ``h``."""

    obs_dim: int = attrs.field(default=2, validator=positive_int)
    hidden_dim: int = attrs.field(default=4, validator=positive_int)


@state
class ARState(State):
    """``h: [batch, hidden_dim]``, the summary ``h_{t-1}`` of ``x_{<t}``."""

    h: torch.Tensor


@state
class LatentState(State):
    """``h: [batch, hidden_dim]``; ``z: [batch, obs_dim]`` this step's latent; ``z_log_prob: [batch]`` its prior log-density."""

    h: torch.Tensor
    z: torch.Tensor
    z_log_prob: torch.Tensor


def _normal(params: torch.Tensor) -> Normal:
    """``[*, 2 d] -> N(loc, softplus(raw) + 1e-3)`` with batch ``[*, d]``."""
    loc, raw = params.chunk(2, dim=-1)
    return Normal(loc, F.softplus(raw) + MIN_SCALE)


class _Recurrent(SequenceModel):
    """The shared recurrence: ``h_t = RNNCell(x_t, h_{t-1})``, and the model's context-free agent."""

    config_cls = ReferenceConfig

    def __init__(self, config: ReferenceConfig):
        super().__init__(config)
        self.cell = nn.RNNCell(config.obs_dim, config.hidden_dim)
        self.agent = ConstantAgent(0)  # the model reads no context; GenCore still needs an agent

    @property
    def obs_shape(self) -> torch.Size:
        return torch.Size((self.config.obs_dim,))

    @property
    def has_rsample(self) -> bool:
        return True  # every step is a Normal drawn with rsample

    def _h0(self, batch_size: int) -> torch.Tensor:
        return self.cell.weight_hh.new_zeros(batch_size, self.config.hidden_dim)  # [batch, hidden_dim]

    def _cell_input(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _h_prev(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [batch, time, obs_dim] -> [batch, time, hidden_dim]``: ``h_{t-1}`` for every ``t``."""
        h, hs = self._h0(x.shape[0]), []
        for t in range(x.shape[1]):
            hs.append(h)
            h = self.cell(self._cell_input(x[:, t]), h)
        return torch.stack(hs, dim=1)

    def _next_h(self, h: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
        return self.cell(self._cell_input(x_t.to(h.dtype)), h)


class ReferenceAR(_Recurrent):
    """Gaussian autoregressive RNN with an exact ``log_prob`` (see the module docstring)."""

    capabilities = frozenset({"log_prob", "generate", "gradient"})

    def __init__(self, config: ReferenceConfig):
        super().__init__(config)
        self.readout = nn.Linear(config.hidden_dim, 2 * config.obs_dim)

    def _obs_dist(self, h: torch.Tensor) -> Independent:
        """``h: [*, hidden_dim] -> p(x | h)``, batch ``[*]``, event ``[obs_dim]``."""
        return Independent(_normal(self.readout(h)), 1)

    def initial_state(self, batch_size: int) -> ARState:
        return ARState(self._h0(batch_size))

    def prior_step(self, state: ARState, context_t):
        return self._obs_dist(state.h), state

    def observe(self, state: ARState, x_t: torch.Tensor) -> ARState:
        return ARState(self._next_h(state.h, x_t))

    def _log_prob(self, x, context, mask, lengths) -> torch.Tensor:
        lp = self._obs_dist(self._h_prev(x)).log_prob(x)  # [batch, time]
        return torch.where(mask, lp, lp.new_zeros(())).sum(1)


class ReferenceLatent(_Recurrent):
    """A latent per step, linear-Gaussian emission: exact ``log_prob`` and real bounds (module docstring)."""

    capabilities = frozenset({"elbo", "log_prob", "iwae", "latents", "generate", "gradient"})

    def __init__(self, config: ReferenceConfig):
        super().__init__(config)
        d, h = config.obs_dim, config.hidden_dim
        self.prior_net = nn.Linear(h, 2 * d)  # [m, s] of p(z_t | h_{t-1})
        self.emit = nn.Linear(h, d)  # μ(h_{t-1})
        self.noise_raw = nn.Parameter(torch.zeros(d))  # ρ: σ_ε = softplus(ρ) + 1e-3
        self.post_net = nn.Linear(h + d, 2 * d)  # [a, b] of q(z_t | h_{t-1}, x_t)

    def _noise_scale(self) -> torch.Tensor:
        return F.softplus(self.noise_raw) + MIN_SCALE  # [obs_dim]

    def _prior(self, h: torch.Tensor) -> Normal:
        return _normal(self.prior_net(h))  # batch [*, obs_dim]

    def _emission(self, h: torch.Tensor, z: torch.Tensor) -> Independent:
        return Independent(Normal(z + self.emit(h), self._noise_scale()), 1)  # batch [*], event [obs_dim]

    def _log_lik(self, h: torch.Tensor, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x_t | z_t, h_{t-1})`` per step, ``[*, batch, time]``."""
        return self._emission(h, z).log_prob(x)

    def _posterior(self, h: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> Normal:
        """``q(z_t | ·)``, batch ``[batch, time, obs_dim]``; equal to the prior at unobserved steps."""
        p, q = self._prior(h), _normal(self.post_net(torch.cat([h, x], dim=-1)))
        m = mask.unsqueeze(-1)  # [batch, time, 1]
        return Normal(torch.where(m, q.loc, p.loc), torch.where(m, q.scale, p.scale))

    def _noise(self, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
        """Standard normal reparameterisation noise ``ε``."""
        return torch.randn(shape, dtype=like.dtype, device=like.device)

    def initial_state(self, batch_size: int) -> LatentState:
        h = self._h0(batch_size)
        return LatentState(h, h.new_zeros(batch_size, self.config.obs_dim), h.new_zeros(batch_size))

    def prior_step(self, state: LatentState, context_t):
        p = self._prior(state.h)
        z = p.rsample()  # [batch, obs_dim]
        return self._emission(state.h, z), LatentState(state.h, z, p.log_prob(z).sum(-1))

    def observe(self, state: LatentState, x_t: torch.Tensor) -> LatentState:
        return attrs.evolve(state, h=self._next_h(state.h, x_t))

    def _log_prob(self, x, context, mask, lengths) -> torch.Tensor:
        h = self._h_prev(x)  # [batch, time, hidden_dim]
        p = self._prior(h)
        scale = (p.scale**2 + self._noise_scale() ** 2).sqrt()
        lp = Independent(Normal(p.loc + self.emit(h), scale), 1).log_prob(x)  # [batch, time]
        return torch.where(mask, lp, lp.new_zeros(())).sum(1)

    def _elbo_terms(self, x, context, mask, lengths) -> ElboTerms:
        h = self._h_prev(x)
        q = self._posterior(h, x, mask)
        z = q.loc + q.scale * self._noise(q.loc.shape, q.loc)  # [batch, time, obs_dim]
        log_lik = torch.where(mask, self._log_lik(h, z, x), x.new_zeros(())).sum(1)
        kl = kl_divergence(q, self._prior(h)).sum(-1).sum(1)  # zero at unobserved steps (q = p)
        return ElboTerms(log_lik=log_lik, kl=kl)

    def _log_weights(self, x, mask, num_particles: int) -> torch.Tensor:
        """``log p(x, z^k) − log q(z^k | x)`` per particle, ``[K, batch]``."""
        h = self._h_prev(x)
        p, q = self._prior(h), self._posterior(h, x, mask)
        shape = (num_particles,) + tuple(q.loc.shape)
        z = q.loc + q.scale * self._noise(torch.Size(shape), q.loc)  # [K, batch, time, obs_dim]
        log_lik = torch.where(mask, self._log_lik(h, z, x), x.new_zeros(())).sum(-1)  # [K, batch]
        return log_lik + (p.log_prob(z) - q.log_prob(z)).sum((-1, -2))

    def _iwae(self, x, context, mask, lengths, num_particles) -> torch.Tensor:
        return torch.logsumexp(self._log_weights(x, mask, num_particles), dim=0) - math.log(num_particles)

    def _infer(self, x, context, mask, lengths):
        q = self._posterior(self._h_prev(x), x, mask)
        return {"z_loc": q.loc, "z_scale": q.scale}

    def _prior_log_prob(self, x, z, context, mask, lengths) -> torch.Tensor:
        return self._prior(self._h_prev(x)).log_prob(z.to(x.dtype)).sum(-1)  # [batch, time]

    def objective(self) -> GradientObjective:
        """Train by the KL-annealed ELBO (the exact NLL would leave the inference network untrained)."""
        return GradientObjective(loss_fn=self._elbo_loss, eval_fn=self.evaluate_batch)


def _spec(name: str, cls: type, description: str) -> ModelSpec:
    return ModelSpec(name=name, model_cls=cls, config_cls=ReferenceConfig, capabilities=cls.capabilities, description=description)


REFERENCE_AR = _spec("reference_ar", ReferenceAR, "Gaussian autoregressive RNN (the conformance kit's reference)")
REFERENCE_LATENT = _spec("reference_latent", ReferenceLatent, "latent-per-step linear-Gaussian RNN (the conformance kit's reference)")
