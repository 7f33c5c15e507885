"""Helpers shared by the built-in models (``rnn``, ``iseq``).

- :func:`make_decoder` / :func:`make_encoder`: the observation kind of a config
  (``'bernoulli' | 'normal' | 'categorical' | 'beta'``) -> a decoder / an encoder.
- :func:`default_components`: ``config -> {'decoder', 'agent'}`` (what ``ModelSpec`` calls).
- :func:`check_components`: a user-supplied decoder/agent/encoder that does not fit the config
  raises :class:`~seqgen.errors.ShapeError` naming the component, expected and actual.
- :func:`reverse_padded`: reverse each sequence within its own length, so a backward RNN never
  reads right-padding.
- :class:`Recurrence`: one ``nn.GRU``/``nn.LSTM`` used over whole sequences, one step at a time,
  and up to each sequence's last observed step — the same module, so the three agree.
- :func:`masked_log_lik`: ``Σ_{t observed} log p(x_t | …)`` with hidden steps kept out of both
  the value and the gradient.

Configs of both models share the fields read here: ``obs``, ``obs_dim``, ``hidden``, ``cell``,
``num_layers``, ``embed_dim``, ``input_dim``, ``decoder_hidden``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

import torch
from torch import nn

from ..components.agents import ObservationAgent
from ..components.base import Agent, Decoder, Encoder
from ..components import DECODERS
from ..components.encoders import EmbeddingEncoder, FlattenEncoder, MLPEncoder, OneHotEncoder
from ..errors import ConfigError, ShapeError
from ..masking import fill_hidden

__all__ = [
    "OBS_KINDS",
    "CELLS",
    "as_tuple",
    "layer_sizes",
    "obs_shape_of",
    "make_decoder",
    "make_encoder",
    "default_components",
    "check_components",
    "check_context_t",
    "reverse_padded",
    "steps_before",
    "masked_log_lik",
    "fill_hidden",
    "Recurrence",
]

OBS_KINDS = tuple(DECODERS)
CELLS = ("gru", "lstm")


def as_tuple(value):
    """Converter: a list (from JSON or ``--set``) becomes a tuple; anything else is left to the validator."""
    return tuple(value) if isinstance(value, list) else value


def layer_sizes(instance, attribute, value):
    """Validator: a tuple of integers > 0 (hidden layer widths, ``()`` for none)."""
    ok = isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    if not ok:
        raise ConfigError(
            attribute.name,
            f"'{attribute.name}' must be a tuple of integers > 0 (got {value!r})",
            f"write e.g. {attribute.name}=(64, 64), or () for none",
        )


def obs_shape_of(config) -> torch.Size:
    """One step's observation shape: ``()`` for ``obs='categorical'`` (tokens), else ``(obs_dim,)``."""
    return torch.Size(()) if config.obs == "categorical" else torch.Size((config.obs_dim,))


def make_decoder(obs: str, obs_dim: int, in_dim: int, *, hidden: Tuple[int, ...] = ()) -> Decoder:
    """``p(x_t | d_t)`` for an observation kind; ``obs_dim`` is the vocabulary size for tokens."""
    if obs in DECODERS:
        return DECODERS[obs](in_dim, obs_dim, hidden=hidden)
    raise ConfigError("obs", f"'obs' must be one of {', '.join(map(repr, OBS_KINDS))} (got {obs!r})")


def make_encoder(obs: str, obs_dim: int, embed_dim: int) -> Encoder:
    """An observation encoder: tokens -> embedding (one-hot when ``embed_dim == 0``);
    vectors -> one learned projection to ``embed_dim`` (the raw vector when ``embed_dim == 0``)."""
    if obs == "categorical":
        return EmbeddingEncoder(obs_dim, embed_dim) if embed_dim else OneHotEncoder(obs_dim)
    if obs in OBS_KINDS:
        shape = torch.Size((obs_dim,))
        return MLPEncoder(shape, embed_dim, hidden=()) if embed_dim else FlattenEncoder(shape)
    raise ConfigError("obs", f"'obs' must be one of {', '.join(map(repr, OBS_KINDS))} (got {obs!r})")


