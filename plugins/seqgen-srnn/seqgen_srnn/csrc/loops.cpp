// The SRNN's loops over time (gru.py's GRUSequence, fused.py's ZChain, forward and backward) as
// torch operators, one call per loop: each step's matrix product goes through ATen (MKL/oneDNN),
// its element-wise work through one pass of kernels.cpp. Run from Python, a step costs ~5 ATen
// calls of ~10-20 µs overhead each; here it costs one product and one fused pass. CPU, float and
// double only; the Python loops remain for every other case (seqgen_srnn/_loops.py). The callers
// pass contiguous buffers laid out as the docstrings of gru.py and fused.py describe.

#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>

#include "kernels.h"

namespace seqgen_srnn {

static void check_rows(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu(), name, ": expected a CPU tensor");
  TORCH_CHECK(t.stride(-1) == 1, name, ": expected unit stride in the last dim");
}

static void check_contiguous(const at::Tensor& t, const char* name) {
  check_rows(t, name);
  TORCH_CHECK(t.is_contiguous(), name, ": expected a contiguous tensor");
}

// The kernels index raw pointers, so every buffer's shape is checked against the one they assume.
static void check_shape(const at::Tensor& t, at::IntArrayRef shape, const char* name) {
  TORCH_CHECK(t.sizes() == shape, name, ": expected shape ", shape, ", got ", t.sizes());
  TORCH_CHECK(shape.size() < 3 || shape[0] > 0, name, ": expected at least one time step");
}

// gates: [T, B, 3H], g^i (with b_ih) on entry, (r, z, n) on exit; gh_n, out: [T, B, H] written;
// h0: [B, H]; w_hh_t = W_hhᵀ: [H, 3H]; b_hh: [3H].
void gru_forward(at::Tensor gates, at::Tensor gh_n, at::Tensor out, const at::Tensor& h0,
                 const at::Tensor& w_hh_t, const at::Tensor& b_hh, bool reverse) {
  check_contiguous(gates, "gates");
  check_contiguous(gh_n, "gh_n");
  check_contiguous(out, "out");
  check_rows(h0, "h0");
  check_contiguous(b_hh, "b_hh");
  const int64_t time = out.size(0), batch = out.size(1), hid = out.size(2);
  check_shape(gates, {time, batch, 3 * hid}, "gates");
  check_shape(gh_n, {time, batch, hid}, "gh_n");
  check_shape(h0, {batch, hid}, "h0");
  check_shape(w_hh_t, {hid, 3 * hid}, "w_hh_t");
  check_shape(b_hh, {3 * hid}, "b_hh");
  at::Tensor gh = at::empty({batch, 3 * hid}, gates.options());
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "gru_forward", [&] {
    at::Tensor h = h0;
    for (int64_t i = 0; i < time; ++i) {
      const int64_t t = reverse ? time - 1 - i : i;
      at::mm_out(gh, h, w_hh_t);
      scalar_t* o = out.data_ptr<scalar_t>() + t * batch * hid;
      gru_forward_step<scalar_t>(gates.data_ptr<scalar_t>() + t * batch * 3 * hid, gh.data_ptr<scalar_t>(),
                                 b_hh.data_ptr<scalar_t>(), gh_n.data_ptr<scalar_t>() + t * batch * hid, o,
                                 h.data_ptr<scalar_t>(), batch, hid, h.stride(0));
      h = out.select(0, t);
    }
  });
}

