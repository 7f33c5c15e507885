"""Priors ``p(z)`` for the adversarial autoencoder: sample-only plug-ins and a small registry.

An AAE never evaluates its prior's density: the discriminator learns to tell prior samples from
codes, so any distribution one can *sample* can be imposed on the codes (Makhzani et al. 2016,
§2). A :class:`Prior` therefore needs only ``sample(num, like=…, labels=None) -> [num, z_dim]``;
``log_prob`` is optional (``has_density``) and is used only to report the density of a code drawn
while generating. The built-in priors (all with a density):

- ``gaussian``:    ``z ~ N(0, s² I)``.
- ``uniform``:     ``z ~ U[-s, s]^d``,  ``log p = -d log 2s`` inside the box, ``-inf`` outside.
- ``mixture``:     ``K`` Gaussians with means ``μ_k = s (cos φ_k, sin φ_k, 0, …)``, ``φ_k = 2πk/K``,
                   elongated along the radius (std ``0.15 s``) and narrow across it and in the
                   other dims (std ``0.05 s``): the paper's 10-component "petal" prior (Fig. 4);
                   ``p(z) = (1/K) Σ_k N(z; μ_k, Σ_k)``.
- ``swiss_roll``:  ``u ~ U(0, 1)``, ``θ = 1.5π + 3πu``, ``z = s (θ / 4.5π)(cos θ, sin θ) + 0.05 s ε``
                   (2-D). Its density ``∫_0^1 N(z; m(u), σ² I) du`` is computed with the midpoint
                   rule on 1024 nodes, whose spacing (at most ``0.2 σ``) makes the error negligible.
- ``categorical``: one-hot ``z = e_k``, ``k ~ U{0, …, d-1}`` (the paper's §5 clustering prior);
                   its codes are squashed with a softmax.

Labels (``labels: [num]`` long, ``-1`` = unlabelled) select a class's part of the prior where one
exists: the ``k``-th mixture component, the ``k``-th of ``K`` equal segments of the roll's ``u``,
the ``k``-th category (§2.3, "Incorporating label information in the adversarial regularization").
New tensors follow ``like``'s device and dtype.
"""

from __future__ import annotations

import abc
import difflib
import math
from typing import Any, Dict, Optional, Type

import torch
import torch.nn.functional as F

from seqgen import CapabilityError, ConfigError, DataError

__all__ = [
    "Prior",
    "GaussianPrior",
    "UniformPrior",
    "MixturePrior",
    "SwissRollPrior",
    "CategoricalPrior",
    "PRIORS",
    "make_prior",
    "check_prior_name",
]


