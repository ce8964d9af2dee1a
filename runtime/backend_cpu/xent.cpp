// CPU fused cross-entropy: per-row log-sum-exp and target log-probability in one pass; the backward
// writes softmax - onehot directly, without a probability tensor.
#include <cmath>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/kernels.h"

namespace weft::cpu {

namespace {
template <class T>
T row_logsumexp(const T* row, int64_t V) {
  T m = row[0];
  for (int64_t v = 1; v < V; ++v) m = row[v] > m ? row[v] : m;
  T s = 0;
  for (int64_t v = 0; v < V; ++v) s += std::exp(row[v] - m);
  return m + std::log(s);
}

void check_target(int32_t t, int64_t row, int64_t V, int32_t ignore_index) {
  WEFT_CHECK(t == ignore_index || (t >= 0 && t < V), "[cross_entropy] target ", t, " at row ", row,
             " is outside the vocabulary [0, ", V, ")");
}
}  // namespace

void xent_forward(Exec& ex, DType dt, void* losses, const void* logits, const int32_t* targets, int64_t N, int64_t V,
                  int32_t ignore_index) {
  for (int64_t r = 0; r < N; ++r) check_target(targets[r], r, V, ignore_index);
  dispatch_float(dt, "xent_forward", [&](auto tag) {
    using T = decltype(tag);
    T* out = static_cast<T*>(losses);
    const T* lg = static_cast<const T*>(logits);
#pragma omp parallel for num_threads(threads_for(ex, N * V))
    for (int64_t r = 0; r < N; ++r) {
      if (targets[r] == ignore_index) {
        out[r] = 0;
        continue;
      }
      const T* row = lg + r * V;
      out[r] = row_logsumexp(row, V) - row[targets[r]];
    }
  });
}

void xent_backward(Exec& ex, DType dt, void* dlogits, const void* dloss, const void* logits, const int32_t* targets,
                   int64_t N, int64_t V, int32_t ignore_index, float inv_norm) {
  dispatch_float(dt, "xent_backward", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dlogits);
    const T* lg = static_cast<const T*>(logits);
    const T scale = static_cast<const T*>(dloss)[0] * static_cast<T>(inv_norm);
#pragma omp parallel for num_threads(threads_for(ex, N * V))
    for (int64_t r = 0; r < N; ++r) {
      if (targets[r] == ignore_index) continue;
      const T* row = lg + r * V;
      T* drow = d + r * V;
      T lse = row_logsumexp(row, V);
      for (int64_t v = 0; v < V; ++v) drow[v] += scale * std::exp(row[v] - lse);
      drow[targets[r]] -= scale;
    }
  });
}

}  // namespace weft::cpu
