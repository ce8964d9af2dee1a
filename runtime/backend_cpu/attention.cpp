// CPU attention with an additive positional bias evaluated from (h, i, j), built on BLAS blocks:
// for each (batch, head) and block of up to 64 query rows, S = scale Q K^T is one GEMM (heads are read
// in place with a row stride of NH * HS), the bias, causal mask and softmax are applied row by row, and
// O = P V is a second GEMM. Only the per-row log-sum-exp is saved; the backward recomputes P block by
// block (no T x T tensor outlives a block), parallel over (batch, head) pairs, each of which owns its
// dk / dv slices, so there are no races. OpenBLAS runs single-threaded inside our parallel regions.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/backend_cpu/vec.h"
#include "runtime/kernels.h"
#include "runtime/math/rowwise.h"

namespace weft::cpu {

namespace {

constexpr int64_t kBlock = 64;  // query rows per block

// Row-major C = alpha op(A) op(B) + beta C.
void gemm_rm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
              ldb, beta, C, ldc);
}
void gemm_rm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
             const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
              ldb, beta, C, ldc);
}

template <class F>
F* scratch(int slot, int64_t n) {
  thread_local std::vector<F> bufs[2];
  if (static_cast<int64_t>(bufs[slot].size()) < n) bufs[slot].resize(n);
  return bufs[slot].data();
}

// Scores of query rows [i0, i0 + nq) against keys [0, nk): S (nq, nk) = scale q k^T + bias, masked.
template <class F>
void block_scores(F* S, const F* q, const F* k, int64_t i0, int64_t nq, int64_t nk, int64_t stride, int64_t HS,
                  F scale, const PositionBias& bias, int64_t h, bool causal) {
  gemm_rm(false, true, nq, nk, HS, scale, q + i0 * stride, stride, k, stride, F(0), S, nk);
  const F neg_inf = -std::numeric_limits<F>::infinity();
  for (int64_t r = 0; r < nq; ++r) {
    const int64_t i = i0 + r;
    F* row = S + r * nk;
    const int64_t visible = causal ? std::min(nk, i + 1) : nk;
    if (bias.kind != PositionBias::Kind::none)
      for (int64_t j = 0; j < visible; ++j) row[j] += static_cast<F>(bias(h, i, j));
    for (int64_t j = visible; j < nk; ++j) row[j] = neg_inf;
  }
}

}  // namespace

void attention_forward(Exec& ex, DType dt, void* out, void* lse, const void* q, const void* k, const void* v,
                       int64_t B, int64_t T, int64_t NH, int64_t HS, float scale, const PositionBias& bias,
                       bool causal) {
  dispatch_float(dt, "attention_forward", [&](auto tag) {
    using F = decltype(tag);
    F *o = static_cast<F*>(out), *l = static_cast<F*>(lse);
    const F *qp = static_cast<const F*>(q), *kp = static_cast<const F*>(k), *vp = static_cast<const F*>(v);
    const int64_t stride = NH * HS, blocks = (T + kBlock - 1) / kBlock;
#pragma omp parallel for collapse(3) schedule(dynamic, 1) num_threads(threads_for(ex, B * NH * T * T * HS))
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h)
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const int64_t base = b * T * stride + h * HS, i0 = blk * kBlock, nq = std::min(kBlock, T - i0);
          const int64_t nk = causal ? i0 + nq : T;
          F* S = scratch<F>(0, nq * nk);
          block_scores(S, qp + base, kp + base, i0, nq, nk, stride, HS, static_cast<F>(scale), bias, h, causal);
          for (int64_t r = 0; r < nq; ++r) {
            F* row = S + r * nk;
            F m = *std::max_element(row, row + nk), sum = 0;
            if constexpr (std::is_same_v<F, float>) {
              exp_scale_f32(row, row, m, 1.0f, nk, false);
              for (int64_t j = 0; j < nk; ++j) sum += row[j];
            } else {
              for (int64_t j = 0; j < nk; ++j) sum += (row[j] = std::exp(row[j] - m));
            }
            F inv = F(1) / sum;
            for (int64_t j = 0; j < nk; ++j) row[j] *= inv;
            l[(b * NH + h) * T + i0 + r] = m + std::log(sum);
          }
          gemm_rm(false, false, nq, HS, nk, F(1), S, nk, vp + base, stride, F(0), o + base + i0 * stride, stride);
        }
  });
}

void attention_backward(Exec& ex, DType dt, void* dq, void* dk, void* dv, const void* dout, const void* out,
                        const void* lse, const void* q, const void* k, const void* v, int64_t B, int64_t T,
                        int64_t NH, int64_t HS, float scale, const PositionBias& bias, bool causal) {
  dispatch_float(dt, "attention_backward", [&](auto tag) {
    using F = decltype(tag);
    F *dqp = static_cast<F*>(dq), *dkp = static_cast<F*>(dk), *dvp = static_cast<F*>(dv);
    const F *dop = static_cast<const F*>(dout), *op = static_cast<const F*>(out), *l = static_cast<const F*>(lse);
    const F *qp = static_cast<const F*>(q), *kp = static_cast<const F*>(k), *vp = static_cast<const F*>(v);
    const int64_t stride = NH * HS, blocks = (T + kBlock - 1) / kBlock;
    const F sc = static_cast<F>(scale);
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(threads_for(ex, B * NH * T * T * HS))
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h) {
        const int64_t base = b * T * stride + h * HS;
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const int64_t i0 = blk * kBlock, nq = std::min(kBlock, T - i0), nk = causal ? i0 + nq : T;
          F* P = scratch<F>(0, nq * nk);
          F* dP = scratch<F>(1, nq * nk);
          block_scores(P, qp + base, kp + base, i0, nq, nk, stride, HS, sc, bias, h, causal);
          for (int64_t r = 0; r < nq; ++r) {
            const F li = l[(b * NH + h) * T + i0 + r];
            if constexpr (std::is_same_v<F, float>)
              exp_scale_f32(P + r * nk, P + r * nk, li, 1.0f, nk, false);
            else
              for (int64_t j = 0; j < nk; ++j) P[r * nk + j] = std::exp(P[r * nk + j] - li);
          }
          const F* dO = dop + base + i0 * stride;
          if (dvp) gemm_rm(true, false, nk, HS, nq, F(1), P, nk, dO, stride, F(1), dvp + base, stride);
          if (!dqp && !dkp) continue;
          gemm_rm(false, true, nq, nk, HS, F(1), dO, stride, vp + base, stride, F(0), dP, nk);  // dP = dO V^T
          for (int64_t r = 0; r < nq; ++r) {
            const F* dOr = dO + r * stride;
            const F* Or = op + base + (i0 + r) * stride;
            F D = 0;
            for (int64_t d = 0; d < HS; ++d) D += dOr[d] * Or[d];
            F* dSr = dP + r * nk;  // dP becomes dS in place
            for (int64_t j = 0; j < nk; ++j) dSr[j] = attention_ds(P[r * nk + j], dSr[j], D, sc);
          }
          if (dqp)  // dq (nq, HS) += dS K
            gemm_rm(false, false, nq, HS, nk, F(1), dP, nk, kp + base, stride, F(1), dqp + base + i0 * stride, stride);
          if (dkp)  // dk (nk, HS) += dS^T Q
            gemm_rm(true, false, nk, HS, nq, F(1), dP, nk, qp + base + i0 * stride, stride, F(1), dkp + base, stride);
        }
      }
  });
}

}  // namespace weft::cpu
