"""The ``iseq`` model: a sequence VAE with independent per-step latents (vae-seq's ``iseq`` family).

Generative model, for ``t = 0 … T-1``::

    c_t = agent context          (default ObservationAgent: [enc(x_{t-1}), inputs_t], zeros at t = 0)
    z_t ~ p(z) = N(0, I)         (independent across steps)
    d_t = RNN([c_t, z_t], d_{t-1}),  d_{-1} = 0
    x_t ~ p(x | d_t)

Inference network (a bidirectional smoother over the whole sequence)::

    u_t = [c_t, enc(x_t), mask_t]                 (mask_t tells a hidden step from a zero)
    f_t = RNN_fwd(u_t, f_{t-1})
    b_t = RNN_bwd(f_t, b_{t+1})                   (run on each sequence reversed within its length)
    q(z_t | x) = N(μ_t, σ_t),  [μ_t, s_t] = MLP(b_t),  σ_t = softplus(s_t) + 1e-4

Bounds (Kingma & Welling 2014, *Auto-Encoding Variational Bayes*; Burda et al. 2016,
*Importance Weighted Autoencoders*), per sequence::

    ELBO = Σ_{t observed} E_q log p(x_t | d_t) − Σ_{t < length} KL(q(z_t | x) ‖ N(0, I))   (analytic KL)
    IWAE_K = log (1/K) Σ_k exp(log p(x, z^k) − log q(z^k | x)),   z^k ~ q, whole-sequence weights

Shapes: ``x: [batch, time, *obs_shape]``, ``z, μ, σ: [batch, time, z_dim]``,
``f, b: [batch, time, inference_hidden]``, ``d: [batch, time, hidden]``.

Padding: the backward RNN reads each sequence reversed within its length
(:func:`~seqgen.models.common.reverse_padded`), the decoder RNN is causal, and the noise
``ε_t`` is drawn one step at a time, so padding a batch on the right changes no result, even
under the same seed.
"""

from __future__ import annotations

import math
from typing import Optional

import attrs
import pyro
import pyro.distributions as pdist
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from .. import __version__
from ..components.base import Agent, Decoder, Encoder
from ..components.mlp import MLP
from ..config import Config, config, non_negative_int, one_of, positive_int
from ..errors import ShapeError
from ..model import ElboTerms, SequenceModel
from ..spec import ModelSpec
from ..state import State, state
from ..validation import lengths_from_mask
from .common import (
    CELLS,
    OBS_KINDS,
    Recurrence,
    as_tuple,
    check_components,
    check_context_t,
    default_components,
    fill_hidden,
    layer_sizes,
    make_encoder,
    masked_log_lik,
    reverse_padded,
    steps_before,
)

__all__ = ["ISeqConfig", "ISeqState", "ISeqModel", "SPEC"]

MIN_SCALE = 1e-4  # floor on σ_t, so log q stays finite


@config
class ISeqConfig(Config):
    """Configuration of :class:`ISeqModel`.

    obs_dim, obs, embed_dim, input_dim, decoder_hidden: as in :class:`~seqgen.models.rnn.RNNConfig`
    z_dim:            width of each step's latent ``z_t``
    hidden:           decoder RNN state width (the decoder's ``in_dim``)
    cell:             ``'gru' | 'lstm'`` for the decoder and both inference RNNs
    num_layers:       stacked layers of the decoder RNN (the inference RNNs have one)
    inference_hidden: state width of the forward and backward inference RNNs
    posterior_hidden: hidden layer widths of the MLP giving ``(μ_t, s_t)``
    """

    obs_dim: int = attrs.field(validator=positive_int)
    obs: str = attrs.field(default="bernoulli", validator=one_of(*OBS_KINDS))
    z_dim: int = attrs.field(default=16, validator=positive_int)
    hidden: int = attrs.field(default=128, validator=positive_int)
    cell: str = attrs.field(default="gru", validator=one_of(*CELLS))
    num_layers: int = attrs.field(default=1, validator=positive_int)
    inference_hidden: int = attrs.field(default=128, validator=positive_int)
    embed_dim: int = attrs.field(default=64, validator=non_negative_int)
    input_dim: int = attrs.field(default=0, validator=non_negative_int)
    decoder_hidden: tuple = attrs.field(default=(), converter=as_tuple, validator=layer_sizes)
    posterior_hidden: tuple = attrs.field(default=(), converter=as_tuple, validator=layer_sizes)


