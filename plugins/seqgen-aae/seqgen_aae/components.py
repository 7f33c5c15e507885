"""The AAE's default components (decoder, agent, prior) and the check that user-given ones fit.

- decoder ``p(x_t | [d_t, z])``: ``BernoulliDecoder`` / ``NormalDecoder`` (learned or fixed ``σ``) /
  ``BetaDecoder`` from ``config.obs``, reading the decoder GRU state and the code
  (``in_dim = config.hidden + config.z_dim``);
- agent: ``ObservationAgent`` (``c_t = [enc(x_{t-1}), inputs_t]``) for ``context='observation'``,
  ``ConstantAgent`` (``c_t = inputs_t``, often empty) for ``context='none'``;
- code_prior: the registry's prior named by ``config.prior`` (:func:`~seqgen_aae.priors.make_prior`).
  (The keyword is ``code_prior`` because ``prior`` is the config field that names it.)
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch

import seqgen
from seqgen import Agent, ConfigError, Decoder, ShapeError

from .priors import Prior, make_prior

__all__ = ["default_components", "make_decoder", "make_agent", "check_components"]


def make_decoder(config) -> Decoder:
    """The decoder ``config.obs`` names, ``[*, hidden + z_dim] -> p(x | d, z)`` over ``obs_dim`` values."""
    in_dim = config.hidden + config.z_dim
    if config.obs == "bernoulli":
        return seqgen.BernoulliDecoder(in_dim, config.obs_dim, hidden=config.decoder_hidden)
    if config.obs == "normal":
        scale = "learned" if config.obs_scale is None else config.obs_scale
        return seqgen.NormalDecoder(in_dim, config.obs_dim, hidden=config.decoder_hidden, scale=scale)
    return seqgen.BetaDecoder(in_dim, config.obs_dim, hidden=config.decoder_hidden)


def make_agent(config) -> Agent:
    """The decoder's context agent ``config.context`` names."""
    if config.context == "none":
        return seqgen.ConstantAgent(config.input_dim)
    shape = (config.obs_dim,)
    enc = seqgen.MLPEncoder(shape, config.context_dim, hidden=()) if config.context_dim else seqgen.FlattenEncoder(shape)
    return seqgen.ObservationAgent(enc, input_dim=config.input_dim)


def default_components(config) -> Mapping[str, Any]:
    """``config -> {'decoder', 'agent', 'code_prior'}``: what the model uses when the user gives none."""
    return {"decoder": make_decoder(config), "agent": make_agent(config), "code_prior": make_prior(config)}


def check_components(config, *, decoder: Decoder, agent: Agent, code_prior: Prior) -> None:
    """Raise ShapeError (ConfigError for a wrong type) when a component does not fit ``config``."""
    prior = code_prior
    for name, comp, cls in (("decoder", decoder, Decoder), ("agent", agent, Agent), ("code_prior", prior, Prior)):
        if not isinstance(comp, cls):
            where = "seqgen" if cls is not Prior else "seqgen_aae"
            raise ConfigError(name, f"{name}: expected a {where}.{cls.__name__}, got {type(comp).__name__}", f"pass a {where}.{cls.__name__} instance, or None for the default")
    in_dim = config.hidden + config.z_dim
    if int(decoder.in_dim) != in_dim:
        raise ShapeError("decoder", f"in_dim={in_dim} (config.hidden + config.z_dim: the GRU state and the code)", f"in_dim={decoder.in_dim}", f"build the decoder with in_dim={in_dim}")
    want = torch.Size((config.obs_dim,))
    if tuple(decoder.obs_shape) != tuple(want):
        raise ShapeError("decoder", f"obs_shape {tuple(want)} (config.obs_dim={config.obs_dim})", f"obs_shape {tuple(decoder.obs_shape)}", "make config.obs_dim match the decoder")
    agent_obs: Optional[torch.Size] = getattr(agent, "obs_shape", None)
    if agent_obs is not None and tuple(agent_obs) != tuple(want):
        raise ShapeError("agent", f"obs_shape {tuple(want)} (the decoder's)", f"obs_shape {tuple(agent_obs)}", "build the agent's encoder for the decoder's observations")
    if int(agent.input_dim) != config.input_dim:
        raise ShapeError("agent", f"input_dim={config.input_dim} (config.input_dim)", f"input_dim={agent.input_dim}", f"build the config with input_dim={agent.input_dim}")
    if prior.z_dim != config.z_dim:
        raise ShapeError("code_prior", f"z_dim={config.z_dim} (config.z_dim)", f"z_dim={prior.z_dim}", f"build the prior with z_dim={config.z_dim}")
    if config.label_conditioned and not prior.labelled:
        raise ConfigError("code_prior", f"label_conditioned=True needs a prior with classes, got {type(prior).__name__}", "use a mixture, swiss-roll or categorical prior")
