// CPU attention with an additive positional bias evaluated from (h, i, j), built on BLAS blocks:
// for each (batch, head) and block of up to 64 query rows, S = scale Q K^T is one GEMM (heads are read
// in place with a row stride of NH * HS), the bias, causal mask and softmax are applied row by row, and
// O = P V is a second GEMM. Keys may outnumber queries (Tk >= Tq): query i sits at key position
// i + Tk - Tq (a Transformer-XL memory before the segment). With a window (bias.window, causal only) a
// block's GEMMs start at the first key its first row sees, so a block costs O(rows x (window + rows)).
// Only the per-row log-sum-exp is saved; the backward recomputes P block by
// block (no T x T tensor outlives a block), parallel over (batch, head) pairs, each of which owns its
// dk / dv slices, so there are no races. The GEMM library runs single-threaded inside our parallel regions.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/backend_cpu/gemm_library.h"
#include "runtime/backend_cpu/vec.h"
#include "runtime/kernels.h"
#include "runtime/math/rowwise.h"

namespace weft::cpu {

namespace {

constexpr int64_t kBlock = 64;  // query rows per block

// Row-major C = alpha op(A) op(B) + beta C.
// On the library runtime/cpu_gemm.h selects (single-threaded inside our parallel regions either way).
void gemm_rm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm_row_major(cpu_gemm(), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void gemm_rm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
             const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  dgemm_row_major(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class F>
F* scratch(int slot, int64_t n) {
  thread_local std::vector<F> bufs[2];
  if (static_cast<int64_t>(bufs[slot].size()) < n) bufs[slot].resize(n);
  return bufs[slot].data();
}

// Row loops in 8 independent lanes, so they vectorise without reassociating one chain (the order is
// fixed, so results do not depend on the thread count); compiled per ISA like vec.h.
template <class F>
inline F row_sum_impl(const F* x, int64_t n) {
  F s[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) s[k] += x[j + k];
  F r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; j < n; ++j) r += x[j];
  return r;
}
// dS = attention_ds(P, dP, D, scale), in place over dP.
template <class F>
inline void ds_row_impl(F* dp, const F* p, F D, F scale, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dp[j] = attention_ds(p[j], dp[j], D, scale);
}
template <class F>
inline void scale_row_impl(F* x, F alpha, int64_t n) {
  for (int64_t j = 0; j < n; ++j) x[j] *= alpha;
}

WEFT_MULTIVERSION float row_sum(const float* x, int64_t n) { return row_sum_impl(x, n); }
WEFT_MULTIVERSION double row_sum(const double* x, int64_t n) { return row_sum_impl(x, n); }
WEFT_MULTIVERSION void ds_row(float* dp, const float* p, float D, float scale, int64_t n) {
  ds_row_impl(dp, p, D, scale, n);
}
WEFT_MULTIVERSION void ds_row(double* dp, const double* p, double D, double scale, int64_t n) {
  ds_row_impl(dp, p, D, scale, n);
}
WEFT_MULTIVERSION void scale_row(float* x, float alpha, int64_t n) { scale_row_impl(x, alpha, n); }
WEFT_MULTIVERSION void scale_row(double* x, double alpha, int64_t n) { scale_row_impl(x, alpha, n); }

// row[j] = exp(row[j] - m) in place.
inline void exp_row(float* row, float m, int64_t n) { exp_scale_f32(row, row, m, 1.0f, n, false); }
inline void exp_row(double* row, double m, int64_t n) {
  for (int64_t j = 0; j < n; ++j) row[j] = std::exp(row[j] - m);
}

// The keys [begin, end) a block of query rows [i0, i0 + nq) reads: up to the last row's position when
// causal (all Tk otherwise), from the first key in the first row's window (0 without a window).
struct KeyRange {
  int64_t begin, end;
  int64_t size() const { return end - begin; }
};
KeyRange block_keys(int64_t i0, int64_t nq, int64_t Tk, int64_t off, const PositionBias& bias, bool causal) {
  return {bias.first_key(i0 + off), causal ? i0 + nq + off : Tk};
}

// Scores of query rows [i0, i0 + nq) against the keys kr: S (nq, kr.size()) = scale q k^T + bias, masked
// (causal and window); query i sits at key position i + off, k points at key 0.
template <class F>
void block_scores(F* S, const F* q, const F* k, int64_t i0, int64_t nq, KeyRange kr, int64_t stride, int64_t HS,
                  F scale, const PositionBias& bias, int64_t h, bool causal, int64_t off) {
  const int64_t nk = kr.size();
  gemm_rm(false, true, nq, nk, HS, scale, q + i0 * stride, stride, k + kr.begin * stride, stride, F(0), S, nk);
  const F neg_inf = -std::numeric_limits<F>::infinity();
  for (int64_t r = 0; r < nq; ++r) {
    const int64_t i = i0 + r + off;
    F* row = S + r * nk;  // row[c] is key kr.begin + c
    const int64_t first = bias.first_key(i) - kr.begin, visible = causal ? std::min(kr.end, i + 1) - kr.begin : nk;
    for (int64_t c = 0; c < first; ++c) row[c] = neg_inf;
    if (bias.kind != PositionBias::Kind::none)
      for (int64_t c = first; c < visible; ++c) row[c] += static_cast<F>(bias(h, i, kr.begin + c));
    for (int64_t c = visible; c < nk; ++c) row[c] = neg_inf;
  }
}

}  // namespace

void attention_forward(Exec& ex, DType dt, void* out, void* lse, const void* q, const void* k, const void* v,
                       int64_t B, int64_t Tq, int64_t Tk, int64_t NH, int64_t HS, float scale,
                       const PositionBias& bias, bool causal) {
  dispatch_float(dt, "attention_forward", [&](auto tag) {
    using F = decltype(tag);
    F *o = static_cast<F*>(out), *l = static_cast<F*>(lse);
    const F *qp = static_cast<const F*>(q), *kp = static_cast<const F*>(k), *vp = static_cast<const F*>(v);
    const int64_t stride = NH * HS, blocks = (Tq + kBlock - 1) / kBlock, off = Tk - Tq;
#pragma omp parallel for collapse(3) schedule(dynamic, 1) num_threads(threads_for(ex, B * NH * Tq * Tk * HS))
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h)
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const int64_t base = b * Tq * stride + h * HS, kbase = b * Tk * stride + h * HS, i0 = blk * kBlock,
                        nq = std::min(kBlock, Tq - i0);
          const KeyRange kr = block_keys(i0, nq, Tk, off, bias, causal);
          const int64_t nk = kr.size();
          F* S = scratch<F>(0, nq * nk);
          block_scores(S, qp + base, kp + kbase, i0, nq, kr, stride, HS, static_cast<F>(scale), bias, h, causal, off);
          F inv_sum[kBlock];
          for (int64_t r = 0; r < nq; ++r) {  // S becomes the unnormalised exp(S - max) row by row
            F* row = S + r * nk;
            const F m = max_value(row, nk);
            exp_row(row, m, nk);
            const F sum = row_sum(row, nk);
            inv_sum[r] = F(1) / sum;
            l[(b * NH + h) * Tq + i0 + r] = m + std::log(sum);
          }
          F* ob = o + base + i0 * stride;  // O = (exp rows) V, then each row divided by its sum
          gemm_rm(false, false, nq, HS, nk, F(1), S, nk, vp + kbase + kr.begin * stride, stride, F(0), ob, stride);
          for (int64_t r = 0; r < nq; ++r) scale_row(ob + r * stride, inv_sum[r], HS);
        }
  });
}

