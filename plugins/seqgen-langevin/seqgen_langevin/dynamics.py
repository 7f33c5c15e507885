"""The Neural Langevin Machine's energy, drift, sampler and learning statistics as tensor functions.

Yu, Huang & Huang, "Neural Langevin Machine: a local asymmetric learning rule can be creative"
(arXiv:2506.23546, 2025). For a state ``x ∈ R^N`` (pre-activations), rates ``φ(x) = tanh(x)``,
dense asymmetric couplings ``J: [N, N]`` (``J_ij``: from neuron ``j`` to neuron ``i``) and bias ``b: [N]``:

    h(x)   = J φ(x) + b                                   local field
    r(x)   = x − h(x)                                     residual
    E(x)   = ½ ‖r(x)‖²                                    energy; P(x) ∝ exp(−E(x)/T)
    −∇E(x) = −r(x) + φ′(x) ⊙ Jᵀ r(x),   φ′ = 1 − φ²       drift (two matrix products)
    x_{t+1} = x_t − Δt ∇E(x_t) + √(2TΔt) ξ_t,  ξ_t ~ N(0, I)   Euler–Maruyama

Maximum likelihood for ``P ∝ e^{−E/T}`` gives the local, asymmetric rule (ascent directions)

    ΔJ_ij = (1/T) (⟨r_i φ(x_j)⟩_data − ⟨r_i φ(x_j)⟩_model),   Δb_i = (1/T) (⟨r_i⟩_data − ⟨r_i⟩_model).

Shapes are batch-first: states ``x: [*, N]`` (rows are independent chains or samples), so in
row form ``h = φ(x) Jᵀ + b`` and ``(Jᵀ r)`` is ``r J``. ``b`` may be ``None`` (no bias).

Every function runs in the dtype of its tensors even under ``torch.autocast`` (TrainConfig
``precision='bf16'``): a chain adds up thousands of steps of size ``Δt``, which bf16's 8
significant bits would round away, and the rule's statistics are differences of two averages.
"""

from __future__ import annotations

import functools
import math
from typing import Optional, Sequence, Tuple

import attrs
import torch

import seqgen

__all__ = [
    "local_field",
    "energy",
    "drift",
    "langevin_",
    "contrastive_statistics",
    "ContrastiveStatistics",
    "gaussian_log_density",
]


def _own_precision(fn):
    """``fn`` with autocast turned off on the device of its first argument (see the module docstring)."""

    @functools.wraps(fn)
    def run(x: torch.Tensor, *args, **kwargs):
        with seqgen.autocast_off(x.device):
            return fn(x, *args, **kwargs)

    return run


@_own_precision
def local_field(x: torch.Tensor, J: torch.Tensor, b: Optional[torch.Tensor]) -> torch.Tensor:
    """``h = J φ(x) + b``: ``x: [*, N] -> [*, N]``."""
    h = torch.tanh(x) @ J.t()  # [*, N]
    return h if b is None else h + b


@_own_precision
def energy(x: torch.Tensor, J: torch.Tensor, b: Optional[torch.Tensor]) -> torch.Tensor:
    """``E(x) = ½‖x − Jφ(x) − b‖²``: ``x: [*, N] -> [*]`` (differentiable)."""
    return 0.5 * (x - local_field(x, J, b)).pow(2).sum(-1)


@_own_precision
def drift(x: torch.Tensor, J: torch.Tensor, b: Optional[torch.Tensor]) -> torch.Tensor:
    """``−∇E(x) = −r + φ′(x) ⊙ Jᵀ r`` in closed form, ``r = x − h``: ``x: [*, N] -> [*, N]``.

    Differentiable in ``x``, ``J`` and ``b`` (used by the per-step interface and ``log_prob``).
    """
    phi = torch.tanh(x)
    h = phi @ J.t()
    r = x - (h if b is None else h + b)  # [*, N]
    return (1 - phi * phi) * (r @ J) - r  # (r @ J)_k = Σ_i r_i J_ik = (Jᵀ r)_k


def gaussian_log_density(value: torch.Tensor, loc: torch.Tensor, scale: float) -> torch.Tensor:
    """``log N(value; loc, scale² I)`` summed over the last dim: ``[*, N] -> [*]``."""
    n = value.shape[-1]
    z = (value - loc) / scale
    return -0.5 * z.pow(2).sum(-1) - n * (math.log(scale) + 0.5 * math.log(2 * math.pi))


