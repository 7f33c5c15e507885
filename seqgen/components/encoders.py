"""Observation encoders (DESIGN §1): ``x: [*, *obs_shape] -> [*, out_dim]`` feature vectors.

- ``FlattenEncoder``:   ``e(x) = vec(x)``, out_dim ``= Π obs_shape``
- ``MLPEncoder``:       ``e(x) = MLP(vec(x))``
- ``EmbeddingEncoder``: ``e(x) = E[x]``, a learned table ``E: [num_classes, out_dim]`` over long tokens
- ``OneHotEncoder``:    ``e(x) = onehot(x)``, out_dim ``= num_classes``
- ``ConvEncoder``:      strided 3x3 convolutions then a Linear layer, the all-convolutional
  downsampling of Springenberg et al. (2015), *Striving for Simplicity: The All Convolutional Net*.

Every encoder reads any leading dims (``[batch]``, ``[batch, time]``, …) and checks the trailing
ones against ``obs_shape``. Integer inputs (bits, tokens) become floats of the module's dtype;
encoders with parameters also cast float inputs to it, while ``FlattenEncoder`` keeps a float
input's dtype.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError, ShapeError
from .base import Encoder
from .mlp import MLP, check_hidden, check_int, check_obs_shape

__all__ = ["FlattenEncoder", "MLPEncoder", "EmbeddingEncoder", "OneHotEncoder", "ConvEncoder"]


class _ShapedEncoder(Encoder):
    """Shared plumbing: the trailing-dims check and a dtype probe for parameter-free encoders."""

    def __init__(self, obs_shape):
        super().__init__()
        self.obs_shape = check_obs_shape(type(self).__name__, obs_shape)
        # An empty buffer that follows .to()/.double(), so parameter-free encoders know their dtype.
        self.register_buffer("_probe", torch.empty(0), persistent=False)

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        """Return the leading dims ``[*]`` of ``x: [*, *obs_shape]``, or raise ShapeError."""
        k = len(self.obs_shape)
        if not isinstance(x, torch.Tensor):
            raise DataError("x", f"{type(self).__name__} expected a torch.Tensor, got {type(x).__name__}", "convert with torch.as_tensor")
        if x.dim() < k or tuple(x.shape[x.dim() - k :]) != tuple(self.obs_shape):
            want = "[*" + "".join(f", {d}" for d in self.obs_shape) + "]"
            name = type(self).__name__
            raise ShapeError(f"{name} x", want, tuple(x.shape), f"build {name} with the data's observation shape")
        return x.shape[: x.dim() - k]

    def _float(self, x: torch.Tensor) -> torch.Tensor:
        """Integers (bits, tokens) -> the module's dtype; floats pass through."""
        return x if x.is_floating_point() else x.to(self._probe.dtype)


class FlattenEncoder(_ShapedEncoder):
    """``x: [*, *obs_shape] -> [*, prod(obs_shape)]`` (no parameters)."""

    def __init__(self, obs_shape):
        super().__init__(obs_shape)
        self.out_dim = math.prod(self.obs_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = self._check(x)
        return self._float(x).reshape(*lead, self.out_dim)  # [*, *obs_shape] -> [*, out_dim]


class MLPEncoder(_ShapedEncoder):
    """``x: [*, *obs_shape] -> MLP(vec(x)): [*, out_dim]`` (hidden layers with ``activation``, linear output)."""

    def __init__(self, obs_shape, out_dim: int, *, hidden: Sequence[int] = (128,), activation: str = "relu"):
        super().__init__(obs_shape)
        self.out_dim = check_int("MLPEncoder", "out_dim", out_dim)
        self.net = MLP(math.prod(self.obs_shape), self.out_dim, hidden=check_hidden("MLPEncoder", hidden), activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = self._check(x)
        flat = x.reshape(*lead, -1)  # [*, *obs_shape] -> [*, prod(obs_shape)]
        return self.net(flat.to(self._probe.dtype))


class _TokenEncoder(_ShapedEncoder):
    """Reads tokens ``x: [*]`` (long, or floats holding integers) in ``[0, num_classes)``."""

    def __init__(self, num_classes: int):
        super().__init__(())
        self.num_classes = check_int(type(self).__name__, "num_classes", num_classes)

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        tokens = x.round().long() if x.is_floating_point() else x.long()
        bad = (tokens < 0) | (tokens >= self.num_classes)
        if x.is_floating_point():
            bad = bad | (x != x.round())
        if bad.any():
            idx = tuple(bad.nonzero()[0].tolist())
            raise DataError(
                "x",
                f"{type(self).__name__}(num_classes={self.num_classes}) got token {x[idx].item()!r} at index {idx}, outside [0, {self.num_classes})",
                f"build the encoder with num_classes > {int(x.max().item())}, or map out-of-vocabulary tokens to a reserved id",
            )
        return tokens


class EmbeddingEncoder(_TokenEncoder):
    """Tokens ``x: [*]`` -> rows of a learned table: ``[*, out_dim]``."""

    def __init__(self, num_classes: int, out_dim: int):
        super().__init__(num_classes)
        self.out_dim = check_int("EmbeddingEncoder", "out_dim", out_dim)
        self.embedding = nn.Embedding(self.num_classes, self.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(self._tokens(x))


class OneHotEncoder(_TokenEncoder):
    """Tokens ``x: [*]`` -> one-hot vectors ``[*, num_classes]`` (no parameters)."""

    def __init__(self, num_classes: int):
        super().__init__(num_classes)
        self.out_dim = self.num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.one_hot(self._tokens(x), self.num_classes).to(self._probe.dtype)


class ConvEncoder(_ShapedEncoder):
    """Images ``x: [*, H, W]`` or ``[*, C, H, W]`` -> ``[*, out_dim]``.

    Each of ``channels`` is a 3x3 convolution with stride 2 and padding 1 followed by ReLU, mapping
    ``H -> ⌊(H - 1) / 2⌋ + 1``; the final feature map is flattened into a Linear layer to ``out_dim``.
    """

    def __init__(self, obs_shape, out_dim: int, *, channels: Sequence[int] = (32, 64)):
        super().__init__(obs_shape)
        if len(self.obs_shape) not in (2, 3):
            raise ShapeError("ConvEncoder obs_shape", "(H, W) or (C, H, W)", tuple(self.obs_shape), "flatten other observations and use MLPEncoder")
        self.out_dim = check_int("ConvEncoder", "out_dim", out_dim)
        self.channels = check_hidden("ConvEncoder", channels)
        c, h, w = (1, *self.obs_shape) if len(self.obs_shape) == 2 else tuple(self.obs_shape)
        layers = []
        for out_c in self.channels:
            layers += [nn.Conv2d(c, out_c, kernel_size=3, stride=2, padding=1), nn.ReLU()]
            c, h, w = out_c, (h - 1) // 2 + 1, (w - 1) // 2 + 1
        self.convs = nn.Sequential(*layers)
        self.feature_shape = (c, h, w)
        self.linear = nn.Linear(c * h * w, self.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = self._check(x)
        img = x.to(self._probe.dtype).reshape(-1, *self.obs_shape)  # [*, (C,) H, W] -> [N, (C,) H, W]
        if len(self.obs_shape) == 2:
            img = img.unsqueeze(1)  # [N, H, W] -> [N, 1, H, W]
        feat = self.convs(img)  # [N, C', H', W']
        out = self.linear(feat.flatten(1))  # [N, C' * H' * W'] -> [N, out_dim]
        return out.reshape(*lead, self.out_dim)  # [N, out_dim] -> [*, out_dim]
