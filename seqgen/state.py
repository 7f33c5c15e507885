"""``State``: the small typed container a model or agent carries from step to step.

Models declare their state as a frozen attrs subclass of :class:`State` whose fields are
tensors shaped ``[batch, …]`` (or nested States, or ``None``). The base adds the few
structural operations GenCore needs, so no model writes them again:
``map`` (apply a function to every tensor), ``index`` (select rows), ``repeat_interleave``.
"""

from __future__ import annotations

from typing import Callable

import attrs
import torch

__all__ = ["State", "state"]


def state(cls):
    """Class decorator for state containers: ``attrs.frozen`` (positional fields allowed)."""
    return attrs.frozen(cls)


class State:
    """Base of every model and agent state. Subclass with ``@seqgen.state``."""

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "State":
        """A new state with ``fn`` applied to every tensor (nested States recursed)."""

        def go(v):
            if isinstance(v, torch.Tensor):
                return fn(v)
            if isinstance(v, State):
                return v.map(fn)
            if isinstance(v, tuple):
                return tuple(go(u) for u in v)
            return v

        return attrs.evolve(self, **{a.name: go(getattr(self, a.name)) for a in attrs.fields(type(self))})

    def index(self, idx: torch.Tensor) -> "State":
        """Rows ``idx`` of every ``[batch, …]`` tensor."""
        return self.map(lambda t: t[idx])

    def repeat_interleave(self, n: int) -> "State":
        """Each row repeated ``n`` times: ``[batch, …] -> [batch * n, …]``."""
        return self.map(lambda t: t.repeat_interleave(n, dim=0))
