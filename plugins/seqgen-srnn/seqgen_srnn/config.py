"""``SRNNConfig``: the sizes and switches of the SRNN (Fraccaro et al., NeurIPS 2016).

Field names shared with the built-in models (``obs``, ``obs_dim``, ``embed_dim``, ``input_dim``,
``decoder_hidden``) mean the same thing here, so one ``--set`` line or data spec fits every family.
"""

from __future__ import annotations

import attrs

import seqgen
from seqgen import ConfigError, in_range, non_negative_int, one_of, positive_int
from seqgen.components import DECODERS

__all__ = ["SRNNConfig", "OBS_KINDS", "INFERENCE_KINDS"]

OBS_KINDS = tuple(DECODERS)  # seqgen's stock decoders
INFERENCE_KINDS = ("smooth", "filter")


def _as_tuple(value):
    """A list (from JSON or ``--set``) becomes a tuple; anything else is left to the validator."""
    return tuple(value) if isinstance(value, list) else value


def _layer_sizes(instance, attribute, value):
    ok = isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    if not ok:
        raise ConfigError(
            attribute.name,
            f"'{attribute.name}' must be a tuple of integers > 0 (got {value!r})",
            f"write e.g. {attribute.name}=(128,), or () for none",
        )


def _is_bool(instance, attribute, value):
    if not isinstance(value, bool):
        raise ConfigError(attribute.name, f"'{attribute.name}' must be true or false (got {value!r})")


def _scale_floor(instance, attribute, value):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
    if not ok:
        raise ConfigError(attribute.name, f"'{attribute.name}' must be in (0, 1) (got {value!r})", "write e.g. min_scale=0.001")


@seqgen.config
class SRNNConfig(seqgen.Config):
    """Configuration of :class:`~seqgen_srnn.SRNN`.

    obs_dim:        observation width (piano-roll keys, series features), or the vocabulary size
                    (``<unk>`` included) when ``obs='categorical'``
    obs:            ``'bernoulli' | 'made' | 'normal' | 'categorical' | 'beta'``: the default decoder
                    (``made``: bits that depend on the bits before them, ``seqgen.components.MADEDecoder``)
    z_dim:          width of each step's stochastic state ``z_t``
    d_dim:          state width of the deterministic GRU ``d_t = GRU(d_{t-1}, c_t)``
    a_dim:          width of the inference features ``a_t`` (the backward GRU's state, or the
                    filter MLP's output)
    mlp_hidden:     hidden width of the prior MLP ``[d_t, z_{t-1}] -> (μ_p, σ_p)`` and of the
                    posterior MLP ``[a_t, z_{t-1}] -> (μ_q or Δμ, σ_q)`` (one hidden ReLU layer each)
    decoder_hidden: hidden layer widths of the emission MLP ``[z_t, d_t] -> p(x_t | z_t, d_t)``
    embed_dim:      observation encoding width for the agent's ``c_t = enc(x_{t-1})`` and the
                    inference network's ``enc(x_t)``; 0 = the raw vector (one-hot for tokens)
    input_dim:      width of given per-step inputs appended to the context (0: none)
    inference:      ``'smooth'`` (backward GRU over ``[d_t, enc(x_t)]``, the paper's default) or
                    ``'filter'`` (``a_t = MLP([d_t, enc(x_t)])``, no look-ahead)
    resq:           residual posterior mean ``μ_q = μ_p + Δμ(z_{t-1}, a_t)`` (the paper's Resq)
    min_scale:      floor added to every softplus standard deviation, so log-densities stay finite
    dropout:        dropout rate on the deterministic states ``d_t`` where they feed the prior, the
                    emission and the inference network (training only; the GRU's recurrence is
                    untouched); 0 = off
    """

    obs_dim: int = attrs.field(default=88, validator=positive_int)
    obs: str = attrs.field(default="bernoulli", validator=one_of(*OBS_KINDS))
    z_dim: int = attrs.field(default=16, validator=positive_int)
    d_dim: int = attrs.field(default=128, validator=positive_int)
    a_dim: int = attrs.field(default=128, validator=positive_int)
    mlp_hidden: int = attrs.field(default=128, validator=positive_int)
    decoder_hidden: tuple = attrs.field(default=(128,), converter=_as_tuple, validator=_layer_sizes)
    embed_dim: int = attrs.field(default=0, validator=non_negative_int)
    input_dim: int = attrs.field(default=0, validator=non_negative_int)
    inference: str = attrs.field(default="smooth", validator=one_of(*INFERENCE_KINDS))
    resq: bool = attrs.field(default=True, validator=_is_bool)
    min_scale: float = attrs.field(default=1e-3, validator=_scale_floor)
    dropout: float = attrs.field(default=0.0, validator=in_range(0.0, 1.0, hi_open=True))
