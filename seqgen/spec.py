"""``ModelSpec``: what a plugin's entry point names (DESIGN §5).

``[project.entry-points."seqgen.models"] srnn = "seqgen_srnn:SPEC"`` where ``SPEC`` is a frozen
``ModelSpec``. The registry checks the spec when it loads it, so a malformed plugin is reported
with the reason instead of failing later.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import attrs

from .capabilities import validate_capabilities
from .errors import ConfigError, PluginError

__all__ = ["ModelSpec"]


def _no_components(config) -> Mapping[str, Any]:
    return {}


@attrs.frozen(kw_only=True)
class ModelSpec:
    """A model family as the registry knows it.

    name:               the entry-point name (``'srnn'``)
    model_cls:          a :class:`~seqgen.SequenceModel` subclass, built as ``model_cls(config, **components)``
    config_cls:         its frozen attrs config class
    capabilities:       frozenset of capability words (must equal ``model_cls.capabilities``)
    default_components: ``config -> {'decoder': …, 'agent': …}``, the components used when a user gives none
    version:            the plugin's version string (written into checkpoints)
    description:        one line for ``seqgen plugins``
    test_config:        config overrides giving a tiny model (seconds on CPU) for the conformance kit
    """

    name: str
    model_cls: type
    config_cls: type
    capabilities: frozenset = attrs.field(converter=frozenset)
    default_components: Callable[[Any], Mapping[str, Any]] = _no_components
    version: str = "0"
    description: str = ""
    test_config: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self):
        from .model import SequenceModel

        validate_capabilities(self.capabilities, owner=f"ModelSpec({self.name!r}).capabilities")
        if not (isinstance(self.model_cls, type) and issubclass(self.model_cls, SequenceModel)):
            raise PluginError(self.name, f"model_cls must be a seqgen.SequenceModel subclass, got {self.model_cls!r}")
        if frozenset(self.model_cls.capabilities) != self.capabilities:
            raise PluginError(
                self.name,
                f"capabilities {sorted(self.capabilities)} differ from {self.model_cls.__name__}.capabilities "
                f"{sorted(self.model_cls.capabilities)}",
            )

    def make_config(self, config: Optional[Any] = None, **overrides: Any):
        """A config: ``config`` (or the defaults) with ``overrides`` applied and validated."""
        if config is None:
            try:
                config = self.config_cls.from_dict(overrides)
            except ConfigError:
                raise
            return config
        return config.evolve(**overrides) if overrides else config

    def build(self, config: Optional[Any] = None, /, **overrides: Any):
        """A model: ``build(cfg)``, ``build(obs_dim=88)``; component keywords replace the defaults.

        Keywords that name config fields go to the config; the others are components.
        """
        fields = set(self.config_cls.field_names())
        cfg_over = {k: v for k, v in overrides.items() if k in fields}
        comps = {k: v for k, v in overrides.items() if k not in fields}
        cfg = self.make_config(config, **cfg_over)
        return self.model_cls(cfg, **{**dict(self.default_components(cfg)), **comps})
