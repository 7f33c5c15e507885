"""Observation decoders (DESIGN §1): ``p(x_t | features_t)`` for bits, reals, tokens, rates, and groups.

Each decoder is an MLP head ``features: [*, in_dim] -> params`` and a ``dist(params)`` that builds
the Pyro distribution with batch ``[*]`` and event ``event_shape``, the likelihoods of the VAE
decoders of Kingma & Welling (2014), *Auto-Encoding Variational Bayes*:

- ``BernoulliDecoder``:   ``p(x | f) = Π_d Bern(x_d; σ(ℓ_d(f)))``                   event ``(obs_dim,)``
- ``NormalDecoder``:      ``p(x | f) = Π_d N(x_d; μ_d(f), σ_d(f))``,
                          ``σ_d(f) = softplus(s_d(f)) + min_scale`` (or a fixed σ)     event ``(obs_dim,)``
- ``CategoricalDecoder``: ``p(x | f) = softmax(ℓ(f))_x``                             event ``()``
- ``BetaDecoder``:        ``p(x | f) = Π_d Beta(x_d; α_d(f), β_d(f))``,
                          ``α, β = softplus(·) + min_concentration``                   event ``(obs_dim,)``
- ``GroupDecoder``:       ``p(x | f) = Π_k p_k(x[slice_k] | f)`` over named parts       event ``(Σ_k dim_k,)``

:class:`GroupDistribution` is the product of independent parts over slices of one vector.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch.distributions import constraints

from ..errors import ConfigError, DataError, ShapeError
from .base import Decoder
from .mlp import MLP, check_hidden, check_int, check_positive

__all__ = [
    "BernoulliDecoder",
    "NormalDecoder",
    "CategoricalDecoder",
    "BetaDecoder",
    "GroupDecoder",
    "GroupDistribution",
]


def _first_bad(x: torch.Tensor, bad: torch.Tensor) -> str:
    """``'<value> at index (i, j)'`` for the first True of ``bad`` (for error messages)."""
    idx = tuple(bad.nonzero()[0].tolist())
    return f"{x[idx].item()!r} at index {idx}"


class _MLPDecoder(Decoder):
    """Shared plumbing: ``in_dim`` check and an MLP ``features: [*, in_dim] -> [*, out_width]``."""

    def __init__(self, in_dim: int, out_width: int, hidden: Sequence[int]):
        super().__init__()
        name = type(self).__name__
        self.in_dim = check_int(name, "in_dim", in_dim, minimum=0)
        self.net = MLP(self.in_dim, out_width, hidden=check_hidden(name, hidden))

    def _head(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() == 0 or features.shape[-1] != self.in_dim:
            name = type(self).__name__
            got = features.shape[-1] if features.dim() else 1
            raise ShapeError(f"{name} features", f"[*, in_dim={self.in_dim}]", tuple(features.shape), f"build {name} with in_dim={got}")
        out = self.net(features)
        # Under torch.autocast the MLP's products come out in bf16/fp16; the distribution's
        # parameters, and so log-probabilities and losses, are kept in the decoder's own dtype.
        return out.to(self.net.net[0].weight.dtype)


class _BitsDecoder(_MLPDecoder):
    """Shared by the decoders of bits: values are 0./1. floats, event ``(obs_dim,)``."""

    @property
    def support(self) -> constraints.Constraint:
        return constraints.independent(constraints.boolean, 1)

    @property
    def is_discrete(self) -> bool:
        return True

    def check_values(self, x: torch.Tensor, argument: str = "x") -> None:
        bad = (x != 0) & (x != 1)
        if bad.any():
            name = type(self).__name__
            raise DataError(argument, f"{name} needs bits in {{0, 1}}, got {_first_bad(x, bad)}", "binarise the data (e.g. (x > 0.5).float()) or use NormalDecoder/BetaDecoder")


class BernoulliDecoder(_BitsDecoder):
    """Independent bits: ``features: [*, in_dim] -> logits: [*, obs_dim]``; values are 0./1. floats."""

    def __init__(self, in_dim: int, obs_dim: int, *, hidden: Sequence[int] = ()):
        obs_dim = check_int("BernoulliDecoder", "obs_dim", obs_dim)
        super().__init__(in_dim, obs_dim, hidden)
        self.event_shape = torch.Size([obs_dim])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self._head(features)

    def dist(self, logits: torch.Tensor) -> dist.TorchDistribution:
        return dist.Bernoulli(logits=logits).to_event(1)


class NormalDecoder(_MLPDecoder):
    """Diagonal Gaussian: params ``{'loc': [*, obs_dim], 'scale': [*, obs_dim]}``.

    ``scale='learned'``: ``σ = softplus(s(f)) + min_scale``, one per feature, from a second head on
    the same MLP. A number: a fixed ``σ`` for every feature.
    """

    def __init__(self, in_dim: int, obs_dim: int, *, hidden: Sequence[int] = (), scale="learned", min_scale: float = 1e-3):
        name = "NormalDecoder"
        obs_dim = check_int(name, "obs_dim", obs_dim)
        self.learned = isinstance(scale, str)
        if self.learned and scale != "learned":
            raise ConfigError("scale", f"{name}: 'scale' must be 'learned' or a number > 0 (got {scale!r})")
        super().__init__(in_dim, 2 * obs_dim if self.learned else obs_dim, hidden)
        self.fixed_scale = None if self.learned else check_positive(name, "scale", scale)
        self.min_scale = check_positive(name, "min_scale", min_scale)
        self.event_shape = torch.Size([obs_dim])

    def forward(self, features: torch.Tensor) -> Dict[str, torch.Tensor]:
        out = self._head(features)
        if self.learned:
            loc, raw = out.chunk(2, dim=-1)  # [*, 2 * obs_dim] -> 2 x [*, obs_dim]
            return {"loc": loc, "scale": F.softplus(raw) + self.min_scale}
        return {"loc": out, "scale": out.new_tensor(self.fixed_scale).expand_as(out)}

    def dist(self, params: Mapping[str, torch.Tensor]) -> dist.TorchDistribution:
        return dist.Normal(params["loc"], params["scale"]).to_event(1)

    @property
    def support(self) -> constraints.Constraint:
        return constraints.independent(constraints.real, 1)

    @property
    def has_rsample(self) -> bool:
        return True


class CategoricalDecoder(_MLPDecoder):
    """Tokens: ``features: [*, in_dim] -> logits: [*, num_classes]``; values are long tokens, event ``()``."""

    def __init__(self, in_dim: int, num_classes: int, *, hidden: Sequence[int] = ()):
        self.num_classes = check_int("CategoricalDecoder", "num_classes", num_classes)
        super().__init__(in_dim, self.num_classes, hidden)
        self.event_shape = torch.Size([])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self._head(features)

    def dist(self, logits: torch.Tensor) -> dist.TorchDistribution:
        return dist.Categorical(logits=logits)

    @property
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self.num_classes - 1)

    @property
    def is_discrete(self) -> bool:
        return True

    def check_values(self, x: torch.Tensor, argument: str = "x") -> None:
        bad = (x < 0) | (x >= self.num_classes)
        if x.is_floating_point():
            bad = bad | (x != x.round())
        if bad.any():
            biggest = int(x.max().item())
            raise DataError(
                argument,
                f"token {_first_bad(x, bad)} is outside the vocabulary [0, {self.num_classes}) of CategoricalDecoder(num_classes={self.num_classes})",
                f"build the decoder with num_classes >= {max(biggest + 1, self.num_classes)}, or map out-of-vocabulary tokens to a reserved id",
            )


class BetaDecoder(_MLPDecoder):
    """Values in (0, 1): params ``{'concentration1': α [*, obs_dim], 'concentration0': β [*, obs_dim]}``."""

    def __init__(self, in_dim: int, obs_dim: int, *, hidden: Sequence[int] = (), min_concentration: float = 1e-2):
        name = "BetaDecoder"
        obs_dim = check_int(name, "obs_dim", obs_dim)
        super().__init__(in_dim, 2 * obs_dim, hidden)
        self.min_concentration = check_positive(name, "min_concentration", min_concentration)
        self.event_shape = torch.Size([obs_dim])

    def forward(self, features: torch.Tensor) -> Dict[str, torch.Tensor]:
        a, b = self._head(features).chunk(2, dim=-1)  # [*, 2 * obs_dim] -> 2 x [*, obs_dim]
        return {"concentration1": F.softplus(a) + self.min_concentration, "concentration0": F.softplus(b) + self.min_concentration}

    def dist(self, params: Mapping[str, torch.Tensor]) -> dist.TorchDistribution:
        return dist.Beta(params["concentration1"], params["concentration0"]).to_event(1)

    @property
    def support(self) -> constraints.Constraint:
        # torch's closed [0, 1]; check_values enforces the open interval with a specific message.
        return constraints.independent(constraints.unit_interval, 1)

    @property
    def has_rsample(self) -> bool:
        return True

    def check_values(self, x: torch.Tensor, argument: str = "x") -> None:
        bad = (x <= 0) | (x >= 1)
        if bad.any():
            raise DataError(argument, f"BetaDecoder needs values strictly inside (0, 1), got {_first_bad(x, bad)}", "clamp the data into (eps, 1 - eps), e.g. x.clamp(1e-4, 1 - 1e-4)")


class _ConcatSupport(constraints.Constraint):
    """The support of a concatenation: each part's (1-D event) support on its slice; ``event_dim = 1``."""

    event_dim = 1

    def __init__(self, supports: Sequence[constraints.Constraint], slices: Sequence[slice]):
        self.supports, self.slices = tuple(supports), tuple(slices)
        self.is_discrete = all(c.is_discrete for c in self.supports)
        super().__init__()

    def check(self, value: torch.Tensor) -> torch.Tensor:
        """``value: [*, total] -> [*]`` bool."""
        ok = [c.check(value[..., s]) for c, s in zip(self.supports, self.slices)]
        return torch.stack(ok, dim=-1).all(dim=-1)


