"""``ZChain``: the SRNN's ``z`` loop with its adjoint written out by hand (the one loop over time).

Forward, for ``t = 0 … T-1`` with ``z_{-1} = 0`` (see :mod:`seqgen_srnn.transition` for the weights)::

    h_t = relu(pre_t + z_{t-1} W_z)                 [N, 2h]   (pre_t = W_pd d_t + b_p ‖ W_qa a_t + b_q)
    o_t = h_t W_o + b_o                             [N, 4Z]   = [μ^p, s^p, μ^q, s^q]
    z_t = μ^q_t + (softplus(s^q_t) + min_scale) ε_t [N, Z]

Backward, from ``∂L/∂o_t`` and ``∂L/∂z_t`` (``δ`` = total derivative), for ``t = T-1 … 0``::

    δz_t  = ∂L/∂z_t + δh_{t+1} W_zᵀ
    δo_t  = ∂L/∂o_t + [0, 0, δz_t, δz_t ⊙ ε_t ⊙ sigmoid(s^q_t)]
    δh_t  = (δo_t W_oᵀ) ⊙ [h_t > 0]

Only the ``μ^q, s^q`` half of ``δo_t`` depends on the loop, so ``(∂L/∂o^p_t) W_oᵀ`` (the ``μ^p, s^p``
half's share of ``δh``) is one matmul over all steps before it, and a step is four ops: one
``addcmul`` for ``δo^q_t``, an ``addmm`` and a ReLU mask for ``δh_t``, an ``addmm`` for ``δz_{t-1}``.
Then, over all steps at once, ``∂L/∂pre = δh``, ``∂L/∂W_z = Σ_t z_{t-1}ᵀ δh_t``,
``∂L/∂W_o = Σ_t h_tᵀ δo_t``, ``∂L/∂b_o = Σ_t δo_t`` (one matmul each).

Autograd through the same loop records ~10 nodes a step and accumulates weight gradients one
step at a time; here the forward is six small ops a step writing into buffers allocated once.
A test checks it against autograd with ``torch.autograd.gradcheck`` (double precision). On the CPU in
float32/float64 both loops run as one compiled operator call each (``csrc/loops.cpp``, see
:mod:`seqgen_srnn._loops`); elsewhere the Python loops below run, computing the same values.
Shapes are time-major: ``[time, N, …]``.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from . import _loops

__all__ = ["ZChain"]


class ZChain(torch.autograd.Function):
    """The ``z`` loop: ``(pre: [T, N, 2h], eps: [T, N, Z], w_z: [Z, 2h], w_o: [2h, 4Z], b_o: [4Z],
    min_scale) -> (o: [T, N, 4Z] = [μ^p, s^p, μ^q, s^q], z: [T, N, Z])`` with ``z_{-1} = 0``."""

    @staticmethod
    def forward(ctx, pre, eps, w_z, w_o, b_o, min_scale: float) -> Tuple[torch.Tensor, torch.Tensor]:
        time, n, _ = pre.shape
        zd = eps.shape[-1]
        # [T, N, 2h]: h_t, starting as pre_t and accumulated in place below. One copy of the whole
        # sequence: addmm(pre_t, …, out=h_t) would copy pre_t at every step (~20 µs each on CPU).
        # pre may come in autocast's dtype: the one copy also casts it to the weights' dtype.
        hidden = pre.to(w_z.dtype, memory_format=torch.contiguous_format, copy=True)
        out = hidden.new_empty(time, n, 4 * zd)  # [T, N, 4Z]: o_t
        eps = eps.to(w_z.dtype, memory_format=torch.contiguous_format)
        zs = torch.empty_like(eps)
        w_z_c = w_z.contiguous()  # read 50 times: small products run faster on contiguous operands
        loops = _loops.for_tensors(hidden, eps, w_z, w_o, b_o)
        if loops is not None:  # the same loop as one compiled call (see _loops.py)
            loops.zchain_forward(hidden, out, zs, eps, w_z_c, w_o, b_o.contiguous(), float(min_scale))
        else:
            z = eps.new_zeros(n, zd)
            views = (hidden, out, out[..., 2 * zd : 3 * zd], out[..., 3 * zd :], eps, zs)
            for h_t, o_t, mu_q, s_q, eps_t, z_t in zip(*(v.unbind(0) for v in views)):
                h = h_t.addmm_(z, w_z_c).relu_()  # [N, 2h]: relu(pre_t + z_{t-1} W_z)
                torch.addmm(b_o, h, w_o, out=o_t)  # [N, 4Z]
                z = torch.addcmul(mu_q, F.softplus(s_q.contiguous()).add_(min_scale), eps_t, out=z_t)  # [N, Z] (softplus of a strided view is slow)
        ctx.pre_dtype = pre.dtype
        ctx.save_for_backward(eps, w_z, w_o, hidden, out, zs)
        return out, zs

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_o, grad_z):
        eps, w_z, w_o, hidden, out, zs = ctx.saved_tensors
        time, n, zd = zs.shape
        rows = time * n
        # δo_t = ∂L/∂o_t + [0, 0, δz_t, δz_t ⊙ ε_t σ(s^q_t)]: only its μ^q, s^q half meets the loop.
        # k_t = [1, ε_t σ(s^q_t)] turns δz_t into that half's z-path term; the μ^p, s^p half's share of
        # δh, (∂L/∂o^p) W_oᵀ, is one matmul over all steps before the loop.
        k = torch.stack([torch.ones_like(eps), eps * torch.sigmoid(out[..., 3 * zd :])], dim=2)  # [T, N, 2, Z]
        grad_o = grad_o.expand(time, n, 4 * zd)
        d_oq = grad_o[..., 2 * zd :].unflatten(-1, (2, zd)).clone(memory_format=torch.contiguous_format)  # [T, N, 2, Z]
        d_h = (grad_o[..., : 2 * zd].reshape(rows, 2 * zd) @ w_o[:, : 2 * zd].t()).view(time, n, -1)  # [T, N, 2h]
        w_oq_t, w_z_t = w_o[:, 2 * zd :].t().contiguous(), w_z.t().contiguous()  # the step products read them 50 times
        loops = _loops.for_tensors(d_oq, d_h, grad_z, hidden, w_o, w_z)
        if loops is not None:  # the same loop as one compiled call (see _loops.py)
            loops.zchain_backward(d_oq, d_h, grad_z.contiguous(), k, hidden, w_oq_t, w_z_t)
        else:
            active = hidden > 0  # ReLU's derivative
            gz_s, k_s, doq_s, dh_s, act_s = (v.unbind(0) for v in (grad_z, k, d_oq, d_h, active))
            gz = gz_s[time - 1]  # δz_{T-1}
            for t in range(time - 1, -1, -1):
                d_oq_t = doq_s[t].addcmul_(gz.unsqueeze(1), k_s[t])  # δ[μ^q, s^q]_t: [N, 2, Z]
                dh = dh_s[t].addmm_(d_oq_t.view(n, 2 * zd), w_oq_t).mul_(act_s[t])  # δh_t: [N, 2h]
                if t > 0:
                    gz = torch.addmm(gz_s[t - 1], dh, w_z_t)  # δz_{t-1} = ∂L/∂z_{t-1} + δh_t W_zᵀ
        d_o2 = torch.cat([grad_o[..., : 2 * zd].reshape(rows, 2 * zd), d_oq.view(rows, 2 * zd)], dim=1)  # [T·N, 4Z]
        d_h2 = d_h.view(rows, -1)
        d_w_z = zs[:-1].reshape(-1, zd).t() @ d_h2[n:]  # Σ_t z_{t-1}ᵀ δh_t (z_{-1} = 0 adds nothing)
        d_w_o = hidden.view(rows, -1).t() @ d_o2
        return d_h.to(ctx.pre_dtype), None, d_w_z, d_w_o, d_o2.sum(0), None
