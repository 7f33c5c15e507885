"""``AAEModel``: the adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow & Frey 2016,
*Adversarial Autoencoders*, arXiv 1511.05644) for sequences, with images as sequences of one step
(a flat image) or of rows.

Generative model (one code per sequence, drawn once)::

    z   ~ p(z)                                   any prior that can be sampled (seqgen_aae.priors)
    d_t = GRU([c_t, z], d_{t-1}),  d_{-1} = 0    c_t: the agent's context (default enc(x_{t-1}))
    x_t ~ p(x | [d_t, z])                        a seqgen decoder (in_dim = hidden + z_dim)

The decoder reads the code directly as well as through the GRU, so no recurrent gate can cut the
code off from the output (on a one-step sequence an update gate that stays shut would give
``d_0 = (1 - u) ⊙ n ≈ 0`` whatever ``z`` is).

Encoder ``q(z | x)``: a GRU reads the whole sequence, its final state gives the code
(deterministic, Gaussian or universal; :mod:`seqgen_aae.networks`). Training matches the
*aggregated posterior* ``q(z) = E_x[q(z | x)]`` to ``p(z)`` with a discriminator instead of a KL
term, in three phases per minibatch (:mod:`seqgen_aae.adversarial`):

    reconstruction:  min_{enc, dec}  -(1/N) Σ_b Σ_{t observed} log p(x_{b,t} | d_{b,t}, z_b),  z_b = enc(x_b)
    discriminator:   min_D  -E_{p(z)} log D(z) - E_{q(z)} log(1 - D(z))
    generator:       min_enc -E_{q(z)} log D(z)                        (the non-saturating GAN loss)

Per-step interface: ``initial_state`` draws ``z`` from the prior, ``prior_step`` runs one decoder
GRU step on ``[c_t, z]``, so ``GenCore``/``SequenceDistribution`` sample new sequences. As the
``latents`` contract asks, the state after each step holds that step's latent ``z_t = z`` and its
log-density ``z_log_prob``: ``log p(z)`` at the first step and 0 afterwards (the code stays put,
``p(z_t | z_{t-1}) = δ(z_t - z_{t-1})``), which :meth:`AAEModel.prior_log_prob` reproduces.

There is no likelihood: ``elbo``/``log_prob``/``iwae`` raise CapabilityError. Shapes:
``x: [batch, time, obs_dim]``, ``mask: [batch, time]``, codes ``[batch, z_dim]``.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import attrs
import torch
from torch import nn

import seqgen
from seqgen import Agent, CapabilityError, Decoder, ShapeError

from .adversarial import discriminator_logits, phased_objective
from .components import check_components, make_agent, make_decoder
from .config import AAEConfig
from .networks import Discriminator, SequenceEncoder
from .priors import Prior, make_prior

__all__ = ["AAEModel", "AAEState"]


@seqgen.state
class AAEState(seqgen.State):
    """``h: [batch, hidden]`` decoder GRU state; ``z: [batch, z_dim]`` the sequence's code;
    ``code_log_prob: [batch]`` ``log p(z)`` of the draw (NaN when the prior is sample-only);
    ``z_log_prob: [batch]`` the log-density of the latent emitted at the last step
    (``code_log_prob`` at step 0, 0 afterwards); ``step``: steps taken."""

    h: torch.Tensor
    z: torch.Tensor
    code_log_prob: torch.Tensor
    z_log_prob: torch.Tensor
    step: int = 0


class AAEModel(seqgen.SequenceModel):
    """Adversarial autoencoder over sequences (see the module docstring).

    ``AAEModel(config, *, decoder=None, agent=None, code_prior=None)``: components left out are
    built from the config (:mod:`seqgen_aae.components`; ``code_prior`` defaults to the registry's
    prior named by ``config.prior``); ones that do not fit raise ShapeError. The prior is kept as
    ``model.prior``.
    Beyond the SequenceModel API: :meth:`reconstruct`, :meth:`encode`, :meth:`decode`,
    :meth:`sample_codes`, :meth:`discriminator_prob`.
    """

    config_cls = AAEConfig
    capabilities = frozenset({"reconstruct", "generate", "latents", "adversarial", "gradient"})

    def __init__(self, config: AAEConfig, *, decoder: Optional[Decoder] = None, agent: Optional[Agent] = None, code_prior: Optional[Prior] = None):
        super().__init__(config)
        decoder = make_decoder(config) if decoder is None else decoder
        agent = make_agent(config) if agent is None else agent
        prior = make_prior(config) if code_prior is None else code_prior
        check_components(config, decoder=decoder, agent=agent, code_prior=prior)
        self.decoder, self.agent, self.prior = decoder, agent, prior
        self.encoder = SequenceEncoder(
            (config.obs_dim,),
            kind=config.encoder,
            z_dim=config.z_dim,
            embed_dim=config.embed_dim,
            feature_hidden=config.encoder_hidden,
            rnn_hidden=config.encoder_rnn,
            code_hidden=config.code_hidden,
            noise_dim=config.noise_dim,
            input_dim=config.input_dim,
        )
        self.dec_rnn = nn.GRU(int(agent.context_dim) + config.z_dim, config.hidden, batch_first=True)
        self.num_classes = prior.num_classes if config.label_conditioned else None
        slots = self.num_classes + 1 if config.label_conditioned else 0  # the classes and an "unlabelled" slot
        self.discriminator = Discriminator(config.z_dim, label_slots=slots, hidden=config.disc_hidden) if config.adversarial else None

    # ------------------------------------------------------------------ observation facts
    @property
    def obs_shape(self) -> torch.Size:
        return self.decoder.obs_shape

    @property
    def has_rsample(self) -> bool:
        """A prior draw is never differentiated, so this is the decoder's flag."""
        return bool(self.decoder.has_rsample)

    def check_inputs(self, x, *, mask=None, context=None, argument: str = "x"):
        """The base's checks (shape, NaN, support), then ``x`` and ``context`` in the model's dtype."""
        x, mask, lengths, context = super().check_inputs(x, mask=mask, context=context, argument=argument)
        return x.to(self.dtype), mask, lengths, None if context is None else context.to(self.dtype)

    # ------------------------------------------------------------------ per step
    def _code_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z)`` ``[batch]``, or NaN where the prior is sample-only (no density to report)."""
        if self.prior.has_density:
            return self.prior.log_prob(z)
        return z.new_full(z.shape[:1], math.nan)

    def _start(self, z: torch.Tensor) -> AAEState:
        h = z.new_zeros(z.shape[0], self.config.hidden)
        return AAEState(h=h, z=z, code_log_prob=self._code_log_prob(z), z_log_prob=z.new_zeros(z.shape[0]))

    def initial_state(self, batch_size: int) -> AAEState:
        """Draw each sequence's code ``z ~ p(z)`` (``[batch, z_dim]``); zero decoder state."""
        return self._start(self.sample_codes(batch_size))

    def prior_step(self, state: AAEState, context_t: Optional[torch.Tensor]):
        """``d_t = GRU([c_t, z], d_{t-1})``; returns ``p(x_t | [d_t, z])`` (batch ``[batch]``) and the state."""
        batch, width = state.h.shape[0], self.dec_rnn.input_size - self.config.z_dim
        if context_t is None and width == 0:
            context_t = state.z.new_zeros(batch, 0)
        if context_t is None or tuple(context_t.shape) != (batch, width):
            got = "None" if context_t is None else tuple(context_t.shape)
            raise ShapeError("context_t", f"[batch={batch}, context_dim={width}]", got, "pass the agent's context c_t (GenCore does this)")
        u = torch.cat([context_t.to(state.z.dtype), state.z], dim=-1).unsqueeze(1)  # [batch, 1, context_dim + z_dim]
        d, h = self.dec_rnn(u, state.h.unsqueeze(0).contiguous())  # d: [batch, 1, hidden], h: [1, batch, hidden]
        z_log_prob = state.code_log_prob if state.step == 0 else torch.zeros_like(state.code_log_prob)
        new = attrs.evolve(state, h=h[0], z_log_prob=z_log_prob, step=state.step + 1)
        return self.decoder.dist_from(torch.cat([d[:, 0], state.z], dim=-1)), new

    def observe(self, state: AAEState, x_t: torch.Tensor) -> AAEState:
        """Unchanged: ``x_t`` reaches the decoder through the agent's next context."""
        return state

    # ------------------------------------------------------------------ networks (clean tensors)
    def _codes(self, x, context, mask, lengths) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """``z = squash(enc(x))``: ``[batch, z_dim]``, and the Gaussian encoder's ``z_loc``/``z_scale``."""
        raw, extras = self.encoder(x, mask, lengths, context)
        return self.prior.squash(raw), extras

    def _decoder_dist(self, x, context, z) -> torch.distributions.Distribution:
        """Teacher-forced ``p(x_t | [d_t, z])`` for every step, batch ``[batch, time]``."""
        c = self.agent.contexts(x, inputs=context).to(z.dtype)  # [batch, time, context_dim]
        zs = z.unsqueeze(1).expand(-1, x.shape[1], -1)  # [batch, time, z_dim]
        d, _ = self.dec_rnn(torch.cat([c, zs], dim=-1))  # [batch, time, hidden]
        return self.decoder.dist_from(torch.cat([d, zs], dim=-1))  # reads [batch, time, hidden + z_dim]

    def _log_lik(self, x, context, mask, z) -> torch.Tensor:
        """``Σ_{t observed} log p(x_t | [d_t, z])`` per sequence, ``[batch]``.

        Hidden steps are first set to a value inside the support (0 for bits, the detached mean
        otherwise), so a Beta decoder's infinite density at 0 cannot leak a NaN into the gradient.
        """
        p = self._decoder_dist(x, context, z)
        if not bool(mask.all()):
            x = torch.where(mask.unsqueeze(-1), x, _inside_support(p, x))
        lp = p.log_prob(x)  # [batch, time]
        return torch.where(mask, lp, lp.new_zeros(())).sum(1)

    # ------------------------------------------------------------------ capability hooks
    def _infer(self, x, context, mask, lengths):
        """``{'z': [batch, z_dim]}`` the code (one per sequence), plus ``z_loc``/``z_scale`` (before any
        squashing) for the Gaussian encoder. Stochastic encoders draw fresh noise on every call."""
        z, extras = self._codes(x, context, mask, lengths)
        return {"z": z, **extras}

    def _prior_log_prob(self, x, z, context, mask, lengths) -> torch.Tensor:
        """``[batch, time]``: ``log p(z_0)`` at ``t = 0``; at ``t > 0`` 0 where ``z_t = z_{t-1}`` and
        ``-inf`` elsewhere (the code is drawn once per sequence). ``z: [batch, time, z_dim]``."""
        want = (x.shape[0], x.shape[1], self.config.z_dim)
        if tuple(z.shape) != want:
            raise ShapeError("z", f"[batch={want[0]}, time={want[1]}, z_dim={want[2]}]", tuple(z.shape), "pass the code of every step (the same z repeated)")
        if not self.prior.has_density:
            raise CapabilityError(type(self.prior).__name__, "log_prob", ("sample",), "a sample-only prior has no density to report")
        z = z.to(self.dtype)
        first = self.prior.log_prob(z[:, 0])  # [batch]
        stays = (z[:, 1:] == z[:, :-1]).all(-1)  # [batch, time - 1]
        rest = torch.where(stays, z.new_zeros(()), z.new_full((), -math.inf))
        return torch.cat([first.unsqueeze(1), rest], dim=1)

    # ------------------------------------------------------------------ public extras
    def reconstruct(self, x, *, context=None, mask=None) -> torch.Tensor:
        """``E[x_t | d_t, z]`` with ``z = enc(x)`` and teacher forcing: ``[batch, time, *obs_shape]``.

        This is what the reconstruction phase fits; for images (one step) it is the decoded code.
        """
        self.require("reconstruct")
        x, mask, lengths, context = self.check_inputs(x, mask=mask, context=context)
        z, _ = self._codes(x, context, mask, lengths)
        return self._decoder_dist(x, context, z).mean

    def encode(self, x, *, context=None, mask=None) -> torch.Tensor:
        """The codes ``[batch, z_dim]`` (``infer(x)['z']``)."""
        return self.infer(x, context=context, mask=mask)["z"]

    def sample_codes(self, num: int, *, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``num`` prior draws ``[num, z_dim]`` (class ``labels[i]``'s part of the prior where given)."""
        return self.prior.sample(num, like=self.dec_rnn.weight_hh_l0, labels=labels)

    def decode(self, z: torch.Tensor, num_steps: int = 1, *, sample: bool = False, inputs: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Run the decoder from given codes ``z: [batch, z_dim]``: ``[batch, num_steps, *obs_shape]``.

        Each step emits the decoder's mean (``sample=False``: the usual picture of a decoded code,
        e.g. a manifold grid) or a sample, and feeds it back through the agent. No gradient.
        """
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.config.z_dim:
            raise ShapeError("z", f"[batch, z_dim={self.config.z_dim}]", tuple(getattr(z, "shape", ())), "pass one code per sequence")
        if not isinstance(num_steps, int) or num_steps < 1:
            raise seqgen.ConfigError("num_steps", f"'num_steps' must be an integer >= 1 (got {num_steps!r})")
        with torch.no_grad():
            s = self._start(z.to(device=self.device, dtype=self.dtype))
            a = self.agent.initial_state(z.shape[0], inputs=inputs, device=self.device, dtype=self.dtype)
            xs = []
            for _ in range(num_steps):
                c, a = self.agent.context(a)
                p, s = self.prior_step(s, c)
                x_t = p.sample() if sample else p.mean  # [batch, *obs_shape]
                s, a = self.observe(s, x_t), self.agent.observe(a, x_t)
                xs.append(x_t)
        return torch.stack(xs, dim=1)

    def discriminator_prob(self, z: torch.Tensor, *, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``D(z) = σ(ℓ(z, y))`` ``[batch]``: the discriminator's probability that ``z`` came from the prior."""
        return torch.sigmoid(discriminator_logits(self, z, labels))

    def objective(self):
        """The three-phase :class:`~seqgen.PhasedObjective` (:func:`seqgen_aae.adversarial.phased_objective`)."""
        return phased_objective(self)


def _inside_support(p: torch.distributions.Distribution, x: torch.Tensor) -> torch.Tensor:
    """A value inside ``p``'s support shaped like ``x``: 0 for discrete parts, the detached mean otherwise."""
    if isinstance(p, seqgen.GroupDistribution):
        return torch.cat([_inside_support(d, x[..., s]) for d, s in zip(p.parts.values(), p.slices.values())], dim=-1)
    if p.support.is_discrete:
        return torch.zeros_like(x)
    return p.mean.detach().to(x.dtype)
