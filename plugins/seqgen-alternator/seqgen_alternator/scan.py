"""The alternator's feature recurrence as a linear scan, parallel over time.

With every ``x_t`` known, the feature update of Algorithm 1 (Rezaei & Dieng, TMLR 2025)

    z_t = b_t z_{t−1} + u_t,    b_t = √(1 − α_t − σ_z²),    u_t = √α_t g_φ(x_t) + σ_z ε_t

is linear in ``z`` with decays that do not depend on the data, so it has the closed form

    z_t = (Π_{j=1}^{t} b_j) z_0 + Σ_{k=1}^{t} (Π_{j=k+1}^{t} b_j) u_k .

:func:`linear_scan` evaluates it chunk by chunk: inside a chunk of ``C`` steps the sums are one
matrix product with the lower-triangular ``L[t, k] = exp(S_t − S_k)`` (``S_t = Σ_{j≤t} log b_j``,
so every exponent is ≤ 0 and nothing over- or underflows, unlike dividing by cumulative
products), and the last state of each chunk carries into the next. That is ``⌈T / C⌉``
sequential steps instead of ``T``, each a handful of batched kernels, and it differentiates
like any matrix product. :func:`linear_scan_loop` is the plain per-step recurrence, the
reference the tests compare against.

Shapes: ``u: [N, T, D]``, ``decay: [T]`` (all > 0), ``z0: [N, D]`` → ``z: [N, T, D]`` (``z_1 … z_T``).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch

from seqgen import ShapeError

__all__ = ["CHUNK", "ScanPlan", "scan_plan", "linear_scan", "linear_scan_loop", "decay_matrix"]

CHUNK = 256  # steps per chunk: a [C, C] matrix per chunk, ⌈T / C⌉ sequential carries

ScanPlan = List[Tuple[torch.Tensor, torch.Tensor]]
"""Per chunk ``(L: [C, C], from_start: [C])``: everything the scan needs that depends only on the decays."""


def _check(u: torch.Tensor, decay: torch.Tensor, z0: torch.Tensor) -> None:
    if u.dim() != 3:
        raise ShapeError("u", "[N, T, D]", tuple(u.shape), "pass one input vector per path and step")
    n, t, d = u.shape
    if tuple(decay.shape) != (t,):
        raise ShapeError("decay", f"[T={t}]", tuple(decay.shape), "give one decay per step")
    if tuple(z0.shape) != (n, d):
        raise ShapeError("z0", f"[N={n}, D={d}]", tuple(z0.shape), "give one initial state per path")


def decay_matrix(log_decay: torch.Tensor) -> torch.Tensor:
    """``L[t, k] = Π_{j=k+1}^{t} b_j`` for ``k ≤ t`` and 0 above the diagonal: ``[C] → [C, C]``.

    ``log_decay: [C]`` holds ``log b_j`` of the chunk's steps (0-based within the chunk).
    """
    s = log_decay.cumsum(0)  # [C]  S_t
    diff = s[:, None] - s[None, :]  # [C, C]  S_t − S_k
    upper = torch.ones_like(diff, dtype=torch.bool).triu(1)  # k > t
    return diff.masked_fill(upper, float("-inf")).exp()  # exp(−inf) = 0 above the diagonal


def scan_plan(decay: torch.Tensor, *, chunk: int = CHUNK) -> ScanPlan:
    """The chunk matrices for ``decay: [T]``; a model caches them, since its decays are fixed."""
    log_decay = decay.log()  # [T]
    plan = []
    for start in range(0, decay.shape[0], chunk):
        ld = log_decay[start : start + chunk]  # [C]
        plan.append((decay_matrix(ld), ld.cumsum(0).exp()))  # from_start[t] = Π_{j ≤ t} b_j within the chunk
    return plan


def linear_scan(u: torch.Tensor, decay: torch.Tensor, z0: torch.Tensor, *, chunk: int = CHUNK, plan: Optional[ScanPlan] = None) -> torch.Tensor:
    """``z_t = decay_t z_{t−1} + u_t`` for ``t = 1 … T`` from ``z0``, ``⌈T / chunk⌉`` sequential steps.

    u: ``[N, T, D]``, decay: ``[T]`` positive, z0: ``[N, D]`` → ``[N, T, D]``. ``plan``: the
    precomputed :func:`scan_plan` of ``decay`` (with the same ``chunk``), if the caller has it.
    """
    _check(u, decay, z0)
    plan = scan_plan(decay.to(u.dtype), chunk=chunk) if plan is None else plan
    out, carry, start = [], z0, 0
    for mat, from_start in plan:
        size = mat.shape[0]
        z = torch.matmul(mat, u[:, start : start + size]) + from_start[None, :, None] * carry[:, None, :]  # [N, C, D]
        out.append(z)
        carry, start = z[:, -1], start + size
    return out[0] if len(out) == 1 else torch.cat(out, dim=1)


def linear_scan_loop(u: torch.Tensor, decay: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
    """The same recurrence one step at a time (the reference): ``[N, T, D]``."""
    _check(u, decay, z0)
    z, out = z0, []
    for t in range(u.shape[1]):
        z = decay[t].to(u.dtype) * z + u[:, t]  # [N, D]
        out.append(z)
    return torch.stack(out, dim=1)
