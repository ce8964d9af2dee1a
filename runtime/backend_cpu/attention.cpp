// CPU causal attention with an additive positional bias evaluated from (h, i, j) inside the loop.
// Forward: one score row at a time in a per-thread scratch (T), softmax, weighted sum of values; the
// log-sum-exp of every row is saved. Backward: recomputes each probability row from the lse (no T x T
// tensor), parallel over (batch, head) pairs, each of which owns its dk / dv slices (no races).
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/backend_cpu/vec.h"
#include "runtime/kernels.h"

namespace weft::cpu {

namespace {

template <class T>
std::vector<T>& scratch(int64_t n) {
  thread_local std::vector<T> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf;
}

// Scores of query row i against keys 0..n-1 into s; returns the row maximum.
template <class T>
T score_row(T* s, const T* q, const T* k, int64_t n, int64_t stride, int64_t HS, T scale, const PositionBias& bias,
            int64_t h, int64_t i) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    s[j] = scale * dot(q, k + j * stride, HS) + static_cast<T>(bias(h, i, j));
    m = s[j] > m ? s[j] : m;
  }
  return m;
}

}  // namespace

void attention_forward(Exec& ex, DType dt, void* out, void* lse, const void* q, const void* k, const void* v,
                       int64_t B, int64_t T, int64_t NH, int64_t HS, float scale, const PositionBias& bias,
                       bool causal) {
  dispatch_float(dt, "attention_forward", [&](auto tag) {
    using F = decltype(tag);
    F *o = static_cast<F*>(out), *l = static_cast<F*>(lse);
    const F *qp = static_cast<const F*>(q), *kp = static_cast<const F*>(k), *vp = static_cast<const F*>(v);
    const int64_t stride = NH * HS;  // between consecutive time steps of one head
    const F sc = static_cast<F>(scale);
#pragma omp parallel for collapse(3) schedule(dynamic, 16) num_threads(threads_for(ex, B * NH * T * T * HS / 2))
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h)
        for (int64_t i = 0; i < T; ++i) {
          const int64_t base = b * T * stride + h * HS;
          const int64_t n = causal ? i + 1 : T;
          std::vector<F>& s = scratch<F>(T);
          F m = score_row(s.data(), qp + base + i * stride, kp + base, n, stride, HS, sc, bias, h, i);
          F sum = 0;
          for (int64_t j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - m));
          F* orow = o + base + i * stride;
          for (int64_t d = 0; d < HS; ++d) orow[d] = 0;
          F inv = F(1) / sum;
          for (int64_t j = 0; j < n; ++j) axpy(orow, s[j] * inv, vp + base + j * stride, HS);
          l[(b * NH + h) * T + i] = m + std::log(sum);
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
    const int64_t stride = NH * HS;
    const F sc = static_cast<F>(scale);
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(threads_for(ex, B * NH * T * T * HS))
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h) {
        const int64_t base = b * T * stride + h * HS;
        std::vector<F>& p = scratch<F>(T);
        for (int64_t i = 0; i < T; ++i) {
          const int64_t n = causal ? i + 1 : T;
          const F* qi = qp + base + i * stride;
          const F* doi = dop + base + i * stride;
          score_row(p.data(), qi, kp + base, n, stride, HS, sc, bias, h, i);
          const F li = l[(b * NH + h) * T + i];
          const F Di = dot(doi, op + base + i * stride, HS);
          for (int64_t j = 0; j < n; ++j) {
            F pj = std::exp(p[j] - li);
            const F* vj = vp + base + j * stride;
            if (dvp) axpy(dvp + base + j * stride, pj, doi, HS);
            F ds = pj * (dot(doi, vj, HS) - Di) * sc;
            if (dqp) axpy(dqp + base + i * stride, ds, kp + base + j * stride, HS);
            if (dkp) axpy(dkp + base + j * stride, ds, qi, HS);
          }
        }
      }
  });
}

}  // namespace weft::cpu
