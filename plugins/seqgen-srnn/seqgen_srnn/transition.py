"""The SRNN's stochastic layer: prior and posterior of ``z_t``, and the one loop over time.

Fraccaro, Sønderby, Paquet & Winther, "Sequential Neural Models with Stochastic Layers"
(NeurIPS 2016), for ``t = 0 … T-1`` with ``z_{-1} = 0``::

    prior      h^p_t = relu(W_p [d_t, z_{t-1}] + b_p)
               [μ^p_t, s^p_t] = V_p h^p_t + c_p,          σ^p_t = softplus(s^p_t) + min_scale
    posterior  h^q_t = relu(W_q [a_t, z_{t-1}] + b_q)
               [m_t, s^q_t] = V_q h^q_t + c_q,            σ^q_t = softplus(s^q_t) + min_scale
               μ^q_t = μ^p_t + m_t   (Resq)   or   μ^q_t = m_t
    sample     z_t = μ^q_t + σ^q_t ε_t,   ε_t ~ N(0, I)

Everything that does not depend on ``z_{t-1}`` is hoisted out of the loop:
``W_p [d_t, z] = W_pd d_t + W_pz z``, so ``W_pd d_t + b_p`` and ``W_qa a_t + b_q`` are computed for
every step in one matmul each, and the two ``z``-projections share one ``[z_dim, 2 hidden]``
matrix. Both output heads (and, with Resq, the sum ``μ^p + m``, which is linear in ``[h^p, h^q]``)
are one ``[2 hidden, 4 z_dim]`` matrix. One step of the loop is therefore::

    h = relu(pre_t + z_{t-1} W_z)      # [N, 2 hidden]  (one addmm)
    o = h W_o + b_o                     # [N, 4 z_dim] = [μ^p, s^p, μ^q, s^q]  (one addmm)
    z_t = μ^q + (softplus(s^q) + min_scale) ε_t

The loop itself, with its hand-written backward, is :class:`~seqgen_srnn.fused.ZChain`. Shapes are
time-major here (``[time, N, …]``, ``N`` = sequences × particles) so that each step reads a
contiguous slice.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

import torch
import torch.nn.functional as F
from torch import nn

import seqgen

from .fused import ZChain

__all__ = ["Transition", "Chain"]


class Chain(NamedTuple):
    """A sampled ``z`` chain with the prior and posterior that produced it, each ``[time, N, z_dim]``."""

    z: torch.Tensor
    prior_loc: torch.Tensor
    prior_scale: torch.Tensor
    post_loc: torch.Tensor
    post_scale: torch.Tensor


class Transition(nn.Module):
    """``p(z_t | z_{t-1}, d_t)`` and ``q(z_t | z_{t-1}, a_t)`` (see the module docstring).

    ``prior``/``posterior`` are the plain per-step forms (any leading dims); ``sample_chain`` is the
    fused loop used for training and evaluation; ``prior_chain`` is the fused prior for a given
    chain (teacher-forced), sharing ``sample_chain``'s weight layout.
    """

    def __init__(self, d_dim: int, a_dim: int, z_dim: int, hidden: int, *, resq: bool, min_scale: float):
        super().__init__()
        self.d_dim, self.a_dim, self.z_dim, self.hidden = d_dim, a_dim, z_dim, hidden
        self.resq, self.min_scale = resq, min_scale
        self.prior_hidden = nn.Linear(d_dim + z_dim, hidden)  # reads [d_t, z_{t-1}]
        self.prior_out = nn.Linear(hidden, 2 * z_dim)  # -> [μ^p, s^p]
        self.post_hidden = nn.Linear(a_dim + z_dim, hidden)  # reads [a_t, z_{t-1}]
        self.post_out = nn.Linear(hidden, 2 * z_dim)  # -> [m (Δμ with Resq), s^q]

    def _scale(self, raw: torch.Tensor) -> torch.Tensor:
        # contiguous first: raw is usually a column slice of a wider output, and softplus on a
        # strided tensor runs element by element (a [50, 32, 16] slice: ~8x slower than copy + softplus)
        return F.softplus(raw.contiguous()) + self.min_scale

    # ------------------------------------------------------------------ per step (sampling, Pyro)
    def prior(self, d: torch.Tensor, z_prev: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``d: [*, d_dim]``, ``z_prev: [*, z_dim]`` -> ``(μ^p, σ^p)``, each ``[*, z_dim]``."""
        h = F.relu(self.prior_hidden(torch.cat([d, z_prev], dim=-1)))  # [*, hidden]
        loc, raw = self.prior_out(h).chunk(2, dim=-1)
        return loc, self._scale(raw)

    def posterior(self, a: torch.Tensor, z_prev: torch.Tensor, prior_loc: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``a: [*, a_dim]``, ``z_prev: [*, z_dim]``, ``prior_loc = μ^p: [*, z_dim]`` -> ``(μ^q, σ^q)``."""
        h = F.relu(self.post_hidden(torch.cat([a, z_prev], dim=-1)))  # [*, hidden]
        m, raw = self.post_out(h).chunk(2, dim=-1)
        return (prior_loc + m if self.resq else m), self._scale(raw)

    # ------------------------------------------------------------------ fused (training)
    def _z_weights(self) -> torch.Tensor:
        """``W_z = [W_pz; W_qz]^T: [z_dim, 2 hidden]``: both hidden layers' ``z_{t-1}`` columns."""
        return torch.cat([self.prior_hidden.weight[:, self.d_dim :], self.post_hidden.weight[:, self.a_dim :]], dim=0).t()

    def _out_weights(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``W_o: [2 hidden, 4 z_dim]`` and ``b_o: [4 z_dim]`` mapping ``[h^p, h^q]`` to ``[μ^p, s^p, μ^q, s^q]``."""
        z, vp, vq = self.z_dim, self.prior_out.weight, self.post_out.weight  # [2 z_dim, hidden] each
        cp, cq = self.prior_out.bias, self.post_out.bias
        zeros = vp.new_zeros(self.hidden, z)
        mu_from_p = vp[:z].t() if self.resq else zeros  # Resq: μ^q = μ^p + m is linear in h^p too
        top = torch.cat([vp.t(), mu_from_p, zeros], dim=1)  # rows of h^p: [hidden, 4 z_dim]
        bottom = torch.cat([vq.new_zeros(self.hidden, 2 * z), vq.t()], dim=1)  # rows of h^q
        mu_bias = cq[:z] + cp[:z] if self.resq else cq[:z]
        return torch.cat([top, bottom], dim=0), torch.cat([cp, mu_bias, cq[z:]])

    def sample_chain(self, d: torch.Tensor, a: torch.Tensor, eps: torch.Tensor) -> Chain:
        """Run ``z_t ~ q(z_t | z_{t-1}, a_t)`` for all steps, keeping the prior of each step.

        d: ``[time, N, d_dim]``, a: ``[time, N, a_dim]``, eps: ``[time, N, z_dim]`` standard normal
        draws. Returns a :class:`Chain` whose fields are ``[time, N, z_dim]``;
        ``z_t = μ^q_t + σ^q_t ε_t`` is differentiable (reparameterised).
        """
        z_dim = self.z_dim
        wp, wq = self.prior_hidden.weight, self.post_hidden.weight
        pre = torch.cat(
            [F.linear(d, wp[:, : self.d_dim], self.prior_hidden.bias), F.linear(a, wq[:, : self.a_dim], self.post_hidden.bias)],
            dim=-1,
        )  # [time, N, 2 hidden]: everything in h that does not depend on z_{t-1}
        w_z = self._z_weights()
        w_o, b_o = self._out_weights()
        with seqgen.autocast_off(w_z.device):  # the z loop runs in the weights' dtype, also under autocast
            o, z = ZChain.apply(pre, eps, w_z, w_o, b_o, self.min_scale)  # [time, N, 4 z_dim], [time, N, z_dim]
        p_loc, p_raw, q_loc, q_raw = o.split(z_dim, dim=-1)
        return Chain(z, p_loc, self._scale(p_raw), q_loc, self._scale(q_raw))

    def prior_chain(self, d: torch.Tensor, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The fused prior for a given chain: ``d: [time, N, d_dim]``, ``z: [time, N, z_dim]`` ->
        ``(μ^p, σ^p)`` of every step, ``[time, N, z_dim]`` (``z_{-1} = 0``; teacher-forced, no loop)."""
        z_prev = torch.cat([z.new_zeros((1,) + z.shape[1:]), z[:-1]], dim=0)  # [time, N, z_dim]
        wp = self.prior_hidden.weight
        w_z = self._z_weights()[:, : self.hidden]  # the prior's half: [z_dim, hidden]
        h = F.relu(F.linear(d, wp[:, : self.d_dim], self.prior_hidden.bias) + z_prev @ w_z)  # [time, N, hidden]
        w_o, b_o = self._out_weights()
        o = (h @ w_o[: self.hidden, : 2 * self.z_dim]).to(b_o.dtype) + b_o[: 2 * self.z_dim]  # [time, N, 2 z_dim], in the weights' dtype under autocast too
        loc, raw = o.split(self.z_dim, dim=-1)
        return loc, self._scale(raw)