@state
class ISeqState(State):
    """``h (, c): [batch, num_layers, hidden]`` decoder RNN state (``c`` the LSTM cell, or None);
    ``z: [batch, z_dim]`` the last step's latent; ``z_log_prob: [batch]`` its log-density under
    the distribution it was drawn from (``N(0, I)`` when generating, ``q`` after ``condition``)."""

    h: torch.Tensor
    c: Optional[torch.Tensor]
    z: torch.Tensor
    z_log_prob: torch.Tensor


def _std_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I)`` summed over the last dim: ``[*, z_dim] -> [*]`` (the one prior density)."""
    return Normal(z.new_zeros(()), z.new_ones(())).log_prob(z).sum(-1)


class ISeqModel(SequenceModel):
    """Independent-latent sequence VAE (see the module docstring).

    ``ISeqModel(config, *, decoder=None, agent=None, encoder=None)``: ``encoder`` reads ``x_t`` for
    the inference network (default: ``make_encoder`` from the config); components left out come
    from :func:`~seqgen.models.common.default_components`; mismatched ones raise ShapeError.
    """

    config_cls = ISeqConfig
    capabilities = frozenset({"elbo", "iwae", "latents", "pyro", "generate", "forecast", "impute", "gradient"})

    def __init__(
        self,
        config: ISeqConfig,
        *,
        decoder: Optional[Decoder] = None,
        agent: Optional[Agent] = None,
        encoder: Optional[Encoder] = None,
    ):
        super().__init__(config)
        if decoder is None or agent is None:
            defaults = default_components(config)
            decoder = defaults["decoder"] if decoder is None else decoder
            agent = defaults["agent"] if agent is None else agent
        if encoder is None:
            encoder = make_encoder(config.obs, config.obs_dim, config.embed_dim)
        check_components(config, decoder=decoder, agent=agent, encoder=encoder)
        self.decoder, self.agent, self.encoder = decoder, agent, encoder
        ctx = int(agent.context_dim)
        self.dec_rnn = Recurrence(config.cell, ctx + config.z_dim, config.hidden, config.num_layers)
        self.fwd_rnn = Recurrence(config.cell, ctx + int(encoder.out_dim) + 1, config.inference_hidden)
        self.bwd_rnn = Recurrence(config.cell, config.inference_hidden, config.inference_hidden)
        self.posterior = MLP(config.inference_hidden, 2 * config.z_dim, hidden=config.posterior_hidden)

    # ------------------------------------------------------------------ observation facts
    @property
    def obs_shape(self) -> torch.Size:
        return self.decoder.obs_shape

    @property
    def has_rsample(self) -> bool:
        """``z_t ~ N(0, I)`` is reparameterisable, so this is the decoder's flag."""
        return bool(self.decoder.has_rsample)

    # ------------------------------------------------------------------ per step
    def initial_state(self, batch_size: int) -> ISeqState:
        """Zero decoder state; ``z = 0``, ``z_log_prob = 0`` until the first step."""
        like = self.dec_rnn.rnn.weight_hh_l0
        h, c = self.dec_rnn.initial(batch_size, like)
        return ISeqState(h, c, like.new_zeros(batch_size, self.config.z_dim), like.new_zeros(batch_size))

    def prior_step(self, state: ISeqState, context_t: Optional[torch.Tensor]):
        """``z_t ~ N(0, I)``, ``d_t = RNN([c_t, z_t], d_{t-1})``; returns ``p(x_t | d_t)`` and the state."""
        batch = state.h.shape[0]
        ctx_dim = self.dec_rnn.input_size - self.config.z_dim
        check_context_t(context_t, batch, ctx_dim)
        z = state.h.new_empty(batch, self.config.z_dim).normal_()  # [batch, z_dim]
        u = z if context_t is None else torch.cat([context_t.to(z.dtype), z], dim=-1)  # [batch, ctx + z_dim]
        d, h, c = self.dec_rnn.step(u, state.h, state.c)
        return self.decoder.dist_from(d), ISeqState(h, c, z, _std_normal_log_prob(z))

    def observe(self, state: ISeqState, x_t: torch.Tensor) -> ISeqState:
        """Unchanged: ``x_t`` reaches the decoder RNN through the agent's next context."""
        return state

    # ------------------------------------------------------------------ networks
    def _posterior(self, x, context, mask, lengths):
        """``(c, μ, σ)``: contexts ``[batch, time, context_dim]`` and ``q(z_t | x)`` ``[batch, time, z_dim]``."""
        c = self.agent.contexts(x, inputs=context).to(self.dtype)  # [batch, time, context_dim]
        e = self.encoder(x).to(self.dtype)  # [batch, time, enc_dim]
        u = torch.cat([c, e, mask.unsqueeze(-1).to(self.dtype)], dim=-1)  # [batch, time, ctx + enc + 1]
        f = self.fwd_rnn(u)  # [batch, time, inference_hidden]
        b = reverse_padded(self.bwd_rnn(reverse_padded(f, lengths)), lengths)  # b_t reads f_{t..length-1}
        loc, raw = self.posterior(b).chunk(2, dim=-1)  # [batch, time, 2 z_dim] -> 2 x [batch, time, z_dim]
        return c, loc, F.softplus(raw) + MIN_SCALE

    def _decode(self, c, z):
        """``p(x_t | d_t)`` for every step (batch ``[batch, time]``), ``d = RNN([c, z])``."""
        return self.decoder.dist_from(self.dec_rnn(torch.cat([c, z], dim=-1)))

    @staticmethod
    def _noise(loc: torch.Tensor) -> torch.Tensor:
        """``ε ~ N(0, I)`` shaped like ``loc: [rows, time, z_dim]``, drawn one step at a time so that
        steps ``< T`` get the same draws whatever the padded length (one call would not: torch's
        normal kernels fill a tensor in size-dependent blocks)."""
        rows, time, dim = loc.shape
        return torch.stack([loc.new_empty(rows, dim).normal_() for _ in range(time)], dim=1)

    def _score(self, x, c, mask, lengths, z, loc, scale):
        """Terms of the bounds for given ``z: [batch, time, z_dim]`` drawn from ``q = N(loc, scale)``.

        Returns ``(log_lik, kl, log_p, log_q)``, each ``[batch]``: ``Σ_{t observed} log p(x_t | d_t)``,
        ``Σ_{t < length} KL(q_t ‖ N(0, I))`` (analytic), and ``Σ_{t < length}`` of ``log N(z_t; 0, I)``
        and ``log q(z_t | x)``.
        """
        valid = steps_before(lengths, x.shape[1])  # [batch, time]
        log_lik = masked_log_lik(self._decode(c, z), x, mask)
        q = Normal(loc, scale)
        zero = loc.new_zeros(())
        kl = torch.where(valid, kl_divergence(q, Normal(zero, zero + 1)).sum(-1), zero).sum(1)
        log_p = torch.where(valid, _std_normal_log_prob(z), zero).sum(1)
        log_q = torch.where(valid, q.log_prob(z).sum(-1), zero).sum(1)
        return log_lik, kl, log_p, log_q

    # ------------------------------------------------------------------ capability hooks
    def _elbo_terms(self, x, context, mask, lengths) -> ElboTerms:
        """One reparameterised sample ``z = μ + σ ε`` for the likelihood, analytic KL."""
        c, loc, scale = self._posterior(x, context, mask, lengths)
        z = loc + scale * self._noise(loc)  # [batch, time, z_dim]
        log_lik, kl, _, _ = self._score(x, c, mask, lengths, z, loc, scale)
        return ElboTerms(log_lik=log_lik, kl=kl)

    def _iwae(self, x, context, mask, lengths, num_particles) -> torch.Tensor:
        """``log (1/K) Σ_k w_k``, ``log w_k = log p(x, z^k) − log q(z^k | x)``; the K particles run as one batch."""
        k = num_particles
        c, loc, scale = self._posterior(x, context, mask, lengths)  # q does not depend on the particle
        rep = lambda t: t.repeat_interleave(k, dim=0)  # [batch, …] -> [batch * K, …], particle fastest
        x_k, c_k, mask_k, len_k, loc_k, scale_k = map(rep, (x, c, mask, lengths, loc, scale))
        z = loc_k + scale_k * self._noise(loc_k)  # [batch * K, time, z_dim]
        log_lik, _, log_p, log_q = self._score(x_k, c_k, mask_k, len_k, z, loc_k, scale_k)
        log_w = (log_lik + log_p - log_q).reshape(x.shape[0], k)  # [batch, K]
        return torch.logsumexp(log_w, dim=1) - math.log(k)

    def _infer(self, x, context, mask, lengths):
        """``{'z_loc', 'z_scale'}``: ``q(z_t | x)``, each ``[batch, time, z_dim]``."""
        _, loc, scale = self._posterior(x, context, mask, lengths)
        return {"z_loc": loc, "z_scale": scale}

    def _prior_log_prob(self, x, z, context, mask, lengths) -> torch.Tensor:
        """``log N(z_t; 0, I)`` per step, ``[batch, time]`` (the ELBO counts steps ``t < length``)."""
        want = (x.shape[0], x.shape[1], self.config.z_dim)
        if tuple(z.shape) != want:
            raise ShapeError("z", f"[batch={want[0]}, time={want[1]}, z_dim={want[2]}]", tuple(z.shape), "pass one latent per step of x")
        return _std_normal_log_prob(z.to(self.dtype))

    def _model(self, x, context, mask):
        """Sites ``'z'`` (``[batch, time, z_dim]``, steps ``t >= length`` masked) and ``'x'`` (hidden steps masked)."""
        pyro.module("iseq", self)
        batch, time = x.shape[:2]
        valid = steps_before(lengths_from_mask(mask), time)  # [batch, time]
        c = self.agent.contexts(x, inputs=context).to(self.dtype)  # [batch, time, context_dim]
        with pyro.plate("sequences", batch):
            prior = pdist.Normal(c.new_zeros(()), c.new_ones(())).expand([batch, time, self.config.z_dim])
            z = pyro.sample("z", prior.to_event(1).mask(valid).to_event(1))  # [batch, time, z_dim]
            p = self._decode(c, z)  # batch [batch, time]
            pyro.sample("x", p.mask(mask).to_event(1), obs=fill_hidden(p, x, mask))

    def _guide(self, x, context, mask):
        """Site ``'z' ~ q(z | x)``, ``[batch, time, z_dim]``, steps ``t >= length`` masked."""
        pyro.module("iseq", self)
        lengths = lengths_from_mask(mask)
        _, loc, scale = self._posterior(x, context, mask, lengths)
        valid = steps_before(lengths, x.shape[1])  # [batch, time]
        with pyro.plate("sequences", x.shape[0]):
            pyro.sample("z", pdist.Normal(loc, scale).to_event(1).mask(valid).to_event(1))

    def _condition(self, x, context, mask, lengths) -> ISeqState:
        """Sample ``z ~ q(z | x_prefix)`` and run the decoder RNN up to each sequence's last observed step."""
        c, loc, scale = self._posterior(x, context, mask, lengths)
        z = loc + scale * self._noise(loc)  # [batch, time, z_dim]
        h, cell = self.dec_rnn.final(torch.cat([c, z], dim=-1), lengths)  # [batch, num_layers, hidden]
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, z.shape[-1])  # [batch, 1, z_dim]
        z_last, loc_last, scale_last = (t.gather(1, last)[:, 0] for t in (z, loc, scale))  # [batch, z_dim]
        return ISeqState(h, cell, z_last, Normal(loc_last, scale_last).log_prob(z_last).sum(-1))


SPEC = ModelSpec(
    name="iseq",
    model_cls=ISeqModel,
    config_cls=ISeqConfig,
    capabilities=ISeqModel.capabilities,
    default_components=default_components,
    version=__version__,
    description="sequence VAE with independent per-step latents and a bidirectional inference RNN",
    test_config={"obs_dim": 3, "z_dim": 2, "hidden": 8, "inference_hidden": 8, "embed_dim": 4},
)
