"""Pixels to network states and back (the data map of Yu, Huang & Huang 2025).

A grey-level image ``p ∈ [0, 1]^N`` becomes a state ``x ∈ R^N`` by one of two maps:

    'atanh':   x = atanh(clip(2p − 1, −c, c))     (c = 0.97 by default; x ∈ [−2.09, 2.09])
    'linear':  x = 2p − 1                          (x ∈ [−1, 1])

and a state is shown as an image by the inverse read through the rates ``φ = tanh``:
``p = (tanh(x) + 1) / 2`` for ``'atanh'``, ``p = (clamp(x, −1, 1) + 1) / 2`` for ``'linear'``.
"""

from __future__ import annotations

import torch

import seqgen

__all__ = ["images_to_states", "states_to_images"]


def _flat_pixels(images: torch.Tensor, num_neurons: int, argument: str) -> torch.Tensor:
    """``[n, H, W]`` or ``[n, N]`` -> ``[n, N]``, or ShapeError naming the sizes."""
    if not isinstance(images, torch.Tensor):
        raise seqgen.DataError(argument, f"expected a torch.Tensor, got {type(images).__name__}", "convert with torch.as_tensor")
    per_image = images[0].numel() if images.dim() in (2, 3) and len(images) else None
    if per_image != num_neurons:
        fix = f"resize the images to {num_neurons} pixels"
        if per_image:
            fix += f", or build the model with num_neurons={per_image}"
        want = f"[n>0, H, W] or [n>0, {num_neurons}] with H·W = num_neurons = {num_neurons}"
        raise seqgen.ShapeError(argument, want, tuple(images.shape), fix)
    return images.reshape(images.shape[0], num_neurons)


def images_to_states(images: torch.Tensor, *, num_neurons: int, data_map: str = "atanh", clip: float = 0.97) -> torch.Tensor:
    """Map grey levels ``images: [n, H, W]`` or ``[n, N]`` (floats in ``[0, 1]``) to states ``[n, N]``.

    Raises ShapeError for a pixel count other than ``num_neurons`` and DataError for values
    outside ``[0, 1]`` (e.g. raw ``uint8`` images: divide by 255 first) or NaN.
    """
    p = _flat_pixels(images, num_neurons, "images")
    if not p.is_floating_point():
        raise seqgen.DataError("images", f"expected floats in [0, 1], got dtype {p.dtype}", "pass images.float() / 255 for uint8 pixels")
    if not torch.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        lo, hi = float(p.min()), float(p.max())
        raise seqgen.DataError("images", f"expected finite values in [0, 1], got range [{lo:g}, {hi:g}]", "scale pixels to [0, 1] (divide uint8 images by 255)")
    s = 2.0 * p - 1.0  # [n, N] in [−1, 1]
    if data_map == "linear":
        return s
    if data_map == "atanh":
        return torch.atanh(s.clamp(-clip, clip))
    raise seqgen.ConfigError("data_map", f"'data_map' must be one of 'atanh', 'linear' (got {data_map!r})")


def states_to_images(x: torch.Tensor, *, data_map: str = "atanh") -> torch.Tensor:
    """Show states ``x: [*, N]`` as grey levels in ``[0, 1]`` (the inverse map, through ``tanh``)."""
    if data_map == "atanh":
        return 0.5 * (torch.tanh(x) + 1.0)
    if data_map == "linear":
        return 0.5 * (x.clamp(-1.0, 1.0) + 1.0)
    raise seqgen.ConfigError("data_map", f"'data_map' must be one of 'atanh', 'linear' (got {data_map!r})")
