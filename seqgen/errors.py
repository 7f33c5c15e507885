"""Exceptions raised on bad input, and the one helper that writes every shape message.

Every error seqgen raises on user input is a :class:`SeqgenError` subclass that also
derives from the built-in exception a Python user would catch (``ValueError``,
``ImportError``, ``NotImplementedError``), and carries its facts as fields so callers
can act on them without parsing the message. Messages read
``<argument>: expected <expected>, got <actual>; <fix>``.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

__all__ = [
    "SeqgenError",
    "ShapeError",
    "ConfigError",
    "DataError",
    "PluginError",
    "CapabilityError",
    "CheckpointError",
    "TrainingError",
    "format_shape",
    "shape_message",
    "closest_names",
]


def format_shape(shape: Any) -> str:
    """Render a shape (tuple, ``torch.Size`` or list of names/ints) as ``(8, 50, 4)``."""
    if isinstance(shape, (str, int)):
        return str(shape)
    items = tuple(shape)
    if len(items) == 1:
        return f"({items[0]},)"
    return "(" + ", ".join(str(s) for s in items) + ")"


def shape_message(argument: str, expected: Any, actual: Any, fix: str | None = None) -> str:
    """The one place shape messages are written.

    >>> shape_message("x", "[batch, time, obs_dim=3]", (8, 50, 4), "build the decoder with obs_dim=4")
    'x: expected [batch, time, obs_dim=3], got (8, 50, 4); build the decoder with obs_dim=4'
    """
    exp = expected if isinstance(expected, str) else format_shape(expected)
    act = actual if isinstance(actual, str) else format_shape(actual)
    msg = f"{argument}: expected {exp}, got {act}"
    return f"{msg}; {fix}" if fix else msg


def closest_names(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The valid names closest to ``name`` (for 'did you mean' hints)."""
    import difflib

    cands = sorted(set(candidates))
    close = difflib.get_close_matches(name, cands, n=n, cutoff=0.5)
    return close


_MISSING = object()


def _rebuild(cls, message, fields):
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(fields)
    return err


class SeqgenError(Exception):
    """Base of every error seqgen raises on bad input or misuse.

    Subclasses take their fields positionally; called with a message alone (as Pyro does when it
    re-raises an error from inside ``poutine.trace`` with shape information appended) they keep
    that message and leave the other fields None. Errors pickle with their fields (for
    ``torch.multiprocessing`` workers).
    """

    def _message_only(self, message: str, names: tuple) -> None:
        for n in names:
            setattr(self, n, None)
        Exception.__init__(self, message)

    def __reduce__(self):
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


class ShapeError(SeqgenError, ValueError):
    """A tensor's shape (or a component's dimension) does not fit.

    Fields: ``argument``, ``expected``, ``actual``, ``fix``.
    """

    def __init__(self, argument: str, expected: Any = _MISSING, actual: Any = _MISSING, fix: str | None = None):
        if expected is _MISSING:
            return self._message_only(argument, ("argument", "expected", "actual", "fix"))
        self.argument, self.expected, self.actual, self.fix = argument, expected, actual, fix
        super().__init__(shape_message(argument, expected, actual, fix))


class DataError(SeqgenError, ValueError):
    """Data values are unusable (NaN/inf, wrong dtype, empty, out of range, unreadable file).

    Fields: ``argument``, ``problem``, ``fix``.
    """

    def __init__(self, argument: str, problem: Any = _MISSING, fix: str | None = None):
        if problem is _MISSING:
            return self._message_only(argument, ("argument", "problem", "fix"))
        self.argument, self.problem, self.fix = argument, problem, fix
        msg = f"{argument}: {problem}"
        super().__init__(f"{msg}; {fix}" if fix else msg)


class ConfigError(SeqgenError, ValueError):
    """A configuration value is missing, unknown or out of range.

    Fields: ``key``, ``problem``, ``fix``. Messages read ``'lr' must be > 0 (got 0.0)``.
    """

    def __init__(self, key: str, problem: Any = _MISSING, fix: str | None = None):
        if problem is _MISSING:
            return self._message_only(key, ("key", "problem", "fix"))
        self.key, self.problem, self.fix = key, problem, fix
        super().__init__(f"{problem}; {fix}" if fix else problem)


class PluginError(SeqgenError, ImportError):
    """A model plugin is unknown, broken, duplicated or malformed.

    Fields: ``plugin`` (name), ``distribution`` (the installed package, when known), ``reason``.
    """

    def __init__(self, plugin: str, reason: Any = _MISSING, *, distribution: str | None = None):
        if reason is _MISSING:
            return self._message_only(plugin, ("plugin", "reason", "distribution"))
        self.plugin, self.reason, self.distribution = plugin, reason, distribution
        where = f" (from distribution {distribution!r})" if distribution else ""
        super().__init__(f"plugin {plugin!r}{where}: {reason}")


class CapabilityError(SeqgenError, NotImplementedError):
    """A method outside a model's declared capabilities was called.

    Fields: ``model`` (class name), ``capability`` (the word needed), ``available``.
    """

    def __init__(self, model: str, capability: Any = _MISSING, available: Sequence[str] = (), hint: str | None = None):
        if capability is _MISSING:
            return self._message_only(model, ("model", "capability", "available"))
        self.model, self.capability, self.available = model, capability, tuple(sorted(available))
        msg = (
            f"{model} does not have capability {capability!r}; "
            f"it can do: {', '.join(self.available) or 'nothing'}"
        )
        super().__init__(f"{msg}; {hint}" if hint else msg)


class CheckpointError(SeqgenError, ValueError):
    """A checkpoint is missing, corrupt, truncated, or from another model/version.

    Fields: ``path``, ``problem``, ``fix``.
    """

    def __init__(self, path: str, problem: Any = _MISSING, fix: str | None = None):
        if problem is _MISSING:
            return self._message_only(str(path), ("path", "problem", "fix"))
        self.path, self.problem, self.fix = str(path), problem, fix
        msg = f"checkpoint {self.path}: {problem}"
        super().__init__(f"{msg}; {fix}" if fix else msg)


class TrainingError(SeqgenError, RuntimeError):
    """Training cannot go on (a NaN/inf loss, diverged chains).

    Fields: ``step``, ``term`` (the loss term or quantity at fault), ``value``.
    """

    def __init__(self, step: Any, term: Any = _MISSING, value: Any = None, fix: str | None = None):
        if term is _MISSING:
            return self._message_only(str(step), ("step", "term", "value", "fix"))
        self.step, self.term, self.value, self.fix = step, term, value, fix
        msg = f"step {step}: {term} is {value}"
        super().__init__(f"{msg}; {fix}" if fix else msg)
