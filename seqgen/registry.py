"""The model registry: plugins found through the ``seqgen.models`` entry-point group (DESIGN §5).

A plugin distribution declares ``[project.entry-points."seqgen.models"] srnn = "seqgen_srnn:SPEC"``,
where ``SPEC`` is a :class:`~seqgen.ModelSpec`. The built-in ``rnn`` and ``iseq`` models are found
the same way (the ``seqgen`` distribution's own entry points). The registry is

- **lazy**: :func:`list_plugins` reads only the installed metadata (``entry_points.txt``, through the
  ``entrypoints`` package) and never imports plugin code; :func:`load_spec` imports one plugin when
  it is asked for by name, and caches the result (a spec, or the reason it is broken);
- **loud**: a plugin whose import raises, whose entry point names a missing attribute, or whose
  object is not a well-formed ``ModelSpec`` is recorded as ``'broken'`` with the reason (shown by
  :func:`list_plugins` and ``seqgen plugins``) and raises :class:`~seqgen.PluginError` when asked
  for; two distributions providing one name are an error naming both;
- **contained**: one broken plugin never breaks the others (pytest's autoload lets a failing plugin
  take the host down; this does not). ``strict=True`` (or ``SEQGEN_STRICT_PLUGINS=1``) raises the
  ``PluginError`` chained ``from`` the original exception, so the traceback shows the plugin's own
  frames (pytest's "Error importing plugin" idiom); without it the message carries the exception's
  type and text and the chain is left out;
- **switchable**: ``SEQGEN_DISABLE_PLUGINS=a,b`` disables installed plugins by name (listed as
  ``'disabled'``); ``SEQGEN_DISABLE_PLUGIN_AUTOLOAD=1`` reads no entry points at all (built-ins
  included), so only specs added with :func:`register` exist. Both are read at call time.

Decisions written down here: a spec added in-process with :func:`register` shadows an installed
plugin of the same name and is not affected by ``SEQGEN_DISABLE_PLUGINS`` (it is deliberate code,
not something found on the path); the same distribution seen twice on the path (an editable
install next to its ``.egg-info``) is one provider, the first found, as in ``entrypoints``;
:func:`reset` forgets everything the registry cached or was given but cannot un-import modules.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import sys
import threading
from typing import Any, Iterable, Optional, Sequence

import attrs
import entrypoints

from .errors import ConfigError, PluginError, closest_names
from .spec import ModelSpec

__all__ = [
    "GROUP",
    "PluginInfo",
    "list_plugins",
    "available_models",
    "load_spec",
    "load_model",
    "register",
    "unregister",
    "reset",
    "env_flag",
    "ENV_DISABLE",
    "ENV_NO_AUTOLOAD",
    "ENV_STRICT",
]

GROUP = "seqgen.models"
ENV_DISABLE = "SEQGEN_DISABLE_PLUGINS"
ENV_NO_AUTOLOAD = "SEQGEN_DISABLE_PLUGIN_AUTOLOAD"
ENV_STRICT = "SEQGEN_STRICT_PLUGINS"
STATUSES = ("not loaded", "loaded", "broken", "disabled")


@attrs.frozen(kw_only=True)
class PluginInfo:
    """One row of :func:`list_plugins`.

    name:         the entry-point name (``'srnn'``), the name :func:`load_spec` takes
    distribution: the installed distribution providing it, by its published name (None for a spec
                  added with :func:`register`)
    version:      the distribution's version (the spec's version for a registered spec)
    module:       the module the entry point names (``'seqgen_srnn'``)
    object:       the attribute it names in that module (``'SPEC'``)
    status:       ``'not loaded'`` | ``'loaded'`` | ``'broken'`` | ``'disabled'``
    reason:       why it is broken or disabled (None otherwise)
    capabilities: the spec's capability words once loaded, else None
    """

    name: str
    distribution: Optional[str]
    version: Optional[str]
    module: Optional[str]
    object: Optional[str]
    status: str = attrs.field(validator=attrs.validators.in_(STATUSES))
    reason: Optional[str] = None
    capabilities: Optional[frozenset] = None


@attrs.frozen
class _Entry:
    """One entry point as read from the metadata (nothing imported)."""

    name: str
    distribution: str
    version: Optional[str]
    module: str
    object: Optional[str]

    @property
    def target(self) -> str:
        return f"{self.module}:{self.object}" if self.object else self.module


@attrs.frozen
class _Broken:
    reason: str
    error: Optional[BaseException]


def _normalize(dist_name: str) -> str:
    """PEP 503 name normalisation: ``Seqgen_SRNN`` and ``seqgen-srnn`` are one distribution."""
    return re.sub(r"[-_.]+", "-", dist_name).lower()


def env_flag(var: str) -> bool:
    """An on/off environment switch: ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``/unset."""
    raw = os.environ.get(var, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(var, f"environment variable {var} must be 1 or 0 (got {raw!r})", f"set {var}=1, or unset it")


def _disabled_names() -> frozenset:
    return frozenset(n.strip() for n in os.environ.get(ENV_DISABLE, "").split(",") if n.strip())


def _path_list(path: Optional[Iterable[Any]]) -> list[str]:
    if path is None:
        return list(sys.path)
    if isinstance(path, (str, bytes, os.PathLike)):
        raise ConfigError(
            "path",
            f"path: expected a list of directories, got a single {type(path).__name__} {os.fsdecode(path)!r}",
            f"pass path=[{os.fsdecode(path)!r}]",
        )
    return [os.fsdecode(p) for p in path]


def _name_and_version(distro, path: list[str]) -> tuple[str, Optional[str]]:
    """The project name as published (``seqgen-srnn``, not the folder's ``seqgen_srnn``) and version.

    Read from the distribution's metadata on ``path``; an ``.egg-info`` folder's name has no version.
    """
    for dist in importlib.metadata.distributions(name=distro.name, path=path):
        return dist.metadata["Name"] or distro.name, distro.version or dist.version
    return distro.name, distro.version


def _read_group(path: list[str]) -> dict[str, tuple[_Entry, ...]]:
    """Entry points of :data:`GROUP` on ``path``, by name; each name's distinct providers, first found first."""
    found: dict[str, list[_Entry]] = {}
    published: dict[str, tuple[str, Optional[str]]] = {}
    for ep in entrypoints.get_group_all(GROUP, path=path):
        key = _normalize(ep.distro.name)
        if key not in published:
            published[key] = _name_and_version(ep.distro, path)
        providers = found.setdefault(ep.name, [])
        if any(_normalize(e.distribution) == key for e in providers):
            continue  # the same distribution seen again further down the path: shadowed
        providers.append(_Entry(ep.name, *published[key], ep.module_name, ep.object_name))
    return {name: tuple(entries) for name, entries in found.items()}


def _import_spec(entry: _Entry) -> ModelSpec | _Broken:
    """Import the object ``entry`` names and check it; never raises for the plugin's faults."""
    try:
        obj = importlib.import_module(entry.module)
    except Exception as err:  # any failure inside the plugin's import is the plugin's, not ours
        return _Broken(f"importing module {entry.module!r} failed: {type(err).__name__}: {err}", err)
    for attr in entry.object.split(".") if entry.object else ():
        try:
            obj = getattr(obj, attr)
        except AttributeError as err:
            return _Broken(
                f"module {entry.module!r} has no attribute {entry.object!r} "
                f"(entry point '{entry.name} = {entry.target}'); define it or fix the entry point",
                err,
            )
    if not isinstance(obj, ModelSpec):
        return _Broken(
            f"entry point '{entry.name} = {entry.target}' names a {type(obj).__name__}, expected a "
            "seqgen.ModelSpec; point it at a ModelSpec(name=..., model_cls=..., config_cls=..., capabilities=...)",
            None,
        )
    if obj.name != entry.name:
        return _Broken(
            f"entry point is named {entry.name!r} but {entry.target} is ModelSpec(name={obj.name!r}); "
            "give the entry point and the spec the same name",
            None,
        )
    return obj


class _Registry:
    """The process-wide state behind the module functions; every access holds ``lock``."""

    def __init__(self):
        self.lock = threading.RLock()  # re-entrant: a plugin's import may itself load a plugin
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.scans: dict[tuple[str, ...], dict[str, tuple[_Entry, ...]]] = {}
            self.specs: dict[_Entry, ModelSpec] = {}
            self.broken: dict[_Entry, _Broken] = {}
            self.registered: dict[str, ModelSpec] = {}

    def entries(self, path) -> dict[str, tuple[_Entry, ...]]:
        """Installed plugins by name (none when autoload is off); cached per search path."""
        if env_flag(ENV_NO_AUTOLOAD):
            return {}
        dirs = _path_list(path)
        key = tuple(dirs)  # sys.path itself when path is None, so a changed sys.path is rescanned
        with self.lock:
            if key not in self.scans:
                self.scans[key] = _read_group(dirs)
            return self.scans[key]

    def info(self, entry: _Entry, providers: Sequence[_Entry], disabled: frozenset) -> PluginInfo:
        row = dict(name=entry.name, distribution=entry.distribution, version=entry.version,
                   module=entry.module, object=entry.object)  # fmt: skip
        if entry.name in disabled:
            return PluginInfo(**row, status="disabled", reason=_disabled_reason(entry.name))
        if len(providers) > 1:
            return PluginInfo(**row, status="broken", reason=_duplicate_reason(providers))
        if entry in self.specs:
            return PluginInfo(**row, status="loaded", capabilities=self.specs[entry].capabilities)
        if entry in self.broken:
            return PluginInfo(**row, status="broken", reason=self.broken[entry].reason)
        return PluginInfo(**row, status="not loaded")


_REGISTRY = _Registry()


def _disabled_reason(name: str) -> str:
    return f"disabled by {ENV_DISABLE}={os.environ.get(ENV_DISABLE, '')!r}; remove {name!r} from {ENV_DISABLE} to re-enable it"


def _duplicate_reason(providers: Sequence[_Entry]) -> str:
    which = " and ".join(f"distribution {e.distribution!r} {e.version or '(version unknown)'} ({e.target})" for e in providers)
    return (
        f"provided by {len(providers)} distributions: {which}; uninstall all but one "
        f"(pip uninstall {providers[-1].distribution}), or disable the name with {ENV_DISABLE}"
    )


def _unknown_error(name: str, installed: Iterable[str]) -> PluginError:
    names = sorted(set(installed))
    near = closest_names(name, names)
    parts = [f"no model plugin of that name (did you mean {' or '.join(map(repr, near))}?)" if near else "no model plugin of that name"]
    parts.append(f"installed: {', '.join(names)}" if names else "none are installed")
    if env_flag(ENV_NO_AUTOLOAD):
        parts.append(f"entry points are not read because {ENV_NO_AUTOLOAD} is set; unset it, or register(spec) in-process")
    else:
        parts.append(f"install a distribution with a {GROUP!r} entry point named {name!r}, or register(spec) in-process")
    return PluginError(name, "; ".join(parts))


def list_plugins(*, path: Optional[Iterable[Any]] = None) -> list[PluginInfo]:
    """Every known plugin, sorted by name, without importing any plugin code.

    path: directories to read installed metadata from (default ``sys.path``), e.g. a
    ``pip install --target`` folder. A name provided by two distributions gives one ``'broken'`` row
    per distribution. Specs added with :func:`register` appear with ``distribution=None``.
    """
    disabled = _disabled_names()
    with _REGISTRY.lock:
        rows = [
            PluginInfo(name=spec.name, distribution=None, version=spec.version, module=spec.model_cls.__module__,
                       object=None, status="loaded", capabilities=spec.capabilities)  # fmt: skip
            for spec in _REGISTRY.registered.values()
        ]
        for name, providers in _REGISTRY.entries(path).items():
            if name not in _REGISTRY.registered:  # a registered spec shadows the installed one
                rows.extend(_REGISTRY.info(e, providers, disabled) for e in providers)
    return sorted(rows, key=lambda r: (r.name, r.distribution or ""))


def available_models(*, path: Optional[Iterable[Any]] = None) -> list[str]:
    """Names :func:`load_spec` can be asked for: not disabled, not duplicated, not known to be broken.

    Nothing is imported, so a plugin never loaded yet is listed even if loading it will fail.
    """
    return sorted({r.name for r in list_plugins(path=path) if r.status in ("loaded", "not loaded")})


def load_spec(name: str, *, strict: bool = False, path: Optional[Iterable[Any]] = None) -> ModelSpec:
    """The :class:`~seqgen.ModelSpec` registered as ``name``, importing its plugin on first use.

    Raises PluginError when ``name`` is unknown (naming the closest installed names), disabled,
    provided by two distributions, or broken. ``strict`` (or ``SEQGEN_STRICT_PLUGINS=1``) chains
    the PluginError ``from`` the plugin's own exception.
    """
    if not isinstance(name, str):
        raise PluginError(repr(name), f"name: expected a plugin name (str), got {type(name).__name__}", distribution=None)
    strict = bool(strict) or env_flag(ENV_STRICT)
    with _REGISTRY.lock:
        if name in _REGISTRY.registered:
            return _REGISTRY.registered[name]
        installed = _REGISTRY.entries(path)
        if name not in installed:
            raise _unknown_error(name, [*installed, *_REGISTRY.registered])
        if name in _disabled_names():
            raise PluginError(name, _disabled_reason(name))
        providers = installed[name]
        if len(providers) > 1:
            raise PluginError(name, _duplicate_reason(providers))
        entry = providers[0]
        if entry in _REGISTRY.specs:
            return _REGISTRY.specs[entry]
        if entry not in _REGISTRY.broken:
            loaded = _import_spec(entry)
            if isinstance(loaded, ModelSpec):
                _REGISTRY.specs[entry] = loaded
                return loaded
            _REGISTRY.broken[entry] = loaded
        broken = _REGISTRY.broken[entry]
    if strict and broken.error is not None:
        raise PluginError(name, broken.reason, distribution=entry.distribution) from broken.error
    hint = f"; set strict=True or {ENV_STRICT}=1 for the plugin's traceback" if broken.error is not None else ""
    raise PluginError(name, broken.reason + hint, distribution=entry.distribution)


def load_model(name: str, config: Any = None, /, **overrides: Any):
    """A built model: ``load_spec(name).build(config, **overrides)`` (see :meth:`ModelSpec.build`).

    ``load_model('srnn', obs_dim=88)``; keywords naming config fields go to the config, the others
    replace default components.
    """
    return load_spec(name).build(config, **overrides)


def register(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add ``spec`` in-process (tests, notebooks, ``SEQGEN_DISABLE_PLUGIN_AUTOLOAD=1``); returns it.

    It shadows an installed plugin of the same name. Registering a different spec under a name
    already registered needs ``replace=True``.
    """
    if not isinstance(spec, ModelSpec):
        raise PluginError(
            str(getattr(spec, "name", spec)),
            f"register: expected a seqgen.ModelSpec, got {type(spec).__name__}",
        )
    with _REGISTRY.lock:
        old = _REGISTRY.registered.get(spec.name)
        if old is not None and old != spec and not replace:
            raise PluginError(
                spec.name,
                f"already registered (model_cls {old.model_cls.__qualname__}); "
                "pass replace=True, or unregister(name) first",
            )
        _REGISTRY.registered[spec.name] = spec
    return spec


def unregister(name: str) -> ModelSpec:
    """Remove the spec registered in-process as ``name`` and return it."""
    with _REGISTRY.lock:
        if name not in _REGISTRY.registered:
            names = ", ".join(sorted(_REGISTRY.registered)) or "none"
            raise PluginError(name, f"not registered in-process (registered: {names}); nothing to unregister")
        return _REGISTRY.registered.pop(name)


def reset() -> None:
    """Forget every scan, loaded spec, broken record and registration (for tests).

    Modules already imported stay in ``sys.modules``.
    """
    _REGISTRY.reset()
