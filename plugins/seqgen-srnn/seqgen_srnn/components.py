"""The SRNN's default components, and the checks that user-supplied ones fit the config.

- decoder ``p(x_t | z_t, d_t)``: reads ``[z_t, d_t]`` (``in_dim = z_dim + d_dim``) through an MLP
  of ``decoder_hidden``; Bernoulli (piano rolls), MADE (piano rolls, keys dependent), Normal (real
  series), Categorical (text), Beta.
- agent: ``ObservationAgent(enc)``, so ``c_t = [enc(x_{t-1}), inputs_t]`` with ``enc(x_{-1}) = 0``.
- encoder: a second ``enc`` for the inference network's ``enc(x_t)`` (its own parameters: the
  two roles read different steps, and separate tensors keep checkpoints free of shared storage).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch

from seqgen import Agent, ConfigError, Decoder, Encoder, ShapeError
from seqgen.components import (
    DECODERS,
    EmbeddingEncoder,
    FlattenEncoder,
    MLPEncoder,
    ObservationAgent,
    OneHotEncoder,
)

from .config import SRNNConfig

__all__ = ["obs_shape_of", "make_decoder", "make_encoder", "default_components", "check_components"]


def obs_shape_of(config: SRNNConfig) -> torch.Size:
    """``()`` for tokens (``obs='categorical'``), else ``(obs_dim,)``."""
    return torch.Size(()) if config.obs == "categorical" else torch.Size((config.obs_dim,))


def make_decoder(config: SRNNConfig) -> Decoder:
    """``p(x_t | z_t, d_t)`` for ``config.obs``, reading ``[z_t, d_t]``."""
    in_dim, hidden = config.z_dim + config.d_dim, config.decoder_hidden
    return DECODERS[config.obs](in_dim, config.obs_dim, hidden=hidden)


def make_encoder(config: SRNNConfig) -> Encoder:
    """Tokens -> embedding (one-hot when ``embed_dim == 0``); vectors -> a learned projection to
    ``embed_dim`` (the raw vector when ``embed_dim == 0``)."""
    if config.obs == "categorical":
        return EmbeddingEncoder(config.obs_dim, config.embed_dim) if config.embed_dim else OneHotEncoder(config.obs_dim)
    shape = obs_shape_of(config)
    return MLPEncoder(shape, config.embed_dim, hidden=()) if config.embed_dim else FlattenEncoder(shape)


def default_components(config: SRNNConfig) -> Mapping[str, Any]:
    """``{'decoder', 'agent', 'encoder'}`` built from the config (what ``ModelSpec.build`` uses)."""
    return {
        "decoder": make_decoder(config),
        "agent": ObservationAgent(make_encoder(config), input_dim=config.input_dim),
        "encoder": make_encoder(config),
    }


def check_components(config: SRNNConfig, *, decoder: Any, agent: Any, encoder: Any) -> None:
    """Raise ShapeError (ConfigError for a wrong type) naming a component that does not fit."""
    for name, comp, cls in (("decoder", decoder, Decoder), ("agent", agent, Agent), ("encoder", encoder, Encoder)):
        if not isinstance(comp, cls):
            raise ConfigError(name, f"{name}: expected a seqgen.{cls.__name__}, got {type(comp).__name__}", f"pass a seqgen.{cls.__name__} instance, or leave {name} out for the default")
    want_in = config.z_dim + config.d_dim
    if int(decoder.in_dim) != want_in:
        raise ShapeError("decoder", f"in_dim={want_in} (z_dim + d_dim: it reads [z_t, d_t])", f"in_dim={decoder.in_dim}", f"build the decoder with in_dim={want_in}")
    want = obs_shape_of(config)
    if tuple(decoder.obs_shape) != tuple(want):
        raise ShapeError("decoder", f"obs_shape {tuple(want)} (config obs={config.obs!r}, obs_dim={config.obs_dim})", f"obs_shape {tuple(decoder.obs_shape)}", "make the config's obs/obs_dim match the decoder")
    agent_obs: Optional[torch.Size] = getattr(agent, "obs_shape", None)
    if agent_obs is not None and tuple(agent_obs) != tuple(want):
        raise ShapeError("agent", f"obs_shape {tuple(want)} (the decoder's)", f"obs_shape {tuple(agent_obs)}", "build the agent's encoder for the decoder's observations")
    if tuple(encoder.obs_shape) != tuple(want):
        raise ShapeError("encoder", f"obs_shape {tuple(want)} (the decoder's)", f"obs_shape {tuple(encoder.obs_shape)}", "build the encoder for the decoder's observations")
    if int(agent.input_dim) != config.input_dim:
        raise ShapeError("agent", f"input_dim={config.input_dim} (config.input_dim)", f"input_dim={agent.input_dim}", f"build the config with input_dim={agent.input_dim}")
    if int(agent.context_dim) < 1:
        raise ShapeError("agent", "context_dim >= 1 (the deterministic GRU needs an input each step)", f"context_dim={agent.context_dim}", "use an agent that supplies a context, e.g. ObservationAgent")
