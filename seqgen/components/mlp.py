"""``MLP``: the multilayer perceptron every component builds on, plus the argument checks they share.

``MLP(in_dim, out_dim, hidden=(h_1, …, h_k))`` computes

    h_0 = x,   h_i = act(W_i h_{i-1} + b_i)  (i = 1..k),   y = out_act(W_{k+1} h_k + b_{k+1})

over any leading dims: ``x: [*, in_dim] -> y: [*, out_dim]``. ``hidden=()`` is one ``nn.Linear``.
``in_dim=0`` is allowed (a context-free head): the output is then the learned bias alone.
"""

from __future__ import annotations

import operator
import warnings
from typing import Any, Optional, Sequence, Tuple

import torch
from torch import nn

from ..errors import ConfigError, ShapeError

__all__ = ["MLP", "ACTIVATIONS"]

#: Activation names accepted by ``MLP(activation=…, out_activation=…)``.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
}


def check_int(owner: str, name: str, value: Any, *, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum``, or ConfigError naming ``owner`` and ``name``.

    Anything with ``__index__`` (numpy or 0-d torch integers) counts as an integer; bools do not.
    """
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < minimum:
        raise ConfigError(
            name,
            f"{owner}: '{name}' must be an integer >= {minimum} (got {value!r})",
            f"pass {name}=<an integer >= {minimum}>",
        )
    return number


def check_positive(owner: str, name: str, value: Any) -> float:
    """``value`` as a float ``> 0``, or ConfigError naming ``owner`` and ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(name, f"{owner}: '{name}' must be a number > 0 (got {value!r})", f"pass {name}=<a positive number>")
    return float(value)


def check_hidden(owner: str, hidden: Any) -> Tuple[int, ...]:
    """``hidden`` as a tuple of positive layer widths (a list or tuple of ints)."""
    if isinstance(hidden, (int, str)) or not isinstance(hidden, Sequence):
        raise ConfigError(
            "hidden",
            f"{owner}: 'hidden' must be a tuple of layer widths (got {hidden!r})",
            "pass e.g. hidden=(64,) for one hidden layer or hidden=() for none",
        )
    return tuple(check_int(owner, "hidden", h) for h in hidden)


def check_obs_shape(owner: str, obs_shape: Any) -> torch.Size:
    """``obs_shape`` (a tuple of positive ints, possibly empty) as a ``torch.Size``."""
    if isinstance(obs_shape, int) and not isinstance(obs_shape, bool):
        obs_shape = (obs_shape,)
    if not isinstance(obs_shape, Sequence) or isinstance(obs_shape, str):
        raise ConfigError("obs_shape", f"{owner}: 'obs_shape' must be a tuple of ints (got {obs_shape!r})", "pass e.g. obs_shape=(88,)")
    return torch.Size(check_int(owner, "obs_shape", d) for d in obs_shape)


def _activation(owner: str, name: str, value: Optional[str]) -> nn.Module:
    if value is None:
        return nn.Identity()
    if value not in ACTIVATIONS:
        raise ConfigError(name, f"{owner}: '{name}' must be one of {', '.join(map(repr, ACTIVATIONS))} (got {value!r})")
    return ACTIVATIONS[value]()


class MLP(nn.Module):
    """Multilayer perceptron over any leading dims: ``[*, in_dim] -> [*, out_dim]``.

    Args:
        in_dim: input width (``>= 0``).
        out_dim: output width (``>= 1``).
        hidden: hidden layer widths; ``()`` gives a single ``nn.Linear``.
        activation: nonlinearity after each hidden layer (``'relu'``, ``'tanh'``, ``'elu'``,
            ``'gelu'``, ``'identity'``, ``'sigmoid'``, ``'softplus'``).
        out_activation: nonlinearity on the output (None: linear output).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        hidden: Sequence[int] = (),
        activation: str = "relu",
        out_activation: Optional[str] = None,
    ):
        super().__init__()
        self.in_dim = check_int("MLP", "in_dim", in_dim, minimum=0)
        self.out_dim = check_int("MLP", "out_dim", out_dim)
        self.hidden = check_hidden("MLP", hidden)
        _activation("MLP", "activation", activation)  # validate even when hidden == ()
        widths = (self.in_dim,) + self.hidden + (self.out_dim,)
        layers = []
        with warnings.catch_warnings():
            # in_dim == 0 gives an empty weight, whose initialisation torch reports as a no-op.
            warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
                layers.append(nn.Linear(a, b))
                last = i == len(widths) - 2
                layers.append(_activation("MLP", "out_activation", out_activation) if last else _activation("MLP", "activation", activation))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [*, in_dim] -> [*, out_dim]``."""
        if x.dim() == 0 or x.shape[-1] != self.in_dim:
            raise ShapeError("MLP input", f"[*, in_dim={self.in_dim}]", tuple(x.shape), f"build the MLP with in_dim={x.shape[-1] if x.dim() else 1}")
        return self.net(x)

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}, hidden={self.hidden}"
