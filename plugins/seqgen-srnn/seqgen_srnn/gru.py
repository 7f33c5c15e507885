"""``GRU``: one GRU layer over a whole sequence, with its backward pass written out by hand.

The equations are ``torch.nn.GRU``'s (gate order r, z, n; Cho et al. 2014), for ``t = 0 … T-1``::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

Forward: the input projections ``g^i = x W_ihᵀ + b_ih`` of all steps are ONE ``[T·B, in] × [in, 3H]``
matmul; the loop then does one ``[B, H] × [H, 3H]`` matmul ``g^h_t = h_{t-1} W_hhᵀ + b_hh`` and six
small element-wise ops a step, in place in the buffer that held ``g^i``, saving the gates and ``g^h_n``.

Backward, from ``δh_t`` (the total derivative, ``δh_{T-1} = ∂L/∂h_{T-1}``): every pre-activation's
derivative is ``δh_t`` times a factor that depends only on saved forward values, so the factors are
computed for all steps at once before the loop::

    a^n_t = (1 − z_t) ⊙ (1 − n_t²)                                    (∂h_t / ∂ n's pre-activation)
    δg^h_t = δh_t ⊙ [a^n_t ⊙ g^h_{n,t} ⊙ r_t(1 − r_t),  (h_{t-1} − n_t) ⊙ z_t(1 − z_t),  a^n_t ⊙ r_t]
    δg^i_t = δg^h_t with its n block replaced by δh_t ⊙ a^n_t
    δh_{t-1} = ∂L/∂h_{t-1} + δh_t ⊙ z_t + δg^h_t W_hh    (the only loop: a matmul and two ops a step)

and the rest over all ``T·B`` rows at once, as cuDNN does: ``∂L/∂W_hh = Σ_t δg^hᵀ_t h_{t-1}``,
``∂L/∂W_ih = Σ_t δg^iᵀ_t x_t``, ``∂L/∂b_hh = Σ_t δg^h_t``, ``∂L/∂b_ih = Σ_t δg^i_t``,
``∂L/∂x = δg^i W_ih`` (one matmul each; ``∂L/∂x`` only when ``x`` requires grad; the weight
gradients as ``(h_prevᵀ δg^h)ᵀ`` and ``(xᵀ δg^i)ᵀ``, ~20 % faster on CPU than ``δg^hᵀ h_prev`` with
``δg^h`` a strided slice of the backward's buffer). Autograd through
``nn.GRU`` on CPU records a dozen nodes a step and computes the weight gradients one step (``B``
rows) at a time.

:class:`GRU` is a drop-in for a one-layer, unidirectional, time-major ``nn.GRU`` with biases:
the same parameter names and shapes (``weight_ih_l0: [3H, in]``, ``weight_hh_l0: [3H, H]``,
``bias_ih_l0``, ``bias_hh_l0: [3H]``), the same initialisation (so a seeded model draws the same
weights), the same call ``gru(x: [T, B, in], hx: [1, B, H] = None) -> (out: [T, B, H], h_n: [1, B, H])``,
so state dicts load either way. Two additions: ``x`` may be a tuple of ``[T, B, in_k]`` parts read as
their concatenation (no concatenated copy; ``∂L/∂part`` only for parts that require grad), and
``reverse=True`` runs the recurrence from ``t = T-1`` down to 0 (a backward GRU without flipping
the sequence). Only device-agnostic tensor ops are used.

The two loops over time (the forward recurrence and the ``δh`` recurrence) run as one compiled
operator call each on the CPU in float32/float64 (``csrc/loops.cpp``, see :mod:`seqgen_srnn._loops`):
a step's product through ATen, its element-wise work as one vectorised pass. Elsewhere (CUDA, other
dtypes, no compiler) the Python loops below run; both compute the same values (tested).

Under ``torch.autocast`` (TrainConfig ``precision='bf16'``) the products over all ``T·B`` rows (the
input projections, ``∂L/∂W_ih``, ``∂L/∂W_hh``, ``∂L/∂x``) run in autocast's dtype, where they are
about twice as fast on CPUs with bf16 instructions; the recurrence (its ``[B, H] × [H, 3H]``
products are too small to gain), the gates, ``out`` and the gradients stay in the weights' dtype.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import nn
from torch.autograd.function import once_differentiable

import seqgen
from seqgen import ShapeError

from . import _loops

__all__ = ["GRU", "GRUSequence"]


class GRUSequence(torch.autograd.Function):
    """``(h0, w_ih, w_hh, b_ih, b_hh, reverse, low, *parts) -> out: [T, B, H]``, ``out[t] = h_t``.

    ``parts``: ``[T, B, in_k]`` tensors whose concatenation along the last dim is the input ``x``
    (``Σ in_k = in``), so an input assembled from pieces is never copied into one tensor and
    ``∂L/∂part`` is computed only for the parts that require grad. ``h0: [B, H]`` or None (zeros).
    ``reverse``: run ``t = T-1 … 0`` (``h_{t+1}`` feeds step ``t``), a backward GRU without flips.
    ``low``: None, or a dtype (bf16/fp16, from ``torch.autocast``) for the products over all ``T·B``
    rows (the input projections, ``∂L/∂W_ih``, ``∂L/∂W_hh``, ``∂L/∂x``); the recurrence, the gates
    and every sum stay in the weights' dtype, and so do ``out`` and the gradients.
    """

    @staticmethod
    def forward(ctx, h0, w_ih, w_hh, b_ih, b_hh, reverse: bool, low, *parts):
        time, batch = parts[0].shape[:2]
        hid = w_hh.shape[1]
        # copied once (a transposed view, say; or cast to the products' dtype), read twice
        parts = tuple(p.to(low or w_ih.dtype).contiguous() for p in parts)
        # gates: first the input projections g^i of all steps (one matmul), then, step by step and in
        # place, [r_t, z_t, n_t] after their nonlinearities.
        gates = _input_projection(parts, w_ih, b_ih, low).view(time, batch, 3 * hid)  # [T, B, 3H]
        gh_n = gates.new_empty(time, batch, hid)  # W_hn h_prev + b_hn, kept for the backward
        out = gates.new_empty(time, batch, hid)
        w_hh_t = w_hh.t().contiguous()  # [H, 3H]: the step products run ~25 % faster than on the transposed view
        h = gates.new_zeros(batch, hid) if h0 is None else h0.contiguous()  # h_{-1}, saved as the first h_prev
        loops = _loops.for_tensors(gates, h, w_hh, b_hh)
        if loops is not None:  # the same loop as one compiled call (see _loops.py)
            loops.gru_forward(gates, gh_n, out, h, w_hh_t, b_hh.contiguous(), reverse)
        else:
            _forward_loop(gates, gh_n, out, h, w_hh_t, b_hh, reverse)
        ctx.reverse, ctx.low = reverse, low
        ctx.save_for_backward(h, w_ih, w_hh, gh_n, gates, out, *parts)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out):
        h0, w_ih, w_hh, gh_n, gates, out, *parts = ctx.saved_tensors  # h0: h_{-1}, zeros when none was given
        time, batch, hid = out.shape
        rows, rev, low = time * batch, ctx.reverse, ctx.low
        mm = _products(low)
        # d: [T, B, 4, H] holds δ of the pre-activations in the order (n hidden side, r, z, n input side),
        # so δg^h = d[..., 0:3] (with W_hh's rows permuted to n, r, z) and δg^i = d[..., 1:4] (r, z, n).
        scratch = _scratch(out, 8 * time * batch * hid)  # d, f and δh below: temporaries of this call only
        d = scratch[: 4 * time * batch * hid].view(time, batch, 4, hid)
        d_h = scratch[7 * time * batch * hid : 8 * time * batch * hid].view(time, batch, hid)  # δh_t
        w_hh_perm = torch.cat([w_hh[2 * hid :], w_hh[: 2 * hid]])  # rows (n, r, z)
        loops = _loops.for_tensors(d_h, d_out, w_hh_perm, gh_n)
        if loops is not None:  # the factors, the δh loop and d in one compiled call (see _loops.py)
            dh_prev = loops.gru_backward(d_h, d, gates, gh_n, out, h0, d_out.contiguous(), w_hh_perm, rev)
        else:
            f = scratch[4 * time * batch * hid : 7 * time * batch * hid].view(time, batch, 3, hid)
            dh_prev = _backward_loop(d, f, d_h, gates, gh_n, out, h0, d_out, w_hh_perm, rev)
        # h_prev of every step: out shifted by one step (towards the start in time order), h0 at the start.
        first, earlier = (time - 1, slice(1, None)) if rev else (0, slice(0, -1))
        d2 = d.view(rows, 4 * hid)
        d_gh, d_gi = d2[:, : 3 * hid], d2[:, hid:]  # [T·B, 3H] each; d_gh in (n, r, z) order
        need = ctx.needs_input_grad
        h_prev = out[earlier].reshape(-1, hid)  # [(T-1)·B, H]
        d_gh_mm, d_gi_mm, h_prev_mm, scratch_low = d_gh, d_gi, h_prev, None
        if low is not None:  # the products' operands, cast once into contiguous kept buffers (see _scratch)
            scratch_low = _scratch(out, 6 * rows * hid + h_prev.numel(), low)
            d_gh_mm = scratch_low[: 3 * rows * hid].view(rows, 3 * hid).copy_(d_gh)
            d_gi_mm = scratch_low[3 * rows * hid : 6 * rows * hid].view(rows, 3 * hid).copy_(d_gi)
            h_prev_mm = scratch_low[6 * rows * hid : 6 * rows * hid + h_prev.numel()].view_as(h_prev).copy_(h_prev)
        d_h0 = dh_prev if need[0] else None
        d_w_ih = torch.cat([mm(p.view(rows, -1).t(), d_gi_mm).t() for p in parts], dim=1).to(w_ih.dtype) if need[1] else None
        d_w_hh = d_b_hh = None
        if need[2]:
            h_rows = slice(batch, None) if not rev else slice(0, rows - batch)
            d_w = mm(h_prev_mm.t(), d_gh_mm[h_rows]).t().to(w_hh.dtype)  # Σ_t δg^hᵀ_t h_prev (h0 rows below)
            first_rows = slice(first * batch, (first + 1) * batch)
            d_w.addmm_(d_gh[first_rows].t(), h0)
            d_w_hh = torch.cat([d_w[hid:], d_w[:hid]])  # back to rows (r, z, n)
        if need[4]:
            s = d_gh.sum(0)
            d_b_hh = torch.cat([s[hid:], s[:hid]])
        d_b_ih = d_gi.sum(0) if need[3] else None
        d_parts, start = [], 0
        for k, p in enumerate(parts):
            width = p.shape[-1]
            d_parts.append(mm(d_gi_mm, w_ih[:, start : start + width]).view(p.shape) if need[7 + k] else None)
            start += width
        _release(scratch)
        if scratch_low is not None:
            _release(scratch_low)
        return (d_h0, d_w_ih, d_w_hh, d_b_ih, d_b_hh, None, None, *d_parts)


def _forward_loop(gates, gh_n, out, h, w_hh_t, b_hh, reverse: bool) -> None:
    """The forward recurrence in Python (see GRUSequence.forward): ``gates [T, B, 3H]`` from
    ``g^i`` to ``(r, z, n)`` in place, ``gh_n`` and ``out`` written; ``h = h_{-1}: [B, H]``."""
    time, batch, hid = out.shape
    gh = gates.new_empty(batch, 3 * hid)  # W_hh h_prev + b_hh of the current step
    gh_rz, gh_n_now = gh.split([2 * hid, hid], dim=-1)
    # Per-step views made once (indexing inside the loop would cost about as much as the ops).
    blocks = (*gates.split([2 * hid, hid], dim=-1), *gates[..., : 2 * hid].split(hid, dim=-1), gh_n, out)
    steps = list(zip(*(v.unbind(0) for v in blocks)))  # steps[t]: the step-t views, [B, *] each
    for t in range(time - 1, -1, -1) if reverse else range(time):
        g_rz, g_n, r, z, gh_n_t, h_out = steps[t]
        torch.addmm(b_hh, h, w_hh_t, out=gh)  # [B, 3H]
        g_rz.add_(gh_rz).sigmoid_()  # r_t, z_t
        n = g_n.addcmul_(r, gh_n_t.copy_(gh_n_now)).tanh_()  # n_t = tanh(g^i_n + r_t ⊙ g^h_n)
        h = torch.lerp(n, h, z, out=h_out)  # h_t = n + z ⊙ (h_prev − n)


def _backward_loop(d, f, d_h, gates, gh_n, out, h0, d_out, w_hh_perm, rev: bool) -> torch.Tensor:
    """The backward in Python (see GRUSequence.backward and the module docstring): the factors ``f``
    for all steps at once, then the ``δh`` recurrence, filling ``d_h`` and ``d``; returns ``δh_{-1}``
    (the initial state's)."""
    time, batch, hid = d_h.shape
    r, z, n = gates.unflatten(-1, (3, hid)).unbind(-2)  # [T, B, H] each
    # h_prev of every step: out shifted by one step (towards the start in time order), h0 at the start.
    first, later, earlier = (time - 1, slice(0, -1), slice(1, None)) if rev else (0, slice(1, None), slice(0, -1))
    # f: the factors turning δh_t into δg^h_t, in the order (n hidden side, r, z)
    a_n = torch.addcmul(out.new_ones(()), n, n, value=-1, out=d[:, :, 3])  # 1 − n²
    a_n.addcmul_(a_n, z, value=-1)  # ⊙ (1 − z)
    torch.mul(a_n, r, out=f[:, :, 0])
    torch.mul(f[:, :, 0], gh_n, out=f[:, :, 1]).addcmul_(f[:, :, 1], r, value=-1)  # ⊙ g^h_n (1 − r)
    torch.sub(out[earlier], n[later], out=f[later, :, 2])
    torch.sub(h0, n[first], out=f[first, :, 2])
    f[:, :, 2].mul_(z).addcmul_(f[:, :, 2], z, value=-1)  # (h_prev − n) z (1 − z)
    order = list(range(time)) if rev else list(range(time - 1, -1, -1))
    d_h[order[0]] = d_out[order[0]]
    dh_s, dgh_s, f_s, dout_s, z_s = d_h.unbind(0), d[:, :, :3].unbind(0), f.unbind(0), d_out.unbind(0), z.unbind(0)
    for i, t in enumerate(order):
        dh, d_gh = dh_s[t], dgh_s[t]
        torch.mul(dh.unsqueeze(1), f_s[t], out=d_gh)  # δg^h_t: [B, 3, H]
        if i + 1 < time:
            p = order[i + 1]
            dh_prev = torch.addcmul(dout_s[p], dh, z_s[t], out=dh_s[p])
        else:
            dh_prev = dh * z_s[t]
        dh_prev.addmm_(d_gh.reshape(batch, 3 * hid), w_hh_perm)  # δh of the previous step (δh0 last)
    a_n.mul_(d_h)  # δ of n's input-side pre-activation: no r
    return dh_prev


# One scratch buffer per (device, dtype) for temporaries (the backward's, and the low-precision
# operands and sums of the autocast path), kept between calls: a fresh
# multi-megabyte buffer every step costs more in page faults (the allocator hands such memory back
# to the OS on free) than the backward's element-wise work. A call takes it out of the dict and
# puts it back when done, so concurrent calls never share one; buffers over _SCRATCH_MAX elements
# are not kept.
_SCRATCH: dict = {}
_SCRATCH_MAX = 1 << 23


def _scratch(like: torch.Tensor, numel: int, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """A 1-d buffer of at least ``numel`` elements on ``like``'s device, of ``dtype`` (default
    ``like``'s; contents undefined)."""
    dtype = dtype or like.dtype
    buf = _SCRATCH.pop((like.device, dtype), None)
    return buf if buf is not None and buf.numel() >= numel else like.new_empty(numel, dtype=dtype)


def _release(buf: torch.Tensor) -> None:
    """Hand a buffer from :func:`_scratch` back (kept unless it is larger than ``_SCRATCH_MAX``)."""
    if buf.numel() <= _SCRATCH_MAX:
        _SCRATCH[(buf.device, buf.dtype)] = buf


def _products(low):
    """``mm(a, b) = a @ b``, with both operands cast to ``low`` first when it is set (the result
    is then in ``low``; operands already in ``low`` are not copied)."""
    if low is None:
        return torch.mm
    return lambda a, b: torch.mm(a.to(low), b.to(low))


def _input_projection(parts, w_ih, b_ih, low=None) -> torch.Tensor:
    """``Σ_k part_k W_ih[:, cols_k]ᵀ + b_ih`` over all ``T·B`` rows (contiguous parts): ``[T·B, 3H]``
    in ``w_ih``'s dtype; with ``low`` the products run in that dtype and are summed in ``w_ih``'s."""
    rows = parts[0].shape[0] * parts[0].shape[1]
    if low is not None:  # the products summed in a kept low-precision buffer, plus b_ih in w_ih's dtype
        buf, start = _scratch(w_ih, rows * w_ih.shape[0], low), 0
        acc = buf[: rows * w_ih.shape[0]].view(rows, -1)
        for k, p in enumerate(parts):
            w = w_ih[:, start : start + p.shape[-1]].t().to(low)
            torch.mm(p.view(rows, -1), w, out=acc) if k == 0 else acc.addmm_(p.view(rows, -1), w)
            start += p.shape[-1]
        g = acc.to(b_ih.dtype).add_(b_ih)  # [T·B, 3H] in b_ih's dtype
        _release(buf)
        return g
    g, start = None, 0
    for p in parts:
        w = w_ih[:, start : start + p.shape[-1]].t()  # [in_k, 3H]
        g = torch.addmm(b_ih, p.view(rows, -1), w) if g is None else g.addmm_(p.view(rows, -1), w)
        start += p.shape[-1]
    return g


class GRU(nn.Module):
    """One GRU layer over a whole time-major sequence, ``nn.GRU(input_size, hidden_size)``'s drop-in
    (parameters ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``; see the module docstring).

    ``forward(x: [T, B, input_size], hx: [1, B, hidden_size] | None) -> (out: [T, B, hidden_size], h_n: [1, B, hidden_size])``
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        gates = 3 * self.hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(gates, self.input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(gates, self.hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.empty(gates))
        self.bias_hh_l0 = nn.Parameter(torch.empty(gates))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.GRU``'s initialisation, drawn in its order: every parameter ``~ U(−1/√H, 1/√H)``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"

    def forward(self, x, hx: Optional[torch.Tensor] = None, *, reverse: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """``x: [T, B, input_size]`` (or a tuple of ``[T, B, in_k]`` parts to be read as their
        concatenation along the last dim), ``hx = h_{-1}: [1, B, hidden_size]`` (zeros when None) ->
        ``(out: [T, B, hidden_size], h_n: [1, B, hidden_size])``. ``reverse=True`` runs from
        ``t = T-1`` down to 0 (``out[t]`` reads steps ``t … T-1``); ``h_n`` is then ``out[0]``."""
        parts = tuple(x) if isinstance(x, (tuple, list)) else (x,)
        lead = tuple(parts[0].shape[:2]) if parts[0].dim() == 3 else ()
        ok = len(lead) == 2 and lead[0] > 0 and all(p.dim() == 3 and tuple(p.shape[:2]) == lead for p in parts)
        if not ok or sum(p.shape[-1] for p in parts) != self.input_size:
            got = [tuple(p.shape) for p in parts] if len(parts) > 1 else tuple(parts[0].shape)
            raise ShapeError("x", f"[time >= 1, batch, input_size={self.input_size}] (or parts summing to it)", got, "pass a time-major sequence")
        batch = lead[1]
        if hx is not None and tuple(hx.shape) != (1, batch, self.hidden_size):
            raise ShapeError("hx", f"[1, batch={batch}, hidden_size={self.hidden_size}]", tuple(hx.shape), "pass one initial state per sequence")
        h = None if hx is None else hx[0]
        weights = (self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)
        device = self.weight_hh_l0.device
        # Under torch.autocast, the products over all steps run in its dtype; the recurrence stays in
        # the weights' dtype (see GRUSequence), so autocast is off inside.
        low = seqgen.autocast_dtype(device)
        with seqgen.autocast_off(device):
            h = None if h is None else h.to(self.weight_hh_l0.dtype)
            out = GRUSequence.apply(h, *weights, bool(reverse), low, *parts)  # [T, B, H]
        return out, (out[:1] if reverse else out[-1:])