void attention_backward(Exec& ex, DType dt, void* dq, void* dk, void* dv, const void* dout, const void* out,
                        const void* lse, const void* q, const void* k, const void* v, int64_t B, int64_t Tq,
                        int64_t Tk, int64_t NH, int64_t HS, float scale, const PositionBias& bias, bool causal) {
  dispatch_float(dt, "attention_backward", [&](auto tag) {
    using F = decltype(tag);
    F *dqp = static_cast<F*>(dq), *dkp = static_cast<F*>(dk), *dvp = static_cast<F*>(dv);
    const F *dop = static_cast<const F*>(dout), *op = static_cast<const F*>(out), *l = static_cast<const F*>(lse);
    const F *qp = static_cast<const F*>(q), *kp = static_cast<const F*>(k), *vp = static_cast<const F*>(v);
    const int64_t stride = NH * HS, blocks = (Tq + kBlock - 1) / kBlock, off = Tk - Tq;
    const F sc = static_cast<F>(scale);
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(threads_for(ex, B * NH * Tq * Tk * HS))
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h) {
        const int64_t base = b * Tq * stride + h * HS, kbase = b * Tk * stride + h * HS;
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const int64_t i0 = blk * kBlock, nq = std::min(kBlock, Tq - i0);
          const KeyRange kr = block_keys(i0, nq, Tk, off, bias, causal);
          const int64_t nk = kr.size(), kb = kbase + kr.begin * stride;  // kb: the block's first key
          F* P = scratch<F>(0, nq * nk);
          F* dP = scratch<F>(1, nq * nk);
          block_scores(P, qp + base, kp + kbase, i0, nq, kr, stride, HS, sc, bias, h, causal, off);
          for (int64_t r = 0; r < nq; ++r) exp_row(P + r * nk, l[(b * NH + h) * Tq + i0 + r], nk);  // exp(S - lse)
          const F* dO = dop + base + i0 * stride;
          if (dvp) gemm_rm(true, false, nk, HS, nq, F(1), P, nk, dO, stride, F(1), dvp + kb, stride);
          if (!dqp && !dkp) continue;
          gemm_rm(false, true, nq, nk, HS, F(1), dO, stride, vp + kb, stride, F(0), dP, nk);  // dP = dO V^T
          for (int64_t r = 0; r < nq; ++r) {  // dP becomes dS in place; D_i = dout_i . out_i
            const F D = dot(dO + r * stride, op + base + (i0 + r) * stride, HS);
            ds_row(dP + r * nk, P + r * nk, D, sc, nk);
          }
          if (dqp)  // dq (nq, HS) += dS K
            gemm_rm(false, false, nq, HS, nk, F(1), dP, nk, kp + kb, stride, F(1), dqp + base + i0 * stride, stride);
          if (dkp)  // dk (nk, HS) += dS^T Q
            gemm_rm(true, false, nk, HS, nq, F(1), dP, nk, qp + base + i0 * stride, stride, F(1), dkp + kb, stride);
        }
      }
  });
}

}  // namespace weft::cpu