@_own_precision
@torch.no_grad()
def langevin_(
    x: torch.Tensor,
    J: torch.Tensor,
    b: Optional[torch.Tensor],
    *,
    dt: float,
    temperature: float,
    num_steps: int,
    record_at: Sequence[int] = (),
    trace_neurons: Optional[torch.Tensor] = None,
) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Advance the chains ``x: [B, N]`` by ``num_steps`` Euler–Maruyama steps, **in place**.

    ``temperature = 0`` drops the noise: ``x ← x − Δt∇E(x)`` descends to a fixed point ``x = Jφ(x) + b``.

    One step is two ``[B, N] × [N, N]`` products (``torch.addmm`` for ``h``, ``torch.mm`` for
    ``Jᵀ r``) and a handful of in-place element-wise passes into four preallocated ``[B, N]``
    buffers; noise comes from torch's global generator (so a seed fixes the run).

    record_at:     steps whose states to copy (``0`` = before the first step, ``num_steps`` = the
                   end); returns them as ``snapshots: [len(record_at), B, N]`` in the order given.
                   Only these are kept, never the whole ``[steps, B, N]`` trajectory.
    trace_neurons: long indices ``[k]``; returns ``traces: [num_steps + 1, B, k]``, their states at
                   every step (a single neuron's activity over time costs ``steps × B`` numbers).
    Returns ``(snapshots or None, traces or None)``.
    """
    record_at = [int(s) for s in record_at]
    wanted = set(record_at)
    kept = {}
    traces = [] if trace_neurons is None else [x[:, trace_neurons].clone()]
    if 0 in wanted:
        kept[0] = x.clone()
    std = math.sqrt(2.0 * temperature * dt)
    J_t = J.t()  # a view; BLAS reads it transposed
    phi, r, back, noise = (torch.empty_like(x) for _ in range(4))  # [B, N] each
    for step in range(1, num_steps + 1):
        torch.tanh(x, out=phi)
        if b is None:
            torch.mm(phi, J_t, out=r)
        else:
            torch.addmm(b, phi, J_t, out=r)  # h = φ Jᵀ + b
        torch.sub(x, r, out=r)  # r = x − h
        torch.mm(r, J, out=back)  # Jᵀ r (row form)
        phi.mul_(phi)  # φ²
        back.addcmul_(phi, back, value=-1.0)  # φ′ ⊙ Jᵀ r, with φ′ = 1 − φ²
        back.sub_(r)  # −∇E
        x.add_(back, alpha=dt)
        if std > 0:  # temperature 0: plain gradient descent on E, relaxing to a fixed point
            x.add_(noise.normal_(), alpha=std)
        if step in wanted:
            kept[step] = x.clone()
        if trace_neurons is not None:
            traces.append(x[:, trace_neurons].clone())
    snapshots = torch.stack([kept[s] for s in record_at]) if record_at else None
    return snapshots, (torch.stack(traces) if trace_neurons is not None else None)


@attrs.frozen
class ContrastiveStatistics:
    """The learning rule's statistics for one update (ascent directions, divided by ``T``).

    delta_J:       ``[N, N]`` ``(1/T)(⟨r φᵀ⟩_data − ⟨r φᵀ⟩_model)``
    delta_b:       ``[N]`` ``(1/T)(⟨r⟩_data − ⟨r⟩_model)``
    energy_data:   scalar ``⟨E⟩_data / T`` (per sample)
    energy_model:  scalar ``⟨E⟩_model / T`` (per chain)
    """

    delta_J: torch.Tensor
    delta_b: torch.Tensor
    energy_data: torch.Tensor
    energy_model: torch.Tensor


@_own_precision
def _residual(x: torch.Tensor, J: torch.Tensor, b: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(r, φ)`` for ``x: [M, N]``, each ``[M, N]`` (one ``addmm``)."""
    phi = torch.tanh(x)
    h = torch.mm(phi, J.t()) if b is None else torch.addmm(b, phi, J.t())
    return h.neg_().add_(x), phi  # r = x − h, written into h's buffer


@_own_precision
@torch.no_grad()
def contrastive_statistics(
    x_data: torch.Tensor,
    x_model: torch.Tensor,
    J: torch.Tensor,
    b: Optional[torch.Tensor],
    *,
    temperature: float,
) -> ContrastiveStatistics:
    """The rule's ascent statistics from data ``x_data: [M, N]`` and chains ``x_model: [B, N]``.

    Four products in all: one ``[M, N] × [N, N]`` and one ``[N, M] × [M, N]`` for the data, the
    same for the model, the second accumulated into the first by ``addmm_``.
    """
    r_d, phi_d = _residual(x_data, J, b)  # [M, N]
    r_m, phi_m = _residual(x_model, J, b)  # [B, N]
    m, n_chains = x_data.shape[0], x_model.shape[0]
    delta_J = torch.mm(r_d.t(), phi_d).div_(temperature * m)  # [N, N]: (i, j) = ⟨r_i φ_j⟩_data / T
    delta_J.addmm_(r_m.t(), phi_m, alpha=-1.0 / (temperature * n_chains))
    delta_b = (r_d.mean(0) - r_m.mean(0)) / temperature  # [N]
    e_d = 0.5 * r_d.pow(2).sum(1).mean() / temperature
    e_m = 0.5 * r_m.pow(2).sum(1).mean() / temperature
    return ContrastiveStatistics(delta_J=delta_J, delta_b=delta_b, energy_data=e_d, energy_model=e_m)
