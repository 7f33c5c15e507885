"""``AlternatorConfig``: the sizes, noise scales and schedule of an alternator.

The noise scales and the schedule must keep every coefficient of the two updates real
(Rezaei & Dieng, TMLR 2025, Algorithm 1)::

    x_t = √(1 − σ_x²) f_θ(z_{t−1}) + σ_x ε_x          needs 0 < σ_x < 1
    z_t = √α_t g_φ(x_t) + √(1 − α_t − σ_z²) z_{t−1} + σ_z ε_z
                                                       needs 0 < σ_z < 1, 0 < α_t and α_t + σ_z² < 1

Defaults are the public code's Lorenz experiment (σ_x = 0.1, α = 0.3, σ_z = α σ_x = 0.03).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple, Union

import attrs

import seqgen
from seqgen import ConfigError, in_range, positive_int
from seqgen.components import ACTIVATIONS

__all__ = ["AlternatorConfig"]

Schedule = Union[float, Tuple[float, ...]]


def _as_tuple(value):
    """A list (from JSON or ``--set``) becomes a tuple; anything else is left to the validator."""
    return tuple(value) if isinstance(value, list) else value


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _layer_sizes(instance, attribute, value):
    ok = isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    if not ok:
        raise ConfigError(attribute.name, f"'{attribute.name}' must be a tuple of integers > 0 (got {value!r})", "write e.g. hidden=(64, 64), or () for linear maps")


def _activation(instance, attribute, value):
    if value not in ACTIVATIONS:
        raise ConfigError(attribute.name, f"'{attribute.name}' must be one of {', '.join(map(repr, ACTIVATIONS))} (got {value!r})")


def _schedule(instance, attribute, value):
    """``alpha``: one number in (0, 1), or a non-empty tuple of them (α_1, …, α_L)."""
    values = value if isinstance(value, tuple) else (value,)
    if isinstance(value, tuple) and not value:
        raise ConfigError("alpha", "'alpha' schedule must have at least one step (got ())", "write e.g. alpha=0.3 for a constant schedule")
    for i, a in enumerate(values):
        if not _is_number(a) or not 0 < a < 1:
            where = f"alpha[{i}]" if isinstance(value, tuple) else "alpha"
            raise ConfigError("alpha", f"'{where}' must be in (0, 1) (got {a!r})", "write e.g. alpha=0.3")


def _optional_weight(instance, attribute, value):
    if value is not None and (not _is_number(value) or value < 0):
        raise ConfigError(attribute.name, f"'{attribute.name}' must be >= 0 or None (got {value!r})", "None uses the paper's crossed noise scales; 0 ignores batch.targets")


@seqgen.config
class AlternatorConfig(seqgen.Config):
    """Configuration of :class:`~seqgen_alternator.Alternator`.

    obs_dim:        width of one observation ``x_t``
    z_dim:          width of the feature (latent) trajectory ``z_t``
    hidden:         hidden layer widths of both default MLPs, ``f_θ: z → x`` and ``g_φ: x → z``
    activation:     their nonlinearity (a name from ``seqgen.components.ACTIVATIONS``)
    sigma_x:        observation noise scale σ_x ∈ (0, 1)
    sigma_z:        feature noise scale σ_z ∈ (0, 1)
    alpha:          the schedule α_t: one number (constant) or a tuple (α_1, …, α_L); sequences,
                    prefixes and generated continuations may then be at most L steps long
    num_paths:      K, the latent paths per sequence in the training estimate
                    ``log (1/K) Σ_k Π_t N(x_t; √(1−σ_x²) f(z^k_{t−1}), σ_x²)`` (K = 1: the paper's loss)
    eval_paths:     K used by the evaluation metric ``nll_bound``
    infer_paths:    paths averaged by ``infer`` (their spread is reported as ``z_scale``)
    feature_weight: weight λ of the supervised term ``λ Σ_t ‖z*_t − z_t‖²`` added when a batch carries
                    ``targets`` (z*); None: ``1 / (2 σ_z²)``, the paper's crossed noise scales (see
                    the README); 0: targets are ignored
    """

    obs_dim: int = attrs.field(validator=positive_int)
    z_dim: int = attrs.field(default=3, validator=positive_int)
    hidden: tuple = attrs.field(default=(64, 64), converter=_as_tuple, validator=_layer_sizes)
    activation: str = attrs.field(default="relu", validator=_activation)
    sigma_x: float = attrs.field(default=0.1, validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))
    sigma_z: float = attrs.field(default=0.03, validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))
    alpha: Schedule = attrs.field(default=0.3, converter=_as_tuple, validator=_schedule)
    num_paths: int = attrs.field(default=1, validator=positive_int)
    eval_paths: int = attrs.field(default=16, validator=positive_int)
    infer_paths: int = attrs.field(default=16, validator=positive_int)
    feature_weight: Optional[float] = attrs.field(default=None, validator=_optional_weight)

    def __attrs_post_init__(self):
        values = self.alpha if isinstance(self.alpha, tuple) else (self.alpha,)
        for i, a in enumerate(values):
            if a + self.sigma_z**2 >= 1:
                where = f"alpha[{i}]" if isinstance(self.alpha, tuple) else "alpha"
                raise ConfigError(
                    "alpha",
                    f"'{where}' + sigma_z² must be < 1 (got {a!r} + {self.sigma_z!r}² = {a + self.sigma_z**2:.6g}), "
                    "else √(1 − α_t − σ_z²) is not real",
                    f"lower {where} below {1 - self.sigma_z**2:.6g} or lower sigma_z",
                )

    @property
    def schedule(self) -> Tuple[float, ...]:
        """``(α_1, …, α_L)``; a constant schedule is ``(α,)`` and applies to every step."""
        return self.alpha if isinstance(self.alpha, tuple) else (float(self.alpha),)

    @property
    def constant_alpha(self) -> bool:
        return not isinstance(self.alpha, tuple)

    @property
    def supervised_weight(self) -> float:
        """λ of the supervised features term (``1 / (2 σ_z²)`` unless ``feature_weight`` is set)."""
        return 1.0 / (2.0 * self.sigma_z**2) if self.feature_weight is None else float(self.feature_weight)