def _slices(sizes: Sequence[int]):
    out, start = [], 0
    for n in sizes:
        out.append(slice(start, start + n))
        start += n
    return out, start


class GroupDistribution(dist.TorchDistribution):
    """Independent named parts over slices of one vector: ``log p(x) = Σ_k log p_k(x[..., slice_k])``.

    parts: ``{name: distribution}`` with 1-D events ``(dim_k,)``, batch shapes broadcastable to one
    ``batch_shape``. ``event_shape = (Σ_k dim_k,)`` in dict order; ``slices[name]`` locates a part.
    ``sample``/``rsample`` concatenate the parts' draws along the last dim.
    """

    arg_constraints: Dict[str, constraints.Constraint] = {}

    def __init__(self, parts: Mapping[str, dist.TorchDistribution], *, validate_args=None):
        if not parts:
            raise ConfigError("parts", "GroupDistribution: 'parts' must name at least one distribution")
        for name, d in parts.items():
            if len(d.event_shape) != 1:
                raise ShapeError(f"parts[{name!r}].event_shape", "(dim,)", tuple(d.event_shape), "give every part a 1-D event, e.g. with .to_event(1)")
        batch_shape = torch.broadcast_shapes(*(d.batch_shape for d in parts.values()))
        self.parts = {k: d.expand(batch_shape) for k, d in parts.items()}
        spans, total = _slices([d.event_shape[0] for d in self.parts.values()])
        self.slices = dict(zip(self.parts, spans))
        super().__init__(batch_shape, torch.Size([total]), validate_args=validate_args)

    @property
    def support(self) -> constraints.Constraint:
        return _ConcatSupport([d.support for d in self.parts.values()], list(self.slices.values()))

    @property
    def has_rsample(self) -> bool:
        return all(d.has_rsample for d in self.parts.values())

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(GroupDistribution, _instance)
        batch_shape = torch.Size(batch_shape)
        new.parts = {k: d.expand(batch_shape) for k, d in self.parts.items()}
        new.slices = dict(self.slices)
        super(GroupDistribution, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def split(self, value: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``value: [*, total] -> {name: [*, dim_k]}``."""
        return {k: value[..., s] for k, s in self.slices.items()}

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``value: [*sample, *batch, total] -> [*sample, *batch]``."""
        if self._validate_args:
            self._validate_sample(value)
        pieces = self.split(value)
        return sum(d.log_prob(pieces[k]) for k, d in self.parts.items())

    def sample(self, sample_shape=torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([d.sample(sample_shape) for d in self.parts.values()], dim=-1)  # cat promotes dtypes

    def rsample(self, sample_shape=torch.Size()) -> torch.Tensor:
        if not self.has_rsample:
            slow = [k for k, d in self.parts.items() if not d.has_rsample]
            raise NotImplementedError(f"GroupDistribution.rsample: parts {slow} are not reparameterisable; use sample()")
        return torch.cat([d.rsample(sample_shape) for d in self.parts.values()], dim=-1)

    @property
    def mean(self) -> torch.Tensor:
        return torch.cat([d.mean for d in self.parts.values()], dim=-1)

    @property
    def variance(self) -> torch.Tensor:
        return torch.cat([d.variance for d in self.parts.values()], dim=-1)

    def entropy(self) -> torch.Tensor:
        return sum(d.entropy() for d in self.parts.values())


class GroupDecoder(Decoder):
    """Named decoders over slices of one observation vector, log-probs summed (vae-seq's ``GroupDistribution``).

    parts: ``{name: Decoder}`` sharing ``in_dim``, each with a 1-D event ``(dim_k,)``. The observation
    is ``x = concat_k x_k`` in dict order: ``event_shape = (Σ_k dim_k,)``. params: ``{name: params_k}``.
    """

    def __init__(self, parts: Mapping[str, Decoder]):
        super().__init__()
        if not isinstance(parts, Mapping) or not parts:
            raise ConfigError("parts", f"GroupDecoder: 'parts' must be a non-empty mapping name -> Decoder (got {parts!r})", "pass e.g. {'obs': NormalDecoder(…), 'reward': NormalDecoder(…)}")
        first = next(iter(parts))
        for name, part in parts.items():
            if not isinstance(part, Decoder):
                raise ConfigError("parts", f"GroupDecoder: part {name!r} must be a seqgen Decoder (got {type(part).__name__})")
            if part.in_dim != parts[first].in_dim:
                raise ShapeError(f"GroupDecoder part {name!r} in_dim", f"in_dim={parts[first].in_dim} (as part {first!r})", f"in_dim={part.in_dim}", "build every part with the same in_dim")
            if len(part.event_shape) != 1:
                raise ShapeError(f"GroupDecoder part {name!r} event_shape", "(dim,)", tuple(part.event_shape), "use parts with 1-D events (Bernoulli, Normal, Beta decoders)")
        self.parts = torch.nn.ModuleDict(dict(parts))
        self.in_dim = parts[first].in_dim
        spans, total = _slices([p.event_shape[0] for p in parts.values()])
        self.slices = dict(zip(parts, spans))
        self.event_shape = torch.Size([total])

    def forward(self, features: torch.Tensor) -> Dict[str, object]:
        return {k: p(features) for k, p in self.parts.items()}

    def dist(self, params: Mapping[str, object]) -> GroupDistribution:
        return GroupDistribution({k: p.dist(params[k]) for k, p in self.parts.items()})

    def split(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``x: [*, total] -> {name: [*, dim_k]}``."""
        self._check_width(x, "x")
        return {k: x[..., s] for k, s in self.slices.items()}

    def _check_width(self, x: torch.Tensor, argument: str) -> None:
        total = self.event_shape[0]
        if x.dim() == 0 or x.shape[-1] != total:
            raise ShapeError(argument, f"[*, {total}] (parts {', '.join(f'{k}={s.stop - s.start}' for k, s in self.slices.items())})", tuple(x.shape), "concatenate the parts' values in the GroupDecoder's order")

    @property
    def support(self) -> constraints.Constraint:
        return _ConcatSupport([p.support for p in self.parts.values()], list(self.slices.values()))

    @property
    def is_discrete(self) -> bool:
        return all(p.is_discrete for p in self.parts.values())

    @property
    def has_rsample(self) -> bool:
        return all(p.has_rsample for p in self.parts.values())

    def check_values(self, x: torch.Tensor, argument: str = "x") -> None:
        self._check_width(x, argument)
        for k, s in self.slices.items():
            self.parts[k].check_values(x[..., s], f"{argument}[..., {s.start}:{s.stop}] (part {k!r})")