// The backward GRU: the δh recurrence and δ of every pre-activation. d_h: [T, B, H] buffer (δh_t,
// written); d: [T, B, 4, H] written, δ of the pre-activations in the order (n hidden side, r, z,
// n input side); gates: [T, B, 3H] holding (r, z, n); gh_n, out: [T, B, H] from the forward;
// h0: [B, H] (zeros for none); d_out: [T, B, H] = ∂L/∂out; w_hh_perm: W_hh with rows (n, r, z),
// [3H, H]. Returns δh0: [B, H].
at::Tensor gru_backward(at::Tensor d_h, at::Tensor d, const at::Tensor& gates, const at::Tensor& gh_n,
                        const at::Tensor& out, const at::Tensor& h0, const at::Tensor& d_out,
                        const at::Tensor& w_hh_perm, bool reverse) {
  check_contiguous(d_h, "d_h");
  check_contiguous(d, "d");
  check_contiguous(gates, "gates");
  check_contiguous(gh_n, "gh_n");
  check_contiguous(out, "out");
  check_contiguous(h0, "h0");
  check_contiguous(d_out, "d_out");
  const int64_t time = d_h.size(0), batch = d_h.size(1), hid = d_h.size(2);
  check_shape(d, {time, batch, 4, hid}, "d");
  check_shape(gates, {time, batch, 3 * hid}, "gates");
  check_shape(gh_n, {time, batch, hid}, "gh_n");
  check_shape(out, {time, batch, hid}, "out");
  check_shape(h0, {batch, hid}, "h0");
  check_shape(d_out, {time, batch, hid}, "d_out");
  check_shape(w_hh_perm, {3 * hid, hid}, "w_hh_perm");
  at::Tensor d_h0 = at::empty({batch, hid}, d_h.options());
  AT_DISPATCH_FLOATING_TYPES(d_h.scalar_type(), "gru_backward", [&] {
    const int64_t bh = batch * hid;
    scalar_t* dh_base = d_h.data_ptr<scalar_t>();
    const scalar_t* dout_base = d_out.data_ptr<scalar_t>();
    const scalar_t* out_base = out.data_ptr<scalar_t>();
    const int64_t first = reverse ? 0 : time - 1;  // the backward's first step (the forward's last)
    std::copy(dout_base + first * bh, dout_base + (first + 1) * bh, dh_base + first * bh);
    for (int64_t i = 0; i < time; ++i) {
      const int64_t t = reverse ? i : time - 1 - i;
      const bool last = i + 1 == time;
      const int64_t p = reverse ? t + 1 : t - 1;  // the step that feeds t (none when last)
      scalar_t* dh_prev = last ? d_h0.data_ptr<scalar_t>() : dh_base + p * bh;
      const scalar_t* hprev = last ? h0.data_ptr<scalar_t>() : out_base + p * bh;
      gru_backward_step<scalar_t>(dh_base + t * bh, gates.data_ptr<scalar_t>() + t * batch * 3 * hid,
                                  gh_n.data_ptr<scalar_t>() + t * bh, hprev, last ? nullptr : dout_base + p * bh,
                                  d.data_ptr<scalar_t>() + t * batch * 4 * hid, dh_prev, batch, hid);
      at::Tensor target = last ? d_h0 : d_h.select(0, p);
      at::Tensor d_gh = d.select(0, t).as_strided({batch, 3 * hid}, {4 * hid, 1});
      target.addmm_(d_gh, w_hh_perm);
    }
  });
  return d_h0;
}

// The z loop. hidden: [T, N, 2h], pre on entry, h_t = relu(pre_t + z_{t-1} W_z) on exit; out: [T, N, 4Z]
// and zs: [T, N, Z] written; eps: [T, N, Z]; w_z: [Z, 2h]; w_o: [2h, 4Z]; b_o: [4Z].
void zchain_forward(at::Tensor hidden, at::Tensor out, at::Tensor zs, const at::Tensor& eps,
                    const at::Tensor& w_z, const at::Tensor& w_o, const at::Tensor& b_o, double min_scale) {
  check_contiguous(hidden, "hidden");
  check_contiguous(out, "out");
  check_contiguous(zs, "zs");
  check_contiguous(eps, "eps");
  check_contiguous(b_o, "b_o");
  const int64_t time = hidden.size(0), n = hidden.size(1), width = hidden.size(2), zd = zs.size(2);
  check_shape(out, {time, n, 4 * zd}, "out");
  check_shape(zs, {time, n, zd}, "zs");
  check_shape(eps, {time, n, zd}, "eps");
  check_shape(w_z, {zd, width}, "w_z");
  check_shape(w_o, {width, 4 * zd}, "w_o");
  check_shape(b_o, {4 * zd}, "b_o");
  AT_DISPATCH_FLOATING_TYPES(hidden.scalar_type(), "zchain_forward", [&] {
    for (int64_t t = 0; t < time; ++t) {
      at::Tensor h_t = hidden.select(0, t), o_t = out.select(0, t);
      if (t > 0) h_t.addmm_(zs.select(0, t - 1), w_z);  // z_{-1} = 0 adds nothing
      relu_inplace<scalar_t>(h_t.data_ptr<scalar_t>(), n * width);
      at::mm_out(o_t, h_t, w_o);
      zchain_forward_step<scalar_t>(o_t.data_ptr<scalar_t>(), b_o.data_ptr<scalar_t>(),
                                    eps.data_ptr<scalar_t>() + t * n * zd, zs.data_ptr<scalar_t>() + t * n * zd,
                                    static_cast<scalar_t>(min_scale), n, zd);
    }
  });
}

