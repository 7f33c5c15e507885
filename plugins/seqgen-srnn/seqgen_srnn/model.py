"""``SRNN``: the stochastic recurrent network of Fraccaro, Sønderby, Paquet & Winther,
"Sequential Neural Models with Stochastic Layers" (NeurIPS 2016).

Generative model, for ``t = 0 … T-1`` with ``d_{-1} = 0``, ``z_{-1} = 0``::

    c_t = agent context                      (default: [enc(x_{t-1}), inputs_t], zeros at t = 0)
    d_t = GRU(d_{t-1}, c_t)                  deterministic layer, one whole-sequence GRU call (gru.py)
    z_t ~ p(z_t | z_{t-1}, d_t) = N(μ^p_t, diag σ^p_t²)           (transition.py)
    x_t ~ p(x_t | z_t, d_t)                  any seqgen decoder reading [z_t, d_t]

Inference (``config.inference``): ``a_t = GRU←(a_{t+1}, [d_t, enc(x_t)])`` ('smooth') or
``a_t = MLP([d_t, enc(x_t)])`` ('filter'); ``q(z_t | z_{t-1}, a_t) = N(μ^q_t, σ^q_t)``, with Resq
``μ^q_t = μ^p_t + Δμ(z_{t-1}, a_t)``. Bounds, per sequence (nats)::

    ELBO   = Σ_{t observed} E_q log p(x_t | z_t, d_t) − Σ_{t < length} E_q KL(q_t ‖ p_t)   (KL analytic per step)
    IWAE_K = log (1/K) Σ_k w_k,  log w_k = Σ_{t obs} log p(x_t | z^k_t, d_t) + Σ_{t < length} log p(z^k_t | ·) − log q(z^k_t | ·)

(Burda et al. 2016: whole-sequence weights, particles run as one batch of ``batch * K`` rows).
``d`` and ``a`` are deterministic functions of ``x``, computed once for all particles; only the
``z`` chain is a loop over time. Sampling uses exactly the training prior: ``prior_step`` advances
``d_t`` with the current context *before* drawing ``z_t ~ p(z_t | z_{t-1}, d_t)``.

Shapes: public ``x: [batch, time, *obs_shape]``; internally time-major ``[time, N, …]``.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import pyro
import torch
from pyro.distributions import Normal
from torch import nn

import seqgen
from seqgen import ElboTerms, SequenceModel, ShapeError

from . import pyro_program
from .components import check_components, default_components
from .config import SRNNConfig
from .gru import GRU
from .impute import posterior_impute
from .inference import Inference
from seqgen.masking import fill_hidden

from .masking import latent_steps
from .transition import Chain, Transition

__all__ = ["SRNN", "SRNNState"]

IWAE_ROW_BUDGET = 1 << 18  # particles per chunk keep (rows × steps) under this, bounding memory


@seqgen.state
class SRNNState(seqgen.State):
    """``d: [batch, d_dim]`` deterministic state ``d_t``; ``z: [batch, z_dim]`` the last ``z_t``;
    ``z_log_prob: [batch]`` its log-density under the distribution it was drawn from (the prior
    when generating, ``q`` after ``condition``)."""

    d: torch.Tensor
    z: torch.Tensor
    z_log_prob: torch.Tensor


def _gaussian_kl(q_loc, q_scale, p_loc, p_scale) -> torch.Tensor:
    """``KL(N(μq, σq²) ‖ N(μp, σp²))`` summed over the last dim: ``[*, z_dim] -> [*]``."""
    var_ratio = (q_scale / p_scale).pow(2)
    t1 = ((q_loc - p_loc) / p_scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log()).sum(-1)


def _std_log_density(eps, scale) -> torch.Tensor:
    """``log N(μ + σ ε; μ, σ²)`` summed over the last dim, from ``ε`` and ``σ``: ``[*, z_dim] -> [*]``."""
    return (-0.5 * eps.pow(2) - scale.log()).sum(-1) - 0.5 * eps.shape[-1] * math.log(2 * math.pi)


def _normal_log_prob(z, loc, scale) -> torch.Tensor:
    """``log N(z; μ, σ²)`` summed over the last dim: ``[*, z_dim] -> [*]``."""
    return Normal(loc, scale).log_prob(z).sum(-1)


class SRNN(SequenceModel):
    """The SRNN (see the module docstring). ``SRNN(config, *, decoder=None, agent=None, encoder=None)``.

    decoder: ``p(x_t | z_t, d_t)`` with ``in_dim = z_dim + d_dim``; agent: supplies ``c_t``;
    encoder: ``enc(x_t)`` for the inference network. Left out, each comes from
    :func:`~seqgen_srnn.components.default_components`; one that does not fit raises ShapeError.
    """

    config_cls = SRNNConfig
    capabilities = frozenset({"elbo", "iwae", "latents", "pyro", "generate", "forecast", "impute", "gradient"})

    def __init__(self, config: SRNNConfig, *, decoder=None, agent=None, encoder=None):
        super().__init__(config)
        if decoder is None or agent is None or encoder is None:
            defaults = default_components(config)
            decoder = defaults["decoder"] if decoder is None else decoder
            agent = defaults["agent"] if agent is None else agent
            encoder = defaults["encoder"] if encoder is None else encoder
        check_components(config, decoder=decoder, agent=agent, encoder=encoder)
        self.decoder, self.agent, self.encoder = decoder, agent, encoder
        cfg = config
        self.d_rnn = GRU(int(agent.context_dim), cfg.d_dim)  # nn.GRU's drop-in, hand-written backward
        self.inference = Inference(cfg.inference, cfg.d_dim + int(encoder.out_dim), cfg.a_dim, cfg.mlp_hidden)
        self.transition = Transition(cfg.d_dim, cfg.a_dim, cfg.z_dim, cfg.mlp_hidden, resq=cfg.resq, min_scale=cfg.min_scale)

    # ------------------------------------------------------------------ observation facts
    @property
    def obs_shape(self) -> torch.Size:
        return self.decoder.obs_shape

    @property
    def has_rsample(self) -> bool:
        """``z_t`` is drawn by reparameterisation, so this is the decoder's flag."""
        return bool(self.decoder.has_rsample)

    def coerce_observations(self, x: torch.Tensor) -> torch.Tensor:
        """Long tokens for a token decoder, else floats of the model's dtype (bits included)."""
        if self.decoder.is_discrete and len(self.decoder.obs_shape) == 0:
            return x.long()
        return x.to(self.dtype)

    def check_inputs(self, x, *, mask=None, context=None, argument: str = "x"):
        """The base's checks (shape, dtype, NaN, support, mask), then ``x`` in the dtype the components read."""
        x, mask, lengths, context = super().check_inputs(x, mask=mask, context=context, argument=argument)
        return self.coerce_observations(x), mask, lengths, None if context is None else context.to(self.dtype)

    # ------------------------------------------------------------------ per step (generation)
    def initial_state(self, batch_size: int) -> SRNNState:
        """``d_{-1} = 0``, ``z_{-1} = 0``, ``z_log_prob = 0``."""
        like = self.d_rnn.weight_hh_l0
        return SRNNState(like.new_zeros(batch_size, self.config.d_dim), like.new_zeros(batch_size, self.config.z_dim), like.new_zeros(batch_size))

    def step_deterministic(self, d_prev: torch.Tensor, c_t: torch.Tensor) -> torch.Tensor:
        """``d_t = GRU(d_{t-1}, c_t)``: ``[batch, d_dim]``, ``[batch, context_dim] -> [batch, d_dim]``.

        The cell of the whole-sequence GRU (same weights, ``nn.GRU``'s gate equations), one step."""
        rnn = self.d_rnn
        return torch.gru_cell(c_t, d_prev, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)

    def prior_step(self, state: SRNNState, context_t: Optional[torch.Tensor]):
        """``d_t = GRU(d_{t-1}, c_t)``, then ``z_t ~ p(z_t | z_{t-1}, d_t)``; returns ``p(x_t | z_t, d_t)``."""
        batch, ctx = state.d.shape[0], self.d_rnn.input_size
        if context_t is None or tuple(context_t.shape) != (batch, ctx):
            got = "None" if context_t is None else tuple(context_t.shape)
            raise ShapeError("context_t", f"[batch={batch}, context_dim={ctx}]", got, "drive the model with its agent (GenCore(model, model.agent))")
        d = self.step_deterministic(state.d, context_t.to(state.d.dtype))  # [batch, d_dim], from the *current* context
        loc, scale = self.transition.prior(d, state.z)
        eps = torch.randn_like(loc)
        z = loc + scale * eps  # [batch, z_dim], reparameterised
        obs = self.decoder.dist_from(torch.cat([z, d], dim=-1))
        return obs, SRNNState(d, z, _std_log_density(eps, scale))

    def observe(self, state: SRNNState, x_t: torch.Tensor) -> SRNNState:
        """Unchanged: ``x_t`` reaches ``d_{t+1}`` through the agent's next context."""
        return state

    # ------------------------------------------------------------------ whole-sequence pieces
    def deterministic(self, x: torch.Tensor, context: Optional[torch.Tensor]) -> torch.Tensor:
        """``d: [time, batch, d_dim]`` from the agent's teacher-forced contexts, one GRU call.

        With ``config.dropout > 0`` and the model in training mode, ``d`` is returned through
        dropout (the recurrence inside the GRU is untouched); in eval mode it is the GRU's output."""
        c = self.agent.contexts(x, inputs=context).to(self.dtype)  # [batch, time, context_dim]
        d = self.d_rnn(c.transpose(0, 1))[0]  # [time, batch, d_dim], one GRU call
        if self.config.dropout and self.training:  # regularises the deterministic path (overfits small data)
            d = nn.functional.dropout(d, self.config.dropout, training=True)
        return d

    def features(self, x, context, lengths) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(d, a)``, each ``[time, batch, *]``: the deterministic states and the inference features."""
        d = self.deterministic(x, context)
        e = self.encoder(x).to(self.dtype).transpose(0, 1)  # [time, batch, enc_dim]
        return d, self.inference(d, e, lengths)

    def emission(self, z: torch.Tensor, d: torch.Tensor):
        """``p(x_t | z_t, d_t)`` for every step: ``[time, N, *]`` inputs -> batch ``[time, N]``."""
        return self.decoder.dist_from(torch.cat([z, d], dim=-1))

    def _chain(self, d, a, num_particles: int = 1) -> Tuple[Chain, torch.Tensor, torch.Tensor]:
        """``(chain, eps, d)`` for ``num_particles`` draws per sequence; rows are sequence-major
        (``row = b * K + k``), so ``d, a: [time, batch, *] -> [time, batch * K, *]``."""
        if num_particles > 1:
            d, a = d.repeat_interleave(num_particles, dim=1), a.repeat_interleave(num_particles, dim=1)
        # ε drawn one step at a time ([N, z_dim] each): torch's normal kernel fills a tensor in
        # size-dependent blocks, so one [time, N, z_dim] draw would give steps < T different noise
        # when a batch is padded longer, and would not match Pyro's per-site draws in the guide.
        eps = torch.stack([d.new_empty(d.shape[1], self.config.z_dim).normal_() for _ in range(d.shape[0])])
        return self.transition.sample_chain(d, a, eps), eps, d

    def _log_lik(self, chain: Chain, d, x, mask) -> torch.Tensor:
        """``Σ_{t observed} log p(x_t | z_t, d_t)``: ``x: [N, time, *obs]``, ``mask: [N, time]`` -> ``[N]``.

        ``x`` has passed ``check_inputs`` (its support included), so the emission skips the torch
        distribution's own argument checks (~2 ms a step at the reference sizes)."""
        m_tm = mask.t()  # [time, N]
        with pyro.validation_enabled(False):
            p = self.emission(chain.z, d)  # batch [time, N]
            lp = p.log_prob(fill_hidden(p, x.transpose(0, 1), m_tm))  # [time, N]
        return torch.where(m_tm, lp, lp.new_zeros(())).sum(0)

    # ------------------------------------------------------------------ capability hooks
    def _elbo_terms(self, x, context, mask, lengths) -> ElboTerms:
        """One reparameterised chain ``z ~ q``; analytic ``KL(q_t ‖ p_t)`` per step."""
        d, a = self.features(x, context, lengths)
        chain, _, d = self._chain(d, a)
        kl = _gaussian_kl(chain.post_loc, chain.post_scale, chain.prior_loc, chain.prior_scale)  # [time, batch]
        kl = torch.where(latent_steps(lengths, x.shape[1]), kl, kl.new_zeros(())).sum(0)
        return ElboTerms(log_lik=self._log_lik(chain, d, x, mask), kl=kl)

    def _iwae(self, x, context, mask, lengths, num_particles) -> torch.Tensor:
        """``log (1/K) Σ_k w_k`` over whole-sequence weights; particles in chunks of ``batch * K_c`` rows."""
        batch, time = x.shape[:2]
        d, a = self.features(x, context, lengths)
        steps = latent_steps(lengths, time)  # [time, batch]
        chunk = max(1, min(num_particles, IWAE_ROW_BUDGET // (batch * time)))
        log_w = []
        for start in range(0, num_particles, chunk):
            k = min(chunk, num_particles - start)
            chain, eps, d_k = self._chain(d, a, k)
            rep = lambda t, dim: t.repeat_interleave(k, dim=dim)  # sequence-major rows: b * k + j
            log_p = _normal_log_prob(chain.z, chain.prior_loc, chain.prior_scale)  # [time, N]
            log_q = _std_log_density(eps, chain.post_scale)  # [time, N]
            latent = torch.where(rep(steps, 1), log_p - log_q, log_p.new_zeros(())).sum(0)  # [N]
            w = self._log_lik(chain, d_k, rep(x, 0), rep(mask, 0)) + latent  # [batch * k]
            log_w.append(w.reshape(batch, k))
        return torch.logsumexp(torch.cat(log_w, dim=1), dim=1) - math.log(num_particles)  # [batch]

    def _infer(self, x, context, mask, lengths):
        """One posterior chain: ``z``, ``z_loc``, ``z_scale``, ``prior_loc``, ``prior_scale``
        (``[batch, time, z_dim]``), and ``d`` / ``a`` (``[batch, time, d_dim / a_dim]``)."""
        d, a = self.features(x, context, lengths)
        chain, _, _ = self._chain(d, a)
        bt = lambda t: t.transpose(0, 1)  # [time, batch, *] -> [batch, time, *]
        return {
            "z": bt(chain.z),
            "z_loc": bt(chain.post_loc),
            "z_scale": bt(chain.post_scale),
            "prior_loc": bt(chain.prior_loc),
            "prior_scale": bt(chain.prior_scale),
            "d": bt(d),
            "a": bt(a),
        }

    def _prior_log_prob(self, x, z, context, mask, lengths) -> torch.Tensor:
        """``log p(z_t | z_{t-1}, d_t)``, ``[batch, time]``, with the ELBO's fused prior (every step;
        the ELBO counts ``t < length``)."""
        want = (x.shape[0], x.shape[1], self.config.z_dim)
        if tuple(z.shape) != want:
            raise ShapeError("z", f"[batch={want[0]}, time={want[1]}, z_dim={want[2]}]", tuple(z.shape), "pass one latent per step of x")
        z_tm = z.to(self.dtype).transpose(0, 1)  # [time, batch, z_dim]
        loc, scale = self.transition.prior_chain(self.deterministic(x, context), z_tm)
        return _normal_log_prob(z_tm, loc, scale).t()  # [batch, time]

    def _model(self, x, context, mask):
        return pyro_program.model(self, x, context, mask)

    def _guide(self, x, context, mask):
        return pyro_program.guide(self, x, context, mask)

    def _condition(self, x, context, mask, lengths) -> SRNNState:
        """The state after each sequence's last observed step, ``z`` drawn from the smoothing posterior."""
        d, a = self.features(x, context, lengths)
        chain, _, _ = self._chain(d, a)
        last = (lengths - 1).view(1, -1, 1)  # [1, batch, 1]
        pick = lambda t: t.gather(0, last.expand(1, -1, t.shape[-1]))[0]  # [time, batch, k] -> [batch, k]
        z, loc, scale = pick(chain.z), pick(chain.post_loc), pick(chain.post_scale)
        return SRNNState(pick(d), z, _normal_log_prob(z, loc, scale))

    def _impute(self, x, context, mask, lengths) -> torch.Tensor:
        return posterior_impute(self, x, context, mask, lengths)