class Prior(abc.ABC):
    """A distribution over codes ``z: [num, z_dim]`` that can be sampled (see the module docstring).

    Attributes: ``z_dim``; ``labelled`` (True when ``sample`` can condition on labels) and
    ``num_classes`` (how many; None when it cannot); ``has_density`` (True when ``log_prob`` is
    implemented).
    """

    z_dim: int
    labelled: bool = False
    num_classes: Optional[int] = None
    has_density: bool = False

    @abc.abstractmethod
    def sample(self, num: int, *, like: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``num`` draws ``[num, z_dim]`` on ``like``'s device and dtype; row ``i`` from class
        ``labels[i]``'s part of the prior (any part where ``labels[i] == -1``)."""

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z)``: ``[*, z_dim] -> [*]`` (only when ``has_density``)."""
        raise CapabilityError(type(self).__name__, "log_prob", ("sample",), "this prior is sample-only; an AAE trains from its samples alone")

    def squash(self, code: torch.Tensor) -> torch.Tensor:
        """Map the encoder's raw output ``[*, z_dim]`` onto the prior's support (identity by default)."""
        return code

    @classmethod
    def check_config(cls, config: Any) -> None:
        """Raise ConfigError when ``config`` (an AAEConfig) asks for what this prior cannot give."""
        if config.label_conditioned and not cls.labelled:
            raise ConfigError(
                "label_conditioned",
                f"prior {config.prior!r} has no classes to condition on (label_conditioned=True)",
                "use prior='mixture', 'swiss_roll' or 'categorical', or label_conditioned=False",
            )

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: Any) -> "Prior":
        """The prior an AAEConfig names."""

    def _classes(self, labels: Optional[torch.Tensor], num: int, like: torch.Tensor) -> torch.Tensor:
        """Each row's class ``[num]``: ``labels`` where given (``>= 0``), else uniform over the classes.

        The uniform draw is made for every row, so the random stream does not depend on which rows
        are labelled.
        """
        k = self.num_classes
        free = torch.randint(0, k, (num,), device=like.device)
        if labels is None:
            return free
        labels = labels.to(like.device).long()
        if tuple(labels.shape) != (num,):
            raise DataError("labels", f"expected [num={num}] class labels, got shape {tuple(labels.shape)}", "give one label per sample (-1 = unlabelled)")
        bad = (labels < -1) | (labels >= k)
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            raise DataError("labels", f"label {int(labels[i])} at index {i} is outside [0, {k}) (or -1 for unlabelled)", f"{type(self).__name__} has {k} classes; relabel or mark unlabelled rows with -1")
        return torch.where(labels >= 0, labels, free)

    def _no_labels(self, labels: Optional[torch.Tensor]) -> None:
        if labels is not None and bool((labels >= 0).any()):
            raise ConfigError("labels", f"{type(self).__name__} has no classes, but labels were given", "use prior='mixture', 'swiss_roll' or 'categorical' for label-conditioned codes")


def _positive(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(name, f"{owner}: '{name}' must be a number > 0 (got {value!r})")
    return float(value)


def _count(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(name, f"{owner}: '{name}' must be an integer >= {minimum} (got {value!r})")
    return value


class GaussianPrior(Prior):
    """``z ~ N(0, scale² I)``."""

    has_density = True

    def __init__(self, z_dim: int, *, scale: float = 1.0):
        self.z_dim = _count("GaussianPrior", "z_dim", z_dim)
        self.scale = _positive("GaussianPrior", "scale", scale)

    @classmethod
    def from_config(cls, config):
        return cls(config.z_dim, scale=config.prior_scale)

    def sample(self, num, *, like, labels=None):
        self._no_labels(labels)
        return like.new_empty(num, self.z_dim).normal_() * self.scale

    def log_prob(self, z):
        s = self.scale
        return (-0.5 * (z / s).pow(2) - math.log(s) - 0.5 * math.log(2 * math.pi)).sum(-1)


class UniformPrior(Prior):
    """``z ~ U[-half_width, half_width]^z_dim``."""

    has_density = True

    def __init__(self, z_dim: int, *, half_width: float = 1.0):
        self.z_dim = _count("UniformPrior", "z_dim", z_dim)
        self.half_width = _positive("UniformPrior", "half_width", half_width)

    @classmethod
    def from_config(cls, config):
        return cls(config.z_dim, half_width=config.prior_scale)

    def sample(self, num, *, like, labels=None):
        self._no_labels(labels)
        return (2 * like.new_empty(num, self.z_dim).uniform_() - 1) * self.half_width

    def log_prob(self, z):
        a = self.half_width
        inside = (z.abs() <= a).all(-1)  # [*]
        value = z.new_full(inside.shape, -self.z_dim * math.log(2 * a))
        return torch.where(inside, value, value.new_full((), -math.inf))


class MixturePrior(Prior):
    """``K`` elongated Gaussians on a circle of radius ``radius`` (see the module docstring)."""

    labelled = True
    has_density = True
    RADIAL, TANGENTIAL = 0.15, 0.05  # standard deviations as fractions of the radius

    def __init__(self, z_dim: int, *, num_components: int = 10, radius: float = 1.0):
        self.z_dim = _count("MixturePrior", "z_dim", z_dim, minimum=2)
        self.num_classes = _count("MixturePrior", "num_components", num_components)
        self.radius = _positive("MixturePrior", "radius", radius)

    @classmethod
    def check_config(cls, config):
        super().check_config(config)
        if config.z_dim < 2:
            raise ConfigError("z_dim", f"prior 'mixture' places its components on a circle, so 'z_dim' must be >= 2 (got {config.z_dim})", "set z_dim=2 or more")

    @classmethod
    def from_config(cls, config):
        return cls(config.z_dim, num_components=config.num_components, radius=config.prior_scale)

    def component_means(self, like: torch.Tensor) -> torch.Tensor:
        """The components' means ``[K, z_dim]`` on ``like``'s device and dtype."""
        mean = self._frames(like)[0]  # [K, 2]
        return torch.cat([mean, mean.new_zeros(self.num_classes, self.z_dim - 2)], dim=-1)

    def _frames(self, like: torch.Tensor):
        """Means ``[K, 2]`` and the radial / tangential unit vectors ``[K, 2]`` of the components."""
        phi = torch.arange(self.num_classes, device=like.device, dtype=like.dtype) * (2 * math.pi / self.num_classes)
        radial = torch.stack([phi.cos(), phi.sin()], -1)  # [K, 2]
        tangential = torch.stack([-phi.sin(), phi.cos()], -1)  # [K, 2]
        return self.radius * radial, radial, tangential

    def sample(self, num, *, like, labels=None):
        k = self._classes(labels, num, like)  # [num]
        mean, radial, tangential = self._frames(like)
        eps = like.new_empty(num, self.z_dim).normal_()  # [num, z_dim]
        r, t = self.RADIAL * self.radius, self.TANGENTIAL * self.radius
        plane = mean[k] + r * eps[:, :1] * radial[k] + t * eps[:, 1:2] * tangential[k]  # [num, 2]
        return torch.cat([plane, t * eps[:, 2:]], -1)  # [num, z_dim]

    def log_prob(self, z):
        mean, radial, tangential = self._frames(z)
        r, t = self.RADIAL * self.radius, self.TANGENTIAL * self.radius
        diff = z[..., None, :2] - mean  # [*, K, 2]
        a = (diff * radial).sum(-1) / r  # [*, K] radial offset in stds
        b = (diff * tangential).sum(-1) / t  # [*, K]
        rest = (z[..., 2:] / t).pow(2).sum(-1, keepdim=True)  # [*, 1]
        log_norm = -math.log(r) - (self.z_dim - 1) * math.log(t) - 0.5 * self.z_dim * math.log(2 * math.pi)
        comp = -0.5 * (a.pow(2) + b.pow(2) + rest) + log_norm  # [*, K]
        return torch.logsumexp(comp, -1) - math.log(self.num_classes)


class SwissRollPrior(Prior):
    """A noisy 2-D swiss roll of radius ``radius``, split into ``num_segments`` label segments."""

    labelled = True
    has_density = True
    NOISE = 0.05  # noise standard deviation as a fraction of the radius
    NODES = 1024  # midpoint-rule nodes for the density
    START, SPAN = 1.5 * math.pi, 3.0 * math.pi

    def __init__(self, *, num_segments: int = 10, radius: float = 1.0):
        self.z_dim = 2
        self.num_classes = _count("SwissRollPrior", "num_segments", num_segments)
        self.radius = _positive("SwissRollPrior", "radius", radius)

    @classmethod
    def check_config(cls, config):
        super().check_config(config)
        if config.z_dim != 2:
            raise ConfigError("z_dim", f"prior 'swiss_roll' is 2-D, so 'z_dim' must be 2 (got {config.z_dim})", "set z_dim=2, or choose another prior")

    @classmethod
    def from_config(cls, config):
        return cls(num_segments=config.num_components, radius=config.prior_scale)

    def _curve(self, u: torch.Tensor) -> torch.Tensor:
        """``u: [*] -> m(u): [*, 2]``, the roll's centre line."""
        theta = self.START + self.SPAN * u
        r = self.radius * theta / (self.START + self.SPAN)
        return torch.stack([r * theta.cos(), r * theta.sin()], -1)

    def sample(self, num, *, like, labels=None):
        k = self._classes(labels, num, like).to(like.dtype)  # [num]
        u = (k + like.new_empty(num).uniform_()) / self.num_classes  # [num] inside segment k
        noise = like.new_empty(num, 2).normal_() * (self.NOISE * self.radius)
        return self._curve(u) + noise

    def log_prob(self, z):
        sigma = self.NOISE * self.radius
        nodes = (torch.arange(self.NODES, device=z.device, dtype=z.dtype) + 0.5) / self.NODES  # [Q]
        centres = self._curve(nodes)  # [Q, 2]
        # ‖z - m_q‖² = ‖z‖² - 2 z·m_q + ‖m_q‖², one matrix product instead of a [*, Q, 2] difference
        d2 = (z.pow(2).sum(-1, keepdim=True) - 2 * z @ centres.T + centres.pow(2).sum(-1)).clamp_min(0)  # [*, Q]
        log_k = -0.5 * d2 / sigma**2 - 2 * math.log(sigma) - math.log(2 * math.pi)
        return torch.logsumexp(log_k, -1) - math.log(self.NODES)


