// CPU fused cross-entropy: one pass per row computes the log-sum-exp and the target's loss. For training,
// xent_forward_grad also writes the gradient (softmax - onehot, scaled) while each row is in cache: in f32 one
// exp per logit serves both the sum and the gradient, and no probability tensor exists. xent_grad_apply
// applies dloss in the backward (nothing to do for the usual dloss of 1). f32 rows use the vectorised exp
// of vec.h.
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

void xent_forward_grad(Exec& ex, DType dt, void* losses, void* lse, void* dlogits, const void* logits,
                       const int32_t* targets, int64_t N, int64_t V, int32_t ignore_index, float grad_scale) {
  for (int64_t r = 0; r < N; ++r) check_target(targets[r], r, V, ignore_index);
  dispatch_float(dt, "xent_forward_grad", [&](auto tag) {
    using T = decltype(tag);
    T *out = static_cast<T*>(losses), *l = static_cast<T*>(lse), *d = static_cast<T*>(dlogits);
    const T* lg = static_cast<const T*>(logits);
    const T scale = static_cast<T>(grad_scale);
#pragma omp parallel for num_threads(threads_for(ex, N * V))
    for (int64_t r = 0; r < N; ++r) {
      const T* row = lg + r * V;
      T* drow = d + r * V;
      const T m = max_value(row, V);
      if constexpr (std::is_same_v<T, float>) {  // one exp per logit: the gradient reuses the forward's
        const float sum = exp_store_sum_f32(drow, row, m, V);
        l[r] = m + std::log(sum);
        scale_f32(drow, scale / sum, V);
      } else {
        T sum = 0;
        for (int64_t v = 0; v < V; ++v) sum += std::exp(row[v] - m);
        l[r] = m + std::log(sum);
        for (int64_t v = 0; v < V; ++v) drow[v] = scale * std::exp(row[v] - l[r]);
      }
      if (targets[r] == ignore_index) {
        out[r] = T(0);
        std::fill(drow, drow + V, T(0));
        continue;
      }
      out[r] = l[r] - row[targets[r]];
      drow[targets[r]] -= scale;
    }
  });
}

void xent_grad_apply(Exec& ex, DType dt, void* dlogits, const void* grad, const void* dloss, int64_t n,
                     bool accumulate) {
  dispatch_float(dt, "xent_grad_apply", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dlogits);
    const T* g = static_cast<const T*>(grad);
    const T s = static_cast<const T*>(dloss)[0];  // the loss has the logits' type on the CPU (f32 or f64)
    if (!accumulate && d == g && s == T(1)) return;  // the forward's gradient is the answer
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t i = 0; i < n; ++i) d[i] = (accumulate ? d[i] : T(0)) + s * g[i];
  });
}

}  // namespace weft::cpu
