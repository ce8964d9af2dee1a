// CPU fused cross-entropy: one pass per row computes the log-sum-exp (saved for the backward) and the
// target's loss; the backward writes softmax - onehot directly from the saved lse, without a
// probability tensor. f32 rows use the vectorised exp of vec.h.
#include <algorithm>
#include <cmath>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/backend_cpu/vec.h"
#include "runtime/kernels.h"

namespace weft::cpu {

namespace {
template <class T>
T row_logsumexp(const T* row, int64_t V) {
  const T m = max_value(row, V);
  if constexpr (std::is_same_v<T, float>) {
    return m + std::log(sum_exp_f32(row, m, V));
  } else {
    T s = 0;
    for (int64_t v = 0; v < V; ++v) s += std::exp(row[v] - m);
    return m + std::log(s);
  }
}

void check_target(int32_t t, int64_t row, int64_t V, int32_t ignore_index) {
  WEFT_CHECK(t == ignore_index || (t >= 0 && t < V), "[cross_entropy] target ", t, " at row ", row,
             " is outside the vocabulary [0, ", V, ")");
}
}  // namespace

void xent_forward(Exec& ex, DType dt, void* losses, void* lse, const void* logits, const int32_t* targets, int64_t N,
                  int64_t V, int32_t ignore_index) {
  for (int64_t r = 0; r < N; ++r) check_target(targets[r], r, V, ignore_index);
  dispatch_float(dt, "xent_forward", [&](auto tag) {
    using T = decltype(tag);
    T *out = static_cast<T*>(losses), *l = static_cast<T*>(lse);
    const T* lg = static_cast<const T*>(logits);
#pragma omp parallel for num_threads(threads_for(ex, N * V))
    for (int64_t r = 0; r < N; ++r) {
      const T* row = lg + r * V;
      l[r] = row_logsumexp(row, V);
      out[r] = targets[r] == ignore_index ? T(0) : l[r] - row[targets[r]];
    }
  });
}

void xent_backward(Exec& ex, DType dt, void* dlogits, const void* dloss, const void* logits, const void* lse,
                   const int32_t* targets, int64_t N, int64_t V, int32_t ignore_index, float inv_norm,
                   bool accumulate) {
  dispatch_float(dt, "xent_backward", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dlogits);
    const T *lg = static_cast<const T*>(logits), *l = static_cast<const T*>(lse);
    const T scale = static_cast<const T*>(dloss)[0] * static_cast<T>(inv_norm);
#pragma omp parallel for num_threads(threads_for(ex, N * V))
    for (int64_t r = 0; r < N; ++r) {
      const T* row = lg + r * V;
      T* drow = d + r * V;
      if (targets[r] == ignore_index) {
        if (!accumulate) std::fill(drow, drow + V, T(0));
        continue;
      }
      if constexpr (std::is_same_v<T, float>) {
        exp_scale_f32(drow, row, l[r], scale, V, accumulate);
      } else {
        for (int64_t v = 0; v < V; ++v) drow[v] = (accumulate ? drow[v] : T(0)) + scale * std::exp(row[v] - l[r]);
      }
      drow[targets[r]] -= scale;
    }
  });
}

}  // namespace weft::cpu
