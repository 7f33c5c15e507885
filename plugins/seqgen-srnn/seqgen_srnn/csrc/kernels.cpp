// The element-wise work of one step of the SRNN's loops (see loops.cpp), as plain loops over raw
// pointers that GCC vectorises (-O3 -fopenmp-simd). The declarations below tell it that glibc's
// libmvec has vector versions of exp and log (glibc >= 2.22; its own headers say so only under
// -ffast-math, which we do not use), so a loop calls them 8 (float, AVX2) lanes at a time; tanh is
// written with exp for the same reason. Every pointer names one row of a [rows, width] block;
// `*_stride` is the distance between rows, in elements.

#include <cmath>
#include <cstdint>

extern "C" {
float expf(float) noexcept __attribute__((__simd__("notinbranch")));
float logf(float) noexcept __attribute__((__simd__("notinbranch")));
double exp(double) noexcept __attribute__((__simd__("notinbranch")));
double log(double) noexcept __attribute__((__simd__("notinbranch")));
}

#include "kernels.h"

namespace seqgen_srnn {

template <typename T>
static inline T sigmoid(T v) { return T(1) / (T(1) + std::exp(-v)); }

// tanh(v) = 1 − 2 / (e^{2v} + 1): exact at both tails (e^{2v} = inf gives 1, 0 gives −1)
template <typename T>
static inline T tanh_exp(T v) { return T(1) - T(2) / (std::exp(T(2) * v) + T(1)); }

// torch's softplus (threshold 20); log(1 + e^v) instead of log1p, whose vector version needs a newer
// glibc: for v < −17 (float) it returns 0 instead of e^v, an absolute error below 1e-7.
template <typename T>
static inline T softplus(T v) { return v > T(20) ? v : std::log(T(1) + std::exp(v)); }

template <typename T>
static void gru_fwd_row(T* __restrict gr, T* __restrict gz, T* __restrict gn, const T* __restrict hr,
                        const T* __restrict hz, const T* __restrict hn, const T* __restrict br,
                        const T* __restrict bz, const T* __restrict bn, T* __restrict ghn,
                        T* __restrict out, const T* __restrict hprev, int64_t hid) {
#pragma omp simd
  for (int64_t j = 0; j < hid; ++j) {
    const T r = sigmoid(gr[j] + hr[j] + br[j]);
    const T z = sigmoid(gz[j] + hz[j] + bz[j]);
    const T h_n = hn[j] + bn[j];
    const T n = tanh_exp(gn[j] + r * h_n);
    gr[j] = r;
    gz[j] = z;
    gn[j] = n;
    ghn[j] = h_n;
    out[j] = n + z * (hprev[j] - n);
  }
}

template <typename T>
void gru_forward_step(T* gates, const T* gh, const T* b_hh, T* gh_n, T* out, const T* hprev,
                      int64_t batch, int64_t hid, int64_t hprev_stride) {
  for (int64_t b = 0; b < batch; ++b) {
    T* g = gates + b * 3 * hid;
    const T* h = gh + b * 3 * hid;
    gru_fwd_row(g, g + hid, g + 2 * hid, h, h + hid, h + 2 * hid, b_hh, b_hh + hid, b_hh + 2 * hid,
                gh_n + b * hid, out + b * hid, hprev + b * hprev_stride, hid);
  }
}

// One row of the backward step: from δh_t and the forward's saved values, δ of every pre-activation
// (d: [4, H] in the order n hidden side, r, z, n input side) and δh_prev's non-matmul terms.
template <typename T>
static void gru_bwd_row(const T* __restrict dh, const T* __restrict r, const T* __restrict z,
                        const T* __restrict n, const T* __restrict ghn, const T* __restrict hprev,
                        const T* __restrict dout, T* __restrict d, T* __restrict dh_prev, int64_t hid) {
#pragma omp simd
  for (int64_t j = 0; j < hid; ++j) {
    const T dhj = dh[j], rj = r[j], zj = z[j], nj = n[j];
    const T an = (T(1) - nj * nj) * (T(1) - zj) * dhj;  // δ of n's pre-activation (input side)
    d[j] = an * rj;                                       // δ g^h_n
    d[hid + j] = an * ghn[j] * rj * (T(1) - rj);          // δ of r's pre-activation
    d[2 * hid + j] = dhj * (hprev[j] - nj) * zj * (T(1) - zj);  // δ of z's pre-activation
    d[3 * hid + j] = an;
    dh_prev[j] = (dout ? dout[j] : T(0)) + dhj * zj;
  }
}

template <typename T>
void gru_backward_step(const T* dh, const T* gates, const T* gh_n, const T* hprev, const T* dout, T* d,
                       T* dh_prev, int64_t batch, int64_t hid) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* g = gates + b * 3 * hid;
    gru_bwd_row(dh + b * hid, g, g + hid, g + 2 * hid, gh_n + b * hid, hprev + b * hid,
                dout ? dout + b * hid : nullptr, d + b * 4 * hid, dh_prev + b * hid, hid);
  }
}

template <typename T>
void relu_inplace(T* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] > T(0) ? x[i] : T(0);
}

template <typename T>
void zchain_forward_step(T* o, const T* b_o, const T* eps, T* z, T min_scale, int64_t rows, int64_t zd) {
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict orow = o + r * 4 * zd;
    const T* __restrict e = eps + r * zd;
    T* __restrict zr = z + r * zd;
#pragma omp simd
    for (int64_t j = 0; j < 4 * zd; ++j) orow[j] += b_o[j];
#pragma omp simd
    for (int64_t j = 0; j < zd; ++j) zr[j] = orow[2 * zd + j] + (softplus(orow[3 * zd + j]) + min_scale) * e[j];
  }
}

template <typename T>
void zchain_backward_oq(T* d_oq, const T* gz, const T* k, int64_t rows, int64_t zd) {
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict d = d_oq + r * 2 * zd;
    const T* __restrict g = gz + r * zd;
    const T* __restrict kr = k + r * 2 * zd;
#pragma omp simd
    for (int64_t j = 0; j < zd; ++j) {
      d[j] += g[j] * kr[j];
      d[zd + j] += g[j] * kr[zd + j];
    }
  }
}

template <typename T>
void zchain_backward_mask(T* __restrict dh, const T* __restrict hidden, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dh[i] = hidden[i] > T(0) ? dh[i] : T(0);
}

#define SEQGEN_SRNN_INSTANTIATE(T)                                                                       \
  template void gru_forward_step<T>(T*, const T*, const T*, T*, T*, const T*, int64_t, int64_t, int64_t); \
  template void gru_backward_step<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, int64_t,  \
                                     int64_t);                                                           \
  template void relu_inplace<T>(T*, int64_t);                                                            \
  template void zchain_forward_step<T>(T*, const T*, const T*, T*, T, int64_t, int64_t);                 \
  template void zchain_backward_oq<T>(T*, const T*, const T*, int64_t, int64_t);                         \
  template void zchain_backward_mask<T>(T*, const T*, int64_t);

SEQGEN_SRNN_INSTANTIATE(float)
SEQGEN_SRNN_INSTANTIATE(double)

}  // namespace seqgen_srnn
