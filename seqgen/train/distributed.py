"""Training on several processes with ``torch.distributed`` (``torchrun``).

When ``torchrun`` (or any launcher) sets ``WORLD_SIZE > 1``, ``RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``, :func:`setup_distributed` initialises the default process group (``gloo`` on
CPU, ``nccl`` on CUDA) unless the caller already did. Every process reads its own shard of
each epoch (``DistributedSampler``), and gradients are averaged **weighted by observed steps**,
so the update equals the single-process update on the union of the shards:

    g = Σ_r (n_r / N) ∇L_r,     N = Σ_r n_r

where ``L_r`` is rank r's per-observed-step loss over its ``n_r`` observed steps. For a
``GradientObjective`` the model runs inside ``DistributedDataParallel`` (which averages,
``(1/W) Σ_r``), so each rank's loss is scaled by ``W n_r / N`` first; phase gradients and
local-rule directions are all-reduced by :func:`reduce_grads`. Metrics are reduced the same
way (sums weighted by ``n_r``), and only rank 0 logs and writes files.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional

import attrs
import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistContext", "setup_distributed", "env_local_rank", "LossModule", "reduce_grads"]


@attrs.frozen
class DistContext:
    """This process's place in the job. ``enabled`` is False for a plain single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_(self, t: torch.Tensor) -> torch.Tensor:
        """Sum ``t`` over processes in place (a no-op on one process)."""
        if self.enabled:
            dist.all_reduce(t)
        return t

    def all_reduce_max_(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return t

    def gather_objects(self, obj: Any) -> List[Any]:
        """Every process's ``obj`` in rank order (``[obj]`` on one process). In-memory only."""
        if not self.enabled:
            return [obj]
        out: List[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def _env_int(name: str) -> Optional[int]:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else None


def env_local_rank() -> int:
    """This process's GPU index under torchrun (``LOCAL_RANK``), 0 otherwise."""
    return _env_int("LOCAL_RANK") or 0


def setup_distributed(device_type: str) -> DistContext:
    """Join the process group named by the environment, or return a single-process context.

    ``device_type`` (``'cpu'``/``'cuda'``) picks the backend when this call initialises the group.
    A group the caller initialised is used as it is.
    """
    if not dist.is_available():
        return DistContext()
    if dist.is_initialized():
        world = dist.get_world_size()
        local = _env_int("LOCAL_RANK") or 0
        return DistContext(rank=dist.get_rank(), world_size=world, local_rank=local, enabled=world > 1)
    world = _env_int("WORLD_SIZE")
    rank = _env_int("RANK")
    if world is None or world <= 1 or rank is None or "MASTER_ADDR" not in os.environ:
        return DistContext()
    local = _env_int("LOCAL_RANK") or 0
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(local)
    dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistContext(rank=rank, world_size=world, local_rank=local, enabled=True)


class LossModule(nn.Module):
    """Wraps a model and its ``loss_fn`` so ``DistributedDataParallel`` sees the call.

    ``forward(batch, kl_weight) -> (loss, metrics, terms)``: plain containers of tensors, so
    DDP can find the outputs (its ``find_unused_parameters`` walks tuples and dicts, not attrs
    classes). The model's parameters are this module's parameters.
    """

    def __init__(self, model: nn.Module, loss_fn):
        super().__init__()
        self.model = model
        self._loss_fn = loss_fn

    def forward(self, batch, kl_weight: float):
        out = self._loss_fn(batch, kl_weight)
        return out.loss, dict(out.metrics), dict(out.terms)


def reduce_grads(params: Iterable[nn.Parameter], weight: Optional[torch.Tensor], ctx: DistContext) -> None:
    """``p.grad <- Σ_r weight_r · p.grad_r`` (``weight=None``: plain sum) for every parameter with a gradient.

    One all-reduce per dtype over the flattened gradients. Every process must hold gradients for
    the same parameters (they run the same code on the same model).
    """
    if not ctx.enabled:
        return
    by_dtype: Dict[torch.dtype, list] = {}
    for p in params:
        if p.grad is not None:
            by_dtype.setdefault(p.grad.dtype, []).append(p.grad)
    for grads in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in grads])  # [total numel]
        if weight is not None:
            flat = flat * weight.to(flat.dtype)
        dist.all_reduce(flat)
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n
