"""The built-in models, registered through the same entry points as any plugin (DESIGN §5).

- ``rnn``  (:mod:`seqgen.models.rnn`):  ``d_t = RNN(c_t, d_{t-1})``, ``x_t ~ p(x | d_t)``; exact log-likelihood.
- ``iseq`` (:mod:`seqgen.models.iseq`): ``z_t ~ N(0, I)`` independent per step,
  ``d_t = RNN([c_t, z_t], d_{t-1})``, ``x_t ~ p(x | d_t)``; ELBO / IWAE with a bidirectional
  inference RNN.

Names are imported lazily, on first access, so loading one built-in model (the registry imports
``seqgen.models.rnn:SPEC``) never imports the other.
"""

from __future__ import annotations

import importlib

__all__ = ["RNNConfig", "RNNModel", "RNNState", "ISeqConfig", "ISeqModel", "ISeqState"]

_WHERE = {
    "RNNConfig": "rnn",
    "RNNModel": "rnn",
    "RNNState": "rnn",
    "ISeqConfig": "iseq",
    "ISeqModel": "iseq",
    "ISeqState": "iseq",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
