"""Hypothesis strategies for sequence data: shapes, masks, padded batches, model configs.

Written in hypothesis's own API style: every argument is keyword-only and validated when the
strategy is built (a bad argument raises :class:`~seqgen.errors.ConfigError` at once, not at the
first draw), and no argument takes "a value or a strategy".

Example::

    @given(batch=sequence_batches(obs_shape=model.obs_shape, support=model.obs_support))
    def test_elbo_shape(batch):
        assert model.elbo(batch.x, mask=batch.mask).shape == (batch.batch_size,)

Shapes follow the package's vocabulary: ``x: [batch, time, *obs_shape]``,
``mask: [batch, time]`` (bool, True = observed, every row observes at least one step).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch.distributions import constraints

from ..data.batch import SeqBatch
from ..errors import ConfigError, closest_names
from ..spec import ModelSpec
from ._support import support_kind

__all__ = ["obs_shapes", "batch_shapes", "sample_shapes", "masks", "sequence_batches", "configs"]

_INPUT_BOUND = 3.0  # given inputs (contexts) are drawn in [-3, 3]


def _check_int(name: str, value: Any, *, min_value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < min_value:
        raise ConfigError(name, f"'{name}' must be an integer >= {min_value} (got {value!r})")
    return value


def _check_order(low_name: str, low: int, high_name: str, high: int) -> None:
    if low > high:
        raise ConfigError(high_name, f"'{high_name}' must be >= '{low_name}' (got {high} < {low})", f"pass {high_name}>={low}")


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(name, f"'{name}' must be True or False (got {value!r})")
    return value


def _shapes(*, min_dims: int, max_dims: int, min_side: int, max_side: int) -> st.SearchStrategy[Tuple[int, ...]]:
    _check_int("min_dims", min_dims, min_value=0)
    _check_int("max_dims", max_dims, min_value=0)
    _check_order("min_dims", min_dims, "max_dims", max_dims)
    _check_int("min_side", min_side, min_value=1)
    _check_int("max_side", max_side, min_value=1)
    _check_order("min_side", min_side, "max_side", max_side)
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def obs_shapes(*, min_dims: int = 0, max_dims: int = 2, min_side: int = 1, max_side: int = 5) -> st.SearchStrategy[Tuple[int, ...]]:
    """Shapes of one observation, ``obs_shape``: ``()`` (a token), ``(obs_dim,)``, ``(h, w)`` …

    Each of ``min_dims..max_dims`` sides lies in ``[min_side, max_side]``; shrinks towards ``()``.
    """
    return _shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def batch_shapes(*, min_dims: int = 0, max_dims: int = 2, min_side: int = 1, max_side: int = 3) -> st.SearchStrategy[Tuple[int, ...]]:
    """Distribution batch shapes (for ``SequenceDistribution.expand``): tuples of small sides."""
    return _shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def sample_shapes(*, min_dims: int = 0, max_dims: int = 2, min_side: int = 1, max_side: int = 3) -> st.SearchStrategy[Tuple[int, ...]]:
    """``sample_shape`` arguments for ``Distribution.sample``: tuples of small sides."""
    return _shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def _masks(draw, batch_size: int, num_steps: int, ragged: bool, holes: bool) -> torch.Tensor:
    if ragged:
        lengths = draw(st.lists(st.integers(1, num_steps), min_size=batch_size, max_size=batch_size))
        lengths[draw(st.integers(0, batch_size - 1))] = num_steps  # the batch is as long as its longest row
    else:
        lengths = [num_steps] * batch_size
    mask = torch.arange(num_steps).expand(batch_size, num_steps) < torch.tensor(lengths).unsqueeze(1)  # [batch, time]
    if holes:
        hidden = draw(hnp.arrays(np.bool_, (batch_size, num_steps)))
        last = torch.tensor(lengths).unsqueeze(1) - 1  # [batch, 1] the step that fixes each row's length
        keep = torch.arange(num_steps).unsqueeze(0) == last
        mask = mask & (keep | ~torch.from_numpy(hidden))
    return mask


def masks(*, batch_size: int, num_steps: int, ragged: bool = True, holes: bool = False) -> st.SearchStrategy[torch.Tensor]:
    """Bool masks ``[batch_size, num_steps]`` (True = observed); every row observes >= 1 step.

    ragged: rows are right-padded to different lengths in ``[1, num_steps]`` (at least one row
            has the full length, as in a padded batch); otherwise every step of every row is observed.
    holes:  steps before a row's last observed step may be unobserved too (missing data).
    """
    _check_int("batch_size", batch_size, min_value=1)
    _check_int("num_steps", num_steps, min_value=1)
    _check_bool("ragged", ragged)
    _check_bool("holes", holes)
    return _masks(batch_size, num_steps, ragged, holes)


def _values(support: constraints.Constraint, shape: Tuple[int, ...]) -> st.SearchStrategy[torch.Tensor]:
    kind = support_kind(support)
    if kind.bits:
        return hnp.arrays(np.float32, shape, elements=st.sampled_from([0.0, 1.0])).map(torch.from_numpy)
    if kind.integer:
        return hnp.arrays(np.int64, shape, elements=st.integers(int(kind.low), int(kind.high))).map(torch.from_numpy)
    low, high = np.float32(kind.low), np.float32(kind.high)  # float32 bounds, rounded inwards
    low = low if low >= kind.low else np.nextafter(low, np.float32(np.inf))
    high = high if high <= kind.high else np.nextafter(high, np.float32(-np.inf))
    floats = st.floats(float(low), float(high), width=32, allow_nan=False, allow_infinity=False)
    return hnp.arrays(np.float32, shape, elements=floats).map(torch.from_numpy)


@st.composite
def _sequence_batches(draw, obs_shape, support, min_batch, max_batch, min_steps, max_steps, ragged, holes, input_dim) -> SeqBatch:
    batch_size = draw(st.integers(min_batch, max_batch))
    num_steps = draw(st.integers(min_steps, max_steps))
    mask = draw(_masks(batch_size, num_steps, ragged, holes))  # [batch, time]
    x = draw(_values(support, (batch_size, num_steps, *obs_shape)))  # [batch, time, *obs_shape]
    x = torch.where(mask.reshape(mask.shape + (1,) * len(obs_shape)), x, torch.zeros((), dtype=x.dtype))  # padding holds zeros
    inputs = None
    if input_dim:
        floats = st.floats(-_INPUT_BOUND, _INPUT_BOUND, width=32)
        inputs = torch.from_numpy(draw(hnp.arrays(np.float32, (batch_size, num_steps, input_dim), elements=floats)))
    return SeqBatch.from_tensor(x, mask, inputs=inputs)


def sequence_batches(
    *,
    obs_shape: Tuple[int, ...],
    support: constraints.Constraint,
    min_batch: int = 1,
    max_batch: int = 4,
    min_steps: int = 1,
    max_steps: int = 8,
    ragged: bool = True,
    holes: bool = False,
    input_dim: int = 0,
) -> st.SearchStrategy[SeqBatch]:
    """Padded batches (:class:`~seqgen.SeqBatch`) whose observed values lie in ``support``.

    x:      ``[batch, time, *obs_shape]`` with ``batch in [min_batch, max_batch]`` and
            ``time in [min_steps, max_steps]``; ``boolean`` gives 0/1 floats, ``integer_interval``
            long tokens, intervals floats strictly inside, ``real`` finite floats in ``[-10, 10]``
            (float32). Unobserved steps hold zeros.
    mask:   drawn by :func:`masks` with ``ragged`` and ``holes``; ``lengths`` follow from it.
    inputs: ``[batch, time, input_dim]`` floats in ``[-3, 3]`` when ``input_dim > 0``, else None.
    """
    if not isinstance(obs_shape, tuple) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in obs_shape):
        raise ConfigError("obs_shape", f"'obs_shape' must be a tuple of integers >= 1 (got {obs_shape!r})", "pass e.g. obs_shape=(3,), or () for tokens")
    if not isinstance(support, constraints.Constraint):
        raise ConfigError("support", f"'support' must be a torch.distributions constraint (got {support!r})", "pass e.g. constraints.real or decoder.support")
    support_kind(support)  # unsupported constraints fail here, at build time
    _check_int("min_batch", min_batch, min_value=1)
    _check_int("max_batch", max_batch, min_value=1)
    _check_order("min_batch", min_batch, "max_batch", max_batch)
    _check_int("min_steps", min_steps, min_value=1)
    _check_int("max_steps", max_steps, min_value=1)
    _check_order("min_steps", min_steps, "max_steps", max_steps)
    _check_bool("ragged", ragged)
    _check_bool("holes", holes)
    _check_int("input_dim", input_dim, min_value=0)
    return _sequence_batches(obs_shape, support, min_batch, max_batch, min_steps, max_steps, ragged, holes, input_dim)


def configs(spec: ModelSpec, *, vary: Optional[Mapping[str, st.SearchStrategy]] = None) -> st.SearchStrategy:
    """Configs of ``spec``: its ``test_config`` (a tiny model) with a few safe variations.

    vary: config field -> strategy of values to draw for it. Default: the ``seed`` field when the
          config has one (integers in ``[0, 2**16]``), otherwise nothing (``test_config`` as is).
    Each draw is built with ``spec.make_config``, so every variation is validated.
    """
    if not isinstance(spec, ModelSpec):
        raise ConfigError("spec", f"'spec' must be a seqgen.ModelSpec (got {type(spec).__name__})", "pass the plugin's SPEC")
    fields = spec.config_cls.field_names()
    if vary is None:
        vary = {"seed": st.integers(0, 2**16)} if "seed" in fields else {}
    for key, strategy in vary.items():
        if key not in fields:
            near = closest_names(key, fields)
            hint = f"did you mean {', '.join(map(repr, near))}?" if near else f"valid keys: {', '.join(fields)}"
            raise ConfigError(key, f"vary: {spec.config_cls.__name__} has no key {key!r}", hint)
        if not isinstance(strategy, st.SearchStrategy):
            raise ConfigError(key, f"vary[{key!r}] must be a hypothesis strategy (got {strategy!r})", f"write vary={{{key!r}: st.just(value)}}")
    base = dict(spec.test_config)
    return st.fixed_dictionaries(dict(vary)).map(lambda changes: spec.make_config(**{**base, **changes}))