// The z loop's adjoint. d_oq: [T, N, 2, Z] (∂L/∂[μ^q, s^q] in, δ[μ^q, s^q] out); d_h: [T, N, 2h]
// (the μ^p, s^p half's share of δh in, δh out); grad_z: [T, N, Z]; k: [T, N, 2, Z];
// hidden: [T, N, 2h] (h_t); w_oq_t = W_o[:, 2Z:]ᵀ: [2Z, 2h]; w_z_t = W_zᵀ: [2h, Z].
void zchain_backward(at::Tensor d_oq, at::Tensor d_h, const at::Tensor& grad_z, const at::Tensor& k,
                     const at::Tensor& hidden, const at::Tensor& w_oq_t, const at::Tensor& w_z_t) {
  check_contiguous(d_oq, "d_oq");
  check_contiguous(d_h, "d_h");
  check_contiguous(grad_z, "grad_z");
  check_contiguous(k, "k");
  check_contiguous(hidden, "hidden");
  const int64_t time = d_h.size(0), n = d_h.size(1), width = d_h.size(2), zd = grad_z.size(2);
  check_shape(d_oq, {time, n, 2, zd}, "d_oq");
  check_shape(grad_z, {time, n, zd}, "grad_z");
  check_shape(k, {time, n, 2, zd}, "k");
  check_shape(hidden, {time, n, width}, "hidden");
  check_shape(w_oq_t, {2 * zd, width}, "w_oq_t");
  check_shape(w_z_t, {width, zd}, "w_z_t");
  at::Tensor gz = grad_z.select(0, time - 1).clone();  // δz_{T-1}
  AT_DISPATCH_FLOATING_TYPES(d_h.scalar_type(), "zchain_backward", [&] {
    for (int64_t t = time - 1; t >= 0; --t) {
      at::Tensor d_oq_t = d_oq.select(0, t), dh = d_h.select(0, t);
      zchain_backward_oq<scalar_t>(d_oq_t.data_ptr<scalar_t>(), gz.data_ptr<scalar_t>(),
                                   k.data_ptr<scalar_t>() + t * n * 2 * zd, n, zd);
      dh.addmm_(d_oq_t.view({n, 2 * zd}), w_oq_t);
      zchain_backward_mask<scalar_t>(dh.data_ptr<scalar_t>(), hidden.data_ptr<scalar_t>() + t * n * width, n * width);
      if (t > 0) {  // δz_{t-1} = ∂L/∂z_{t-1} + δh_t W_zᵀ
        const scalar_t* g = grad_z.data_ptr<scalar_t>() + (t - 1) * n * zd;
        std::copy(g, g + n * zd, gz.data_ptr<scalar_t>());
        gz.addmm_(dh, w_z_t);
      }
    }
  });
}

}  // namespace seqgen_srnn

TORCH_LIBRARY(seqgen_srnn_loops, m) {
  m.def("gru_forward(Tensor(a!) gates, Tensor(b!) gh_n, Tensor(c!) out, Tensor h0, Tensor w_hh_t, Tensor b_hh, bool reverse) -> ()");
  m.def("gru_backward(Tensor(a!) d_h, Tensor(b!) d, Tensor gates, Tensor gh_n, Tensor out, Tensor h0, Tensor d_out, Tensor w_hh_perm, bool reverse) -> Tensor");
  m.def("zchain_forward(Tensor(a!) hidden, Tensor(b!) out, Tensor(c!) zs, Tensor eps, Tensor w_z, Tensor w_o, Tensor b_o, float min_scale) -> ()");
  m.def("zchain_backward(Tensor(a!) d_oq, Tensor(b!) d_h, Tensor grad_z, Tensor k, Tensor hidden, Tensor w_oq_t, Tensor w_z_t) -> ()");
}

TORCH_LIBRARY_IMPL(seqgen_srnn_loops, CPU, m) {
  m.impl("gru_forward", &seqgen_srnn::gru_forward);
  m.impl("gru_backward", &seqgen_srnn::gru_backward);
  m.impl("zchain_forward", &seqgen_srnn::zchain_forward);
  m.impl("zchain_backward", &seqgen_srnn::zchain_backward);
}
