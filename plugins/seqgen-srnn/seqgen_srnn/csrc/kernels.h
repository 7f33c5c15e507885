// Element-wise kernels of one loop step (kernels.cpp); instantiated for float and double.
#pragma once
#include <cstdint>

namespace seqgen_srnn {

// GRU forward, one step: gates [B, 3H] holds g^i on entry and (r, z, n) on exit; gh = h_prev W_hhᵀ
// [B, 3H] (no bias); writes gh_n = gh's n block + b_hn and out = h_t, each [B, H].
template <typename T>
void gru_forward_step(T* gates, const T* gh, const T* b_hh, T* gh_n, T* out, const T* hprev,
                      int64_t batch, int64_t hid, int64_t hprev_stride);

// GRU backward, one step: from δh_t (dh), the step's (r, z, n) (gates [B, 3H]), g^h_n (gh_n) and
// h_prev (all [B, H] rows but gates), writes d [B, 4, H] = δ of the pre-activations (n hidden side,
// r, z, n input side) and dh_prev = dout + dh ⊙ z (dout may be null: zero).
template <typename T>
void gru_backward_step(const T* dh, const T* gates, const T* gh_n, const T* hprev, const T* dout, T* d,
                       T* dh_prev, int64_t batch, int64_t hid);

template <typename T>
void relu_inplace(T* x, int64_t n);

// z loop forward, one step: o [N, 4Z] += b_o; z = μ^q + (softplus(s^q) + min_scale) ⊙ eps.
template <typename T>
void zchain_forward_step(T* o, const T* b_o, const T* eps, T* z, T min_scale, int64_t rows, int64_t zd);

// z loop backward: d_oq [N, 2, Z] += gz [N, Z] ⊙ k [N, 2, Z] (gz broadcast over the 2).
template <typename T>
void zchain_backward_oq(T* d_oq, const T* gz, const T* k, int64_t rows, int64_t zd);

// dh [n] ⊙= [hidden > 0]
template <typename T>
void zchain_backward_mask(T* dh, const T* hidden, int64_t n);

}  // namespace seqgen_srnn
