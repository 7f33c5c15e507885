"""The ``rnn`` model: an autoregressive RNN over observations (vae-seq's ``rnn`` family).

Generative model, for ``t = 0 … T-1``::

    c_t = agent context        (default ObservationAgent: [enc(x_{t-1}), inputs_t], zeros at t = 0)
    d_t = RNN(c_t, d_{t-1}),   d_{-1} = 0        (nn.GRU or nn.LSTM, ``num_layers`` deep)
    x_t ~ p(x | d_t)                             (the decoder: Bernoulli, Normal, Categorical, Beta)

There are no latents, so the likelihood is exact (and the ELBO, with ``KL = 0``, equals it):
``log p(x) = Σ_{t observed} log p(x_t | d_t)`` — the recurrent language model of
Mikolov et al. (2010), *Recurrent neural network based language model*, with vae-seq's agent
supplying ``c_t``. Training uses the exact NLL (the base's ``objective()``).

Shapes: ``x: [batch, time, *obs_shape]`` (``obs_shape = ()`` and long tokens for
``obs='categorical'``, ``(obs_dim,)`` otherwise), ``context: [batch, time, input_dim]``,
``d: [batch, time, hidden]``; the per-step state holds ``h, c: [batch, num_layers, hidden]``.

Whole sequences take one ``nn.GRU``/``nn.LSTM`` call over ``agent.contexts(x)`` and one decoder
call over ``[batch, time, hidden]``; ``prior_step`` runs the same module on a length-1 sequence,
so stepping and whole-sequence scoring agree. ``condition`` gathers every layer's state at each
sequence's last observed step with one ``pack_padded_sequence`` call (exact for ragged prefixes,
any ``num_layers``, GRU or LSTM).
"""

from __future__ import annotations

from typing import Optional

import attrs
import pyro
import torch

from .. import __version__
from ..components.base import Agent, Decoder
from ..config import Config, config, non_negative_int, one_of, positive_int
from ..model import ElboTerms, SequenceModel
from ..spec import ModelSpec
from ..state import State, state
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
    masked_log_lik,
)

__all__ = ["RNNConfig", "RNNState", "RNNModel", "SPEC"]


@config
class RNNConfig(Config):
    """Configuration of :class:`RNNModel`.

    obs_dim:        observation width, or the vocabulary size for ``obs='categorical'``
    obs:            ``'bernoulli' | 'made' | 'normal' | 'categorical' | 'beta'`` (the decoder)
    hidden:         RNN state width (the decoder's ``in_dim``)
    cell:           ``'gru' | 'lstm'``
    num_layers:     stacked RNN layers
    embed_dim:      width of the default agent's observation encoding (an embedding for tokens,
                    one linear projection for vectors); 0 feeds the raw observation (one-hot tokens)
    input_dim:      width of given per-step inputs (``context=``), 0 for none
    decoder_hidden: hidden layer widths of the decoder's MLP head
    """

    obs_dim: int = attrs.field(validator=positive_int)
    obs: str = attrs.field(default="bernoulli", validator=one_of(*OBS_KINDS))
    hidden: int = attrs.field(default=128, validator=positive_int)
    cell: str = attrs.field(default="gru", validator=one_of(*CELLS))
    num_layers: int = attrs.field(default=1, validator=positive_int)
    embed_dim: int = attrs.field(default=64, validator=non_negative_int)
    input_dim: int = attrs.field(default=0, validator=non_negative_int)
    decoder_hidden: tuple = attrs.field(default=(), converter=as_tuple, validator=layer_sizes)


@state
class RNNState(State):
    """``h: [batch, num_layers, hidden]`` RNN state; ``c``: the LSTM cell state (same shape) or None."""

    h: torch.Tensor
    c: Optional[torch.Tensor] = None


