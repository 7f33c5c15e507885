"""``AAEConfig``: the sizes, switches and learning rates of the adversarial autoencoder.

Field names shared with the built-in models (``obs``, ``obs_dim``, ``embed_dim``, ``input_dim``,
``hidden``, ``decoder_hidden``) mean the same thing here, so one ``--set`` line fits every family.
The three learning rates are the three phases' (Makhzani et al. 2016, §2: "the reconstruction
phase" and "the regularization phase", the latter split into the discriminator's and the
encoder's updates).
"""

from __future__ import annotations

import attrs

import seqgen
from seqgen import ConfigError, non_negative_int, one_of, positive, positive_int

from .priors import PRIORS, check_prior_name

__all__ = ["AAEConfig", "OBS_KINDS", "ENCODER_KINDS", "CONTEXT_KINDS"]

OBS_KINDS = ("bernoulli", "normal", "beta")
ENCODER_KINDS = ("deterministic", "gaussian", "universal")
CONTEXT_KINDS = ("observation", "none")


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


def _prior_name(instance, attribute, value):
    check_prior_name(value, argument=attribute.name)


def _obs_scale(instance, attribute, value):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(attribute.name, f"'{attribute.name}' must be None (learned) or a number > 0 (got {value!r})", "write e.g. obs_scale=0.1")


def _betas(instance, attribute, value):
    ok = isinstance(value, tuple) and len(value) == 2
    ok = ok and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0.0 <= b < 1.0 for b in value)
    if not ok:
        raise ConfigError(attribute.name, f"'{attribute.name}' must be two numbers in [0, 1) (got {value!r})", "write e.g. adversarial_betas=(0.5, 0.999)")


@seqgen.config
class AAEConfig(seqgen.Config):
    """Configuration of :class:`~seqgen_aae.AAEModel`.

    Observations and decoder
      obs_dim:        width of one step's observation (784 for a flat MNIST image, 28 for a row)
      obs:            ``'bernoulli' | 'normal' | 'beta'``: the default decoder ``p(x_t | [d_t, z])``
      obs_scale:      ``obs='normal'`` only: a fixed standard deviation, or None to learn it
      hidden:         width of the decoder GRU state ``d_t`` (the decoder's ``in_dim`` is ``hidden + z_dim``)
      decoder_hidden: hidden layer widths of the decoder head ``d_t -> p(x_t | d_t)``
      context:        ``'observation'``: the decoder reads ``c_t = enc(x_{t-1})`` (an
                      ObservationAgent); ``'none'``: only the code (ConstantAgent)
      context_dim:    width of ``enc(x_{t-1})`` for the observation agent (0: the raw vector)
      input_dim:      width of given per-step inputs appended to the context (0: none)
    Encoder ``q(z | x)``
      encoder:        ``'deterministic'`` ``z = f(x)``; ``'gaussian'`` ``z = μ(x) + σ(x) ε``;
                      ``'universal'`` ``z = f(x, η)`` with noise ``η ~ N(0, I)`` as an input
      noise_dim:      width of ``η`` (``'universal'`` only)
      embed_dim:      width of the per-step features the encoder GRU reads
      encoder_hidden: hidden layer widths of the per-step feature MLP ``x_t -> e_t``
      encoder_rnn:    width of the encoder GRU state (its final state summarises the sequence)
      code_hidden:    hidden layer widths of the MLP from the summary (and ``η``) to the code
    Prior and regularisation
      z_dim:          width of the code ``z`` (one per sequence)
      prior:          a name from :data:`~seqgen_aae.PRIORS` (``'gaussian'``, ``'mixture'``,
                      ``'swiss_roll'``, ``'uniform'``, ``'categorical'``)
      prior_scale:    the prior's size: the Gaussian's standard deviation, the uniform's
                      half-width, the radius of the mixture's circle and of the swiss roll
      num_components: mixture components (and swiss-roll segments) a label can select
      label_conditioned: feed the discriminator a one-hot label plus an "unlabelled" slot and
                      draw each labelled sequence's prior sample from its class's component
                      (§2.3 of the paper); batches must then carry labels (-1 = unlabelled)
      adversarial:    False trains a plain autoencoder (the reconstruction phase only)
      disc_hidden:    hidden ReLU layer widths of the discriminator (its logit layer is linear)
    Optimisation (one optimizer per phase, Adam unless TrainConfig says otherwise)
      lr_reconstruction, lr_discriminator, lr_generator: the three phases' learning rates
      adversarial_betas: Adam betas of the two regularisation phases (the GAN setting (0.5, 0.999))
    """

    obs_dim: int = attrs.field(validator=positive_int)
    obs: str = attrs.field(default="bernoulli", validator=one_of(*OBS_KINDS))
    obs_scale: float | None = attrs.field(default=None, validator=_obs_scale)
    hidden: int = attrs.field(default=128, validator=positive_int)
    decoder_hidden: tuple = attrs.field(default=(), converter=_as_tuple, validator=_layer_sizes)
    context: str = attrs.field(default="observation", validator=one_of(*CONTEXT_KINDS))
    context_dim: int = attrs.field(default=32, validator=non_negative_int)
    input_dim: int = attrs.field(default=0, validator=non_negative_int)

    encoder: str = attrs.field(default="deterministic", validator=one_of(*ENCODER_KINDS))
    noise_dim: int = attrs.field(default=8, validator=positive_int)
    embed_dim: int = attrs.field(default=64, validator=positive_int)
    encoder_hidden: tuple = attrs.field(default=(), converter=_as_tuple, validator=_layer_sizes)
    encoder_rnn: int = attrs.field(default=128, validator=positive_int)
    code_hidden: tuple = attrs.field(default=(128,), converter=_as_tuple, validator=_layer_sizes)

    z_dim: int = attrs.field(default=8, validator=positive_int)
    prior: str = attrs.field(default="gaussian", validator=_prior_name)
    prior_scale: float = attrs.field(default=1.0, validator=positive)
    num_components: int = attrs.field(default=10, validator=positive_int)
    label_conditioned: bool = attrs.field(default=False, validator=_is_bool)
    adversarial: bool = attrs.field(default=True, validator=_is_bool)
    disc_hidden: tuple = attrs.field(default=(128, 128), converter=_as_tuple, validator=_layer_sizes)

    lr_reconstruction: float = attrs.field(default=1e-3, validator=positive)
    lr_discriminator: float = attrs.field(default=1e-3, validator=positive)
    lr_generator: float = attrs.field(default=2e-4, validator=positive)
    adversarial_betas: tuple = attrs.field(default=(0.5, 0.999), converter=_as_tuple, validator=_betas)

    def __attrs_post_init__(self):
        if self.obs_scale is not None and self.obs != "normal":
            raise ConfigError("obs_scale", f"'obs_scale' applies to obs='normal' only (got obs_scale={self.obs_scale} with obs={self.obs!r})", "drop obs_scale, or use obs='normal'")
        if self.encoder == "universal" and not self.code_hidden:
            raise ConfigError(
                "code_hidden",
                "'code_hidden' must hold at least one layer when encoder='universal' (got ())",
                "a universal-approximator posterior needs a nonlinear map of the noise; write e.g. code_hidden=(128,)",
            )
        if self.label_conditioned and not self.adversarial:
            raise ConfigError("label_conditioned", "'label_conditioned' needs adversarial=True (labels only reach the discriminator)", "set adversarial=True or label_conditioned=False")
        PRIORS[self.prior].check_config(self)