def default_components(config) -> Mapping[str, Any]:
    """The components a model uses when the user gives none.

    decoder: ``make_decoder(config.obs, config.obs_dim, in_dim=config.hidden, hidden=config.decoder_hidden)``
    agent:   ``ObservationAgent(make_encoder(...), input_dim=config.input_dim)``, so
             ``c_t = [enc(x_{t-1}), inputs_t]`` (zeros at ``t = 0``).
    """
    decoder = make_decoder(config.obs, config.obs_dim, config.hidden, hidden=config.decoder_hidden)
    encoder = make_encoder(config.obs, config.obs_dim, config.embed_dim)
    return {"decoder": decoder, "agent": ObservationAgent(encoder, input_dim=config.input_dim)}


def check_components(
    config,
    *,
    decoder: Decoder,
    agent: Agent,
    encoder: Optional[Encoder] = None,
) -> None:
    """Raise ShapeError (or ConfigError for a wrong type) when a component does not fit ``config``.

    Checks: ``decoder.in_dim == config.hidden``; ``decoder.obs_shape``
    equals the config's observation shape; ``agent.obs_shape`` (when the agent reads observations)
    and ``encoder.obs_shape`` equal the decoder's; ``agent.input_dim == config.input_dim``.
    """
    for name, comp, cls in (("decoder", decoder, Decoder), ("agent", agent, Agent), ("encoder", encoder, Encoder)):
        if comp is not None and not isinstance(comp, cls):
            raise ConfigError(name, f"{name}: expected a seqgen.{cls.__name__}, got {type(comp).__name__}", f"pass a seqgen.{cls.__name__} instance or None for the default")
    in_dim = config.hidden
    if int(decoder.in_dim) != in_dim:
        raise ShapeError("decoder", f"in_dim={in_dim} (the model's hidden size)", f"in_dim={decoder.in_dim}", f"build the decoder with in_dim={in_dim}")
    want = obs_shape_of(config)
    if tuple(decoder.obs_shape) != tuple(want):
        raise ShapeError("decoder", f"obs_shape {tuple(want)} (config obs={config.obs!r}, obs_dim={config.obs_dim})", f"obs_shape {tuple(decoder.obs_shape)}", "make the config's obs/obs_dim match the decoder")
    agent_obs = getattr(agent, "obs_shape", None)
    if agent_obs is not None and tuple(agent_obs) != tuple(decoder.obs_shape):
        raise ShapeError("agent", f"obs_shape {tuple(decoder.obs_shape)} (the decoder's)", f"obs_shape {tuple(agent_obs)}", "build the agent's encoder for the decoder's observations")
    if encoder is not None and tuple(encoder.obs_shape) != tuple(decoder.obs_shape):
        raise ShapeError("encoder", f"obs_shape {tuple(decoder.obs_shape)} (the decoder's)", f"obs_shape {tuple(encoder.obs_shape)}", "build the encoder for the decoder's observations")
    if int(agent.input_dim) != config.input_dim:
        raise ShapeError("agent", f"input_dim={config.input_dim} (config.input_dim)", f"input_dim={agent.input_dim}", f"build the config with input_dim={agent.input_dim}")


def check_context_t(context_t: Optional[torch.Tensor], batch: int, context_dim: int) -> None:
    """Raise ShapeError unless ``context_t`` is ``[batch, context_dim]`` (None allowed when ``context_dim == 0``)."""
    if context_t is None:
        if context_dim == 0:
            return
        raise ShapeError("context_t", f"[batch={batch}, context_dim={context_dim}]", "None", "pass the agent's context c_t (GenCore does this)")
    if tuple(context_t.shape) != (batch, context_dim):
        raise ShapeError("context_t", f"[batch={batch}, context_dim={context_dim}]", tuple(context_t.shape), "pass one context row per sequence of the state")


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence within its own length; steps at or past the length stay in place.

    ``x: [batch, time, *]``, ``lengths: [batch]`` -> ``y: [batch, time, *]`` with
    ``y[b, t] = x[b, lengths[b] - 1 - t]`` for ``t < lengths[b]`` and ``y[b, t] = x[b, t]`` otherwise.
    It is its own inverse, so ``reverse_padded(rnn(reverse_padded(x, L)), L)`` is a backward RNN
    whose output at ``t < L`` depends on ``x[t:L]`` only, never on padding.
    """
    batch, time = x.shape[:2]
    steps = torch.arange(time, device=x.device).expand(batch, time)  # [batch, time]
    lengths = lengths.to(x.device).unsqueeze(1)  # [batch, 1]
    idx = torch.where(steps < lengths, lengths - 1 - steps, steps)  # [batch, time]
    idx = idx.reshape(batch, time, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, idx)


def steps_before(lengths: torch.Tensor, time: int) -> torch.Tensor:
    """``[batch, time]`` bool, True at ``t < lengths[b]``: the steps whose latents count (KL terms)."""
    return torch.arange(time, device=lengths.device) < lengths.unsqueeze(1)


def masked_log_lik(dist: torch.distributions.Distribution, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``Σ_{t: mask_t} log p(x_t)`` per sequence: ``dist`` batch ``[batch, time]``, ``x: [batch, time, *obs]`` -> ``[batch]``.

    Hidden steps are first set to an in-support value (:func:`fill_hidden`), so neither the
    log-density nor its gradient at a hidden step can be NaN before it is masked out.
    """
    lp = dist.log_prob(fill_hidden(dist, x, mask))  # [batch, time]
    return torch.where(mask, lp, lp.new_zeros(())).sum(1)