class RNNModel(SequenceModel):
    """``d_t = RNN(c_t, d_{t-1})``, ``x_t ~ p(x | d_t)`` with an exact ``log_prob`` (see the module docstring).

    ``RNNModel(config, *, decoder=None, agent=None)``: components left out come from
    :func:`~seqgen.models.common.default_components`; given ones must fit the config
    (``decoder.in_dim == hidden``, the agent reads the decoder's observations, ``agent.input_dim
    == input_dim``), else :class:`~seqgen.ShapeError` at construction.
    """

    config_cls = RNNConfig
    capabilities = frozenset({"log_prob", "elbo", "generate", "forecast", "impute", "pyro", "gradient"})

    def __init__(self, config: RNNConfig, *, decoder: Optional[Decoder] = None, agent: Optional[Agent] = None):
        super().__init__(config)
        if decoder is None or agent is None:
            defaults = default_components(config)
            decoder = defaults["decoder"] if decoder is None else decoder
            agent = defaults["agent"] if agent is None else agent
        check_components(config, decoder=decoder, agent=agent)
        self.decoder = decoder
        self.agent = agent
        self.rnn = Recurrence(config.cell, int(agent.context_dim), config.hidden, config.num_layers)

    # ------------------------------------------------------------------ observation facts
    @property
    def obs_shape(self) -> torch.Size:
        return self.decoder.obs_shape

    @property
    def has_rsample(self) -> bool:
        """Reparameterisable when the decoder is (Normal, Beta): there are no latents to sample."""
        return bool(self.decoder.has_rsample)

    # ------------------------------------------------------------------ per step
    def initial_state(self, batch_size: int) -> RNNState:
        """Zero RNN state, ``h (, c): [batch, num_layers, hidden]``, on the model's device/dtype."""
        h, c = self.rnn.initial(batch_size, self.rnn.rnn.weight_hh_l0)
        return RNNState(h, c)

    def prior_step(self, state: RNNState, context_t: Optional[torch.Tensor]):
        """``d_t = RNN(c_t, d_{t-1})``; returns ``p(x_t | d_t)`` (batch ``[batch]``) and the new state."""
        check_context_t(context_t, state.h.shape[0], self.rnn.input_size)
        d, h, c = self.rnn.step(context_t.to(state.h.dtype), state.h, state.c)  # d: [batch, hidden]
        return self.decoder.dist_from(d), RNNState(h, c)

    def observe(self, state: RNNState, x_t: torch.Tensor) -> RNNState:
        """Unchanged: ``x_t`` reaches the RNN through the agent's next context."""
        return state

    # ------------------------------------------------------------------ whole sequence
    def _obs_dist(self, x, context):
        """``p(x_t | d_t)`` for every step, batch ``[batch, time]``, from one RNN and one decoder call."""
        c = self.agent.contexts(x, inputs=context)  # [batch, time, context_dim]
        d = self.rnn(c.to(self.dtype))  # [batch, time, hidden]
        return self.decoder.dist_from(d)

    def _log_prob(self, x, context, mask, lengths) -> torch.Tensor:
        """``Σ_{t observed} log p(x_t | d_t)``: ``[batch]`` nats."""
        return masked_log_lik(self._obs_dist(x, context), x, mask)

    def _elbo_terms(self, x, context, mask, lengths) -> ElboTerms:
        """With no latents the bound is tight: ``elbo = log p(x)``, ``kl = 0`` (so ``elbo <= log_prob`` holds with equality)."""
        lp = self._log_prob(x, context, mask, lengths)
        return ElboTerms(log_lik=lp, kl=torch.zeros_like(lp))

    def _model(self, x, context, mask):
        """One observed site ``'x'``, batch ``[batch]``, event ``[time, *obs_shape]``, hidden steps masked."""
        pyro.module("rnn", self)
        p = self._obs_dist(x, context)  # batch [batch, time]
        with pyro.plate("sequences", x.shape[0]):
            pyro.sample("x", p.mask(mask).to_event(1), obs=fill_hidden(p, x, mask))

    def _guide(self, x, context, mask):
        """Empty: the model has no latent sites."""

    def _condition(self, x, context, mask, lengths) -> RNNState:
        """The state after step ``lengths[b] - 1`` of each sequence (every layer), via ``pack_padded_sequence``."""
        c = self.agent.contexts(x, inputs=context)  # [batch, time, context_dim]
        h, cell = self.rnn.final(c.to(self.dtype), lengths)  # [batch, num_layers, hidden]
        return RNNState(h, cell)


SPEC = ModelSpec(
    name="rnn",
    model_cls=RNNModel,
    config_cls=RNNConfig,
    capabilities=RNNModel.capabilities,
    default_components=default_components,
    version=__version__,
    description="autoregressive RNN (GRU/LSTM) over observations, exact log-likelihood",
    test_config={"obs_dim": 3, "hidden": 8, "embed_dim": 4},
)