class CategoricalPrior(Prior):
    """One-hot codes ``e_k``, ``k ~ U{0, …, z_dim - 1}``; the encoder's output goes through a softmax."""

    labelled = True
    has_density = True

    def __init__(self, z_dim: int):
        self.z_dim = _count("CategoricalPrior", "z_dim", z_dim, minimum=2)
        self.num_classes = self.z_dim

    @classmethod
    def check_config(cls, config):
        super().check_config(config)
        if config.z_dim < 2:
            raise ConfigError("z_dim", f"prior 'categorical' needs 'z_dim' >= 2 categories (got {config.z_dim})", "set z_dim to the number of categories")
        if config.label_conditioned and config.num_components != config.z_dim:
            raise ConfigError(
                "num_components",
                f"with prior 'categorical' the classes are the z_dim={config.z_dim} categories, but num_components={config.num_components}",
                f"set num_components={config.z_dim}",
            )

    @classmethod
    def from_config(cls, config):
        return cls(config.z_dim)

    def sample(self, num, *, like, labels=None):
        k = self._classes(labels, num, like)
        return F.one_hot(k, self.z_dim).to(like.dtype)

    def log_prob(self, z):
        one_hot = ((z == 0) | (z == 1)).all(-1) & (z.sum(-1) == 1)  # [*]
        value = z.new_full(one_hot.shape, -math.log(self.z_dim))
        return torch.where(one_hot, value, value.new_full((), -math.inf))

    def squash(self, code):
        return code.softmax(-1)


#: name -> Prior class; ``AAEConfig.prior`` names one.
PRIORS: Dict[str, Type[Prior]] = {
    "gaussian": GaussianPrior,
    "mixture": MixturePrior,
    "swiss_roll": SwissRollPrior,
    "uniform": UniformPrior,
    "categorical": CategoricalPrior,
}


def check_prior_name(name: Any, *, argument: str = "prior") -> str:
    """``name`` if it is a registered prior, else a ConfigError listing the valid names."""
    if isinstance(name, str) and name in PRIORS:
        return name
    valid = ", ".join(map(repr, PRIORS))
    near = difflib.get_close_matches(name, list(PRIORS), n=1, cutoff=0.5) if isinstance(name, str) else []
    hint = (f"did you mean {near[0]!r}? " if near else "") + f"valid priors: {valid}"
    raise ConfigError(argument, f"unknown prior {name!r}; '{argument}' must be one of {valid}", hint)


def make_prior(config: Any) -> Prior:
    """The prior an :class:`~seqgen_aae.AAEConfig` names (``config.prior``), validated against it."""
    cls = PRIORS[check_prior_name(config.prior)]
    cls.check_config(config)
    return cls.from_config(config)
