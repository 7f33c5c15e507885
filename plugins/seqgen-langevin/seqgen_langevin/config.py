"""``LangevinConfig``: the Neural Langevin Machine's settings (Yu, Huang & Huang 2025).

Defaults follow the original MNIST configuration: ``N = 784`` neurons, couplings
``J_ij ~ N(0, g²/N)`` with gain ``g = 2``, step ``Δt = 0.01``, temperature ``T = 1``,
``n_t = 10`` Langevin steps per learning update on ``N_model = 1000`` persistent chains, and
pixels mapped to states by ``x = atanh(clip(2p − 1, ±0.97))``. The optimizer settings of the
original (SGD, lr 5e-4, weight decay 2e-6, batch 1000) belong to TrainOps; see
:func:`seqgen_langevin.train_config`.
"""

from __future__ import annotations

import attrs

import seqgen
from seqgen import in_range, non_negative, one_of, positive, positive_int

__all__ = ["LangevinConfig"]


def _is_bool(instance, attribute, value):
    if not isinstance(value, bool):
        raise seqgen.ConfigError(attribute.name, f"'{attribute.name}' must be True or False (got {value!r})")


@seqgen.config
class LangevinConfig(seqgen.Config):
    """Settings of :class:`~seqgen_langevin.LangevinMachine`.

    num_neurons:       ``N``, the state size; equals the number of pixels (784 for MNIST).
    gain:              ``g``; couplings start as ``J_ij ~ N(0, g²/N)``.
    dt:                ``Δt``, the Euler–Maruyama step (> 0).
    temperature:       ``T`` of ``P(x) ∝ exp(−E(x)/T)``; the noise variance per step is ``2TΔt`` (> 0).
    bias:              learn ``b`` in ``h = Jφ(x) + b``. Without it ``E(−x) = E(x)``, so about half
                       of all samples come out with inverted contrast.
    zero_diagonal:     keep ``J_ii = 0`` (no self-coupling): the diagonal starts at zero and its
                       statistic is zeroed, so SGD, Adam and AdamW all leave it at zero.
    num_model_chains:  ``N_model``, persistent chains (PCD) that supply the model statistics.
    chain_restart:     ``ρ ∈ [0, 1]``: before each update every persistent chain restarts from pure
                       noise ``N(0, σ₀² I)`` with probability ``ρ`` (0, the default, is plain PCD).
                       A chain's age is then geometric with mean ``1/ρ`` updates, so the chains keep
                       visiting the attractors that noise leads to and the rule can remove the
                       spurious ones there (cf. the replay buffer of Du & Mordatch 2019).
    centered:          step along the rule in centred coordinates, ``h = J(φ − μ) + c`` with ``μ``
                       the batch's mean data rate ``⟨φ(x)⟩_data`` (the centring trick for
                       Boltzmann machines, Montavon & Müller 2012): ``ΔJ' = ΔJ − Δb μᵀ``,
                       ``Δb' = Δb − ΔJ' μ``. Same fixed point (both vanish exactly when ``ΔJ`` and
                       ``Δb`` do), still local (``μ_j`` is neuron ``j``'s mean rate), but the common
                       mode of the rates (MNIST's background, ``φ ≈ −0.97`` on most pixels) no
                       longer limits the learning rate. Needs ``bias=True``. Off by default (the
                       original rule).
    langevin_steps:    ``n_t``, Langevin steps the chains advance per learning update.
    init_scale:        ``σ₀``: generation and the chains start from pure noise ``N(0, σ₀² I)``.
    data_map:          pixel ``p ∈ [0, 1]`` to state: ``'atanh'`` is ``atanh(clip(2p − 1, ±data_clip))``,
                       ``'linear'`` is ``2p − 1``.
    data_clip:         the clip of the ``'atanh'`` map, in ``(0, 1)``.
    """

    num_neurons: int = attrs.field(default=784, validator=positive_int)
    gain: float = attrs.field(default=2.0, validator=non_negative)
    dt: float = attrs.field(default=0.01, validator=positive)
    temperature: float = attrs.field(default=1.0, validator=positive)
    bias: bool = attrs.field(default=True, validator=_is_bool)
    zero_diagonal: bool = attrs.field(default=False, validator=_is_bool)
    num_model_chains: int = attrs.field(default=1000, validator=positive_int)
    chain_restart: float = attrs.field(default=0.0, validator=in_range(0.0, 1.0))
    centered: bool = attrs.field(default=False, validator=_is_bool)
    langevin_steps: int = attrs.field(default=10, validator=positive_int)
    init_scale: float = attrs.field(default=1.0, validator=positive)
    data_map: str = attrs.field(default="atanh", validator=one_of("atanh", "linear"))
    data_clip: float = attrs.field(default=0.97, validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))

    def __attrs_post_init__(self):
        if self.centered and not self.bias:
            raise seqgen.ConfigError("centered", "'centered' needs bias=True: the bias absorbs the mean rate μ (h = J(φ − μ) + c)", "set bias=True, or centered=False")