class Recurrence(nn.Module):
    """``d_t = RNN(u_t, d_{t-1})``, ``d_0 = 0``: one ``nn.GRU``/``nn.LSTM`` (batch-first) used three ways.

    - ``forward(u: [batch, time, in]) -> d: [batch, time, hidden]`` (the top layer), one call;
    - ``step(u_t: [batch, in], h, c) -> (d_t: [batch, hidden], h, c)``: the same module on a
      length-1 sequence, so stepping and whole-sequence runs agree;
    - ``final(u, lengths) -> (h, c)``: every layer's state after step ``lengths - 1`` of each
      sequence, from one ``pack_padded_sequence`` call (exact for any ``num_layers``, GRU or LSTM).

    States are batch-first, ``h, c: [batch, num_layers, hidden]`` (``c`` is None for a GRU), as
    :class:`~seqgen.State` requires of its fields; they are transposed only at the module call.
    """

    def __init__(self, cell: str, input_size: int, hidden: int, num_layers: int = 1):
        super().__init__()
        if cell not in CELLS:
            raise ConfigError("cell", f"'cell' must be one of {', '.join(map(repr, CELLS))} (got {cell!r})")
        if input_size < 1:
            raise ShapeError("agent", "context_dim >= 1 (the RNN needs an input each step)", f"context_dim={input_size}", "use an agent that supplies a context, e.g. ObservationAgent")
        self.cell, self.hidden, self.num_layers = cell, hidden, num_layers
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(input_size, hidden, num_layers, batch_first=True)

    @property
    def input_size(self) -> int:
        return self.rnn.input_size

    def initial(self, batch_size: int, like: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Zero states ``h, c: [batch, num_layers, hidden]`` on ``like``'s device and dtype."""
        h = like.new_zeros(batch_size, self.num_layers, self.hidden)
        return h, (h.clone() if self.cell == "lstm" else None)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``u: [batch, time, in] -> d: [batch, time, hidden]`` from zero initial states."""
        d, _ = self.rnn(u)
        return d

    def _hx(self, h, c):
        h = h.transpose(0, 1).contiguous()  # [num_layers, batch, hidden], what nn.GRU/LSTM read
        return h if c is None else (h, c.transpose(0, 1).contiguous())

    def _split(self, hx):
        if isinstance(hx, tuple):
            return hx[0].transpose(0, 1), hx[1].transpose(0, 1)  # [batch, num_layers, hidden]
        return hx.transpose(0, 1), None

    def step(self, u_t: torch.Tensor, h: torch.Tensor, c: Optional[torch.Tensor]):
        """One step: ``u_t: [batch, in]`` -> ``(d_t: [batch, hidden], h, c)``."""
        d, hx = self.rnn(u_t.unsqueeze(1), self._hx(h, c))  # d: [batch, 1, hidden]
        h, c = self._split(hx)
        return d[:, 0], h, c

    def final(self, u: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """State after step ``lengths[b] - 1`` of each sequence: ``h, c: [batch, num_layers, hidden]``."""
        packed = nn.utils.rnn.pack_padded_sequence(u, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, hx = self.rnn(packed)  # rows come back in the original batch order
        return self._split(hx)
