"""``ZChain``: the SRNN's ``z`` loop with its adjoint written out by hand (the one loop over time).

Forward, for ``t = 0 … T-1`` with ``z_{-1} = 0`` (see :mod:`seqgen_srnn.transition` for the weights)::

    h_t = relu(pre_t + z_{t-1} W_z)                 [N, 2h]   (pre_t = W_pd d_t + b_p ‖ W_qa a_t + b_q)
    o_t = h_t W_o + b_o                             [N, 4Z]   = [μ^p, s^p, μ^q, s^q]
    z_t = μ^q_t + (softplus(s^q_t) + min_scale) ε_t [N, Z]

Backward, from ``∂L/∂o_t`` and ``∂L/∂z_t`` (``δ`` = total derivative), for ``t = T-1 … 0``::

    δz_t  = ∂L/∂z_t + δh_{t+1} W_zᵀ
    δo_t  = ∂L/∂o_t + [0, 0, δz_t, δz_t ⊙ ε_t ⊙ sigmoid(s^q_t)]
    δh_t  = (δo_t W_oᵀ) ⊙ [h_t > 0]

and then, over all steps at once, ``∂L/∂pre = δh``, ``∂L/∂W_z = Σ_t z_{t-1}ᵀ δh_t``,
``∂L/∂W_o = Σ_t h_tᵀ δo_t``, ``∂L/∂b_o = Σ_t δo_t`` (one matmul each).

Autograd through the same loop records ~10 nodes a step and accumulates weight gradients one
step at a time; this does six small ops a step each way and writes into buffers allocated once.
A test checks it against autograd with ``torch.autograd.gradcheck`` (double precision).
Shapes are time-major: ``[time, N, …]``.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F

__all__ = ["ZChain"]


class ZChain(torch.autograd.Function):
    """The ``z`` loop: ``(pre: [T, N, 2h], eps: [T, N, Z], w_z: [Z, 2h], w_o: [2h, 4Z], b_o: [4Z],
    min_scale) -> (o: [T, N, 4Z] = [μ^p, s^p, μ^q, s^q], z: [T, N, Z])`` with ``z_{-1} = 0``."""

    @staticmethod
    def forward(ctx, pre, eps, w_z, w_o, b_o, min_scale: float) -> Tuple[torch.Tensor, torch.Tensor]:
        time, n, _ = pre.shape
        zd = eps.shape[-1]
        hidden = pre.clone(memory_format=torch.contiguous_format)  # [T, N, 2h]: pre_t, then h_t in place
        out = b_o.expand(time, n, 4 * zd).clone()  # [T, N, 4Z]: b_o, then o_t in place
        zs = torch.empty_like(eps)
        z = eps.new_zeros(n, zd)
        for h, o, z_t, eps_t in zip(hidden.unbind(0), out.unbind(0), zs.unbind(0), eps.unbind(0)):
            h.addmm_(z, w_z).relu_()
            o.addmm_(h, w_o)
            scale = F.softplus(o[:, 3 * zd :]).add_(min_scale)
            z = torch.addcmul(o[:, 2 * zd : 3 * zd], scale, eps_t, out=z_t)
        ctx.save_for_backward(eps, w_z, w_o, hidden, out, zs)
        return out, zs

    @staticmethod
    def backward(ctx, grad_o, grad_z):
        eps, w_z, w_o, hidden, out, zs = ctx.saved_tensors
        time, n, zd = zs.shape
        d_scale_raw = eps * torch.sigmoid(out[..., 3 * zd :])  # ∂z_t/∂s^q_t = ε_t σ(s^q_t)
        active = (hidden > 0).to(hidden.dtype)  # ReLU's derivative
        d_o = grad_o.clone(memory_format=torch.contiguous_format)  # [T, N, 4Z]; the z-path is added below
        d_h = torch.empty_like(hidden)
        w_o_t, w_z_t = w_o.t(), w_z.t()
        carry = zs.new_zeros(n, zd)
        do_steps, dh_steps = d_o.unbind(0), d_h.unbind(0)
        gz_steps, ds_steps, act_steps = grad_z.unbind(0), d_scale_raw.unbind(0), active.unbind(0)
        for t in range(time - 1, -1, -1):
            gz = gz_steps[t] + carry  # δz_t: [N, Z]
            do = do_steps[t]
            do[:, 2 * zd : 3 * zd].add_(gz)
            do[:, 3 * zd :].addcmul_(gz, ds_steps[t])
            dh = torch.mm(do, w_o_t, out=dh_steps[t]).mul_(act_steps[t])  # [N, 2h]
            carry = dh @ w_z_t  # δz_{t-1} through step t's hidden layer
        z_prev = torch.cat([zs.new_zeros(1, n, zd), zs[:-1]], dim=0).view(time * n, zd)
        d_h2 = d_h.view(time * n, -1)
        d_o2 = d_o.view(time * n, -1)
        d_w_z = z_prev.t() @ d_h2
        d_w_o = hidden.view(time * n, -1).t() @ d_o2
        return d_h, None, d_w_z, d_w_o, d_o2.sum(0), None
