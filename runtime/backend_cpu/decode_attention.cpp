// CPU decode attention (sampling with a key/value cache, runtime/kernel_decls.inc): the new queries of each
// batch item against the keys its cache row holds. Per (item, head, block of up to 64 queries) the scores
// S = scale Q K^T are one GEMM over the keys the block can see (heads read in place, row stride NH * HS),
// the positional bias, causal mask and window are applied row by row, softmax, then O = P V is a second GEMM.
// One query (the usual decode step) is a GEMV through the same calls. Items own disjoint output rows, so
// the parallel loop has no races and results do not depend on the thread count. Forward only.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/backend_cpu/gemm_library.h"
#include "runtime/kernels.h"

namespace weft::cpu {

namespace {

constexpr int64_t kBlock = 64;  // query rows per block
// Multiply-adds below which the kernel runs on one thread: a sampling step (one query per row against up to
// a few thousand keys) takes ~0.1 ms alone, less than an OpenMP region costs when the machine is busy (a
// barrier waits for a descheduled thread); prefills of many queries are far above it.
constexpr int64_t kDecodeParallelGrain = int64_t(1) << 23;

// Row-major C = alpha op(A) op(B) + beta C (beta = 0).
void gemm_rm(bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc) {
  sgemm_row_major(cpu_gemm(), false, tb, M, N, K, alpha, A, lda, B, ldb, 0.0f, C, ldc);  // runtime/cpu_gemm.h
}
void gemm_rm(bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda, const double* B,
             int64_t ldb, double* C, int64_t ldc) {
  dgemm_row_major(false, tb, M, N, K, alpha, A, lda, B, ldb, 0.0, C, ldc);
}

template <class F>
F* scores_scratch(int64_t n) {
  thread_local std::vector<F> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

// One (item, head, query block): queries t0 .. t0 + nq - 1 at positions p0 + r, keys from `k` (key 0 of the
// row, this head), output rows to `o`.
template <class F>
void decode_block(F* o, const F* q, const F* k, const F* v, int64_t p0, int64_t nq, int64_t stride, int64_t HS,
                  F scale, const PositionBias& bias, int64_t h) {
  const int64_t begin = bias.first_key(p0), end = p0 + nq, nk = end - begin;  // keys the block reads
  F* S = scores_scratch<F>(nq * nk);
  gemm_rm(true, nq, nk, HS, scale, q, stride, k + begin * stride, stride, S, nk);
  const F neg_inf = -std::numeric_limits<F>::infinity();
  for (int64_t r = 0; r < nq; ++r) {
    const int64_t p = p0 + r, first = bias.first_key(p) - begin, visible = p + 1 - begin;
    F* row = S + r * nk;  // row[c] is key begin + c
    for (int64_t c = 0; c < first; ++c) row[c] = neg_inf;
    if (bias.kind != PositionBias::Kind::none)
      for (int64_t c = first; c < visible; ++c) row[c] += static_cast<F>(bias(h, p, begin + c));
    for (int64_t c = visible; c < nk; ++c) row[c] = neg_inf;
    F m = row[first];
    for (int64_t c = first; c < visible; ++c) m = std::max(m, row[c]);
    F sum = 0;
    for (int64_t c = 0; c < nk; ++c) sum += (row[c] = c < first || c >= visible ? F(0) : std::exp(row[c] - m));
    const F inv = F(1) / sum;
    for (int64_t c = first; c < visible; ++c) row[c] *= inv;
  }
  gemm_rm(false, nq, HS, nk, F(1), S, nk, v + begin * stride, stride, o, stride);
}

}  // namespace

void decode_attention_forward(Exec& ex, DType dt, void* out, const void* q, const void* k_cache, const void* v_cache,
                              const int32_t* rows, const int32_t* lengths, int64_t B, int64_t n, int64_t L,
                              int64_t NH, int64_t HS, float scale, const PositionBias& bias) {
  dispatch_float(dt, "decode_attention_forward", [&](auto tag) {
    using F = decltype(tag);
    F* o = static_cast<F*>(out);
    const F *qp = static_cast<const F*>(q), *kp = static_cast<const F*>(k_cache), *vp = static_cast<const F*>(v_cache);
    const int64_t stride = NH * HS, blocks = (n + kBlock - 1) / kBlock;
    int64_t work = 0;  // multiply-adds, to decide whether threads pay off
    for (int64_t b = 0; b < B; ++b) work += n * static_cast<int64_t>(lengths[b]) * stride;
#pragma omp parallel for collapse(3) schedule(dynamic, 1) num_threads(work < kDecodeParallelGrain ? 1 : ex.threads)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h)
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const int64_t t0 = blk * kBlock, nq = std::min(kBlock, n - t0), p0 = lengths[b] - n + t0;
          const int64_t qbase = (b * n + t0) * stride + h * HS, kbase = rows[b] * L * stride + h * HS;
          decode_block(o + qbase, qp + qbase, kp + kbase, vp + kbase, p0, nq, stride, HS, static_cast<F>(scale), bias,
                       h);
        }
  });
}

}  // namespace weft::cpu
