"""Frozen, keyword-only attrs configs: validators, dict round trips, ``--set key=value``.

Every model config and :class:`~seqgen.train.TrainConfig` is declared with
:func:`config` (``attrs.frozen(kw_only=True)``) and subclasses :class:`Config`, which adds
``to_dict``/``from_dict``/``evolve``/``with_overrides``. ``attrs.evolve`` re-runs the
validators, so a variant can never be out of range. Validator messages read
``'lr' must be > 0 (got 0.0)`` and are raised as :class:`~seqgen.errors.ConfigError`.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, TypeVar

import attrs

from .errors import ConfigError, closest_names

__all__ = [
    "Config",
    "config",
    "positive",
    "non_negative",
    "in_range",
    "one_of",
    "positive_int",
    "non_negative_int",
]

C = TypeVar("C", bound="Config")


def config(cls):
    """Class decorator: a frozen, keyword-only attrs class (use on :class:`Config` subclasses)."""
    return attrs.frozen(kw_only=True)(cls)


def _fail(attribute, problem: str, fix: str | None = None):
    raise ConfigError(attribute.name, problem, fix)


def positive(instance, attribute, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        _fail(attribute, f"'{attribute.name}' must be > 0 (got {value!r})")


def non_negative(instance, attribute, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
        _fail(attribute, f"'{attribute.name}' must be >= 0 (got {value!r})")


def positive_int(instance, attribute, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        _fail(attribute, f"'{attribute.name}' must be an integer > 0 (got {value!r})")


def non_negative_int(instance, attribute, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        _fail(attribute, f"'{attribute.name}' must be an integer >= 0 (got {value!r})")


def in_range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False):
    """Validator: ``lo <(=) value <(=) hi``; the message names the interval."""
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    interval = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"

    def check(instance, attribute, value):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and lo is not None:
            ok = value > lo if lo_open else value >= lo
        if ok and hi is not None:
            ok = value < hi if hi_open else value <= hi
        if not ok:
            _fail(attribute, f"'{attribute.name}' must be in {interval} (got {value!r})")

    return check


def one_of(*choices: Any):
    """Validator: value is one of ``choices``; the message lists them."""

    def check(instance, attribute, value):
        if value not in choices:
            _fail(
                attribute,
                f"'{attribute.name}' must be one of {', '.join(map(repr, choices))} (got {value!r})",
            )

    return check


def _parse_value(text: str) -> Any:
    """Parse a ``--set`` value: JSON where it parses (numbers, true/false, null, lists), else the string."""
    lowered = text.strip()
    if lowered in ("True", "False", "None"):  # Python spellings, so `--set flag=False` is False
        return {"True": True, "False": False, "None": None}[lowered]
    try:
        return json.loads(lowered)
    except json.JSONDecodeError:
        return text


class Config:
    """Mixin for configs built with :func:`config`: dict round trips and validated variants."""

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=False, value_serializer=lambda inst, a, v: list(v) if isinstance(v, tuple) else v)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(a.name for a in attrs.fields(cls))

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """Build from a mapping; unknown keys are an error naming the closest valid keys."""
        names = cls.field_names()
        unknown = [k for k in data if k not in names]
        if unknown:
            key = unknown[0]
            near = closest_names(key, names)
            hint = f"did you mean {', '.join(map(repr, near))}?" if near else f"valid keys: {', '.join(names)}"
            raise ConfigError(key, f"{cls.__name__} has no key {key!r}", hint)
        kwargs = {}
        for a in attrs.fields(cls):
            if a.name in data:
                v = data[a.name]
                if isinstance(v, list) and (a.default is attrs.NOTHING or isinstance(a.default, tuple)):
                    v = tuple(v)
                kwargs[a.name] = v
        try:
            return cls(**kwargs)
        except TypeError as e:  # a missing required key
            raise ConfigError("?", f"{cls.__name__}: {e}", "pass every required key") from None

    def evolve(self: C, **changes: Any) -> C:
        """A validated variant (``attrs.evolve`` re-runs every validator)."""
        return self.from_dict({**self.to_dict(), **changes})

    def with_overrides(self: C, assignments: Iterable[str]) -> C:
        """Apply command-line ``key=value`` strings (``--set lr=1e-3``)."""
        changes: dict[str, Any] = {}
        for item in assignments:
            if "=" not in item:
                raise ConfigError(item, f"--set {item!r} is not of the form key=value", "write e.g. --set lr=0.001")
            key, value = item.split("=", 1)
            changes[key.strip()] = _parse_value(value)
        return self.evolve(**changes)
