"""The alternator's two networks: defaults, and the check that user-supplied ones fit.

- observation trajectory network (OTN) ``f_θ: z → x``, ``[*, z_dim] → [*, obs_dim]``
- feature trajectory network (FTN)     ``g_φ: x → z``, ``[*, obs_dim] → [*, z_dim]``

Any ``nn.Module`` that maps the last dim pointwise over leading dims can serve (a seqgen
:class:`~seqgen.MLP`, an :class:`~seqgen.MLPEncoder`, a residual network, …): the parallel
training path calls each network once on a whole ``[paths, time, dim]`` grid, so a network must
treat every ``(path, step)`` row on its own. The defaults are MLPs with ``config.hidden`` layers.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from seqgen import MLP, ConfigError, ShapeError

__all__ = ["default_components", "check_network"]


def default_components(config) -> Mapping[str, nn.Module]:
    """``{'observation_net': MLP(z_dim → obs_dim), 'feature_net': MLP(obs_dim → z_dim)}``."""
    return {
        "observation_net": MLP(config.z_dim, config.obs_dim, hidden=config.hidden, activation=config.activation),
        "feature_net": MLP(config.obs_dim, config.z_dim, hidden=config.hidden, activation=config.activation),
    }


def check_network(name: str, net, in_dim: int, out_dim: int, role: str) -> nn.Module:
    """Raise ConfigError (not a module) or ShapeError (wrong widths) unless ``net`` maps
    ``[2, in_dim] → [2, out_dim]``; declared widths (``in_dim``/``obs_shape``, ``out_dim``) are
    read first so the message names them, then one probe call settles any other module."""
    if not isinstance(net, nn.Module):
        raise ConfigError(name, f"{name}: expected a torch.nn.Module ({role}), got {type(net).__name__}", f"pass e.g. seqgen.MLP({in_dim}, {out_dim}, hidden=(64, 64))")
    declared_in = getattr(net, "in_dim", None)
    if declared_in is None and getattr(net, "obs_shape", None) is not None:
        shape = tuple(net.obs_shape)
        declared_in = shape[0] if len(shape) == 1 else shape
    if declared_in is not None and declared_in != in_dim:
        raise ShapeError(name, f"in_dim={in_dim} ({role})", f"in_dim={declared_in}", f"build {name} to read {in_dim} features")
    declared_out = getattr(net, "out_dim", None)
    if declared_out is not None and declared_out != out_dim:
        raise ShapeError(name, f"out_dim={out_dim} ({role})", f"out_dim={declared_out}", f"build {name} to write {out_dim} features")
    ref = next((p for p in net.parameters() if p.is_floating_point()), None)
    probe = torch.zeros(2, in_dim, dtype=ref.dtype if ref is not None else torch.get_default_dtype(), device=ref.device if ref is not None else None)
    try:
        with torch.no_grad():
            out = net(probe)
    except Exception as e:  # any failure of a probe call means the widths do not fit
        raise ShapeError(name, f"a map [*, {in_dim}] -> [*, {out_dim}] ({role})", f"a module that fails on [2, {in_dim}] ({type(e).__name__}: {e})", f"build {name} to read {in_dim} features") from e
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, out_dim):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ShapeError(name, f"output [2, {out_dim}] for input [2, {in_dim}] ({role})", got, f"build {name} to write {out_dim} features per row")
    return net
