// CPU softmax over the last dim of x (N, C) and its backward (dx += y * (dy - sum(dy * y))); log-sum-exp
// over the last dim and its backward (dx += dy * exp(x - lse)).
// Rows are independent and run in parallel, each reduced in a fixed order, so results do not depend on
// the thread count. f32 rows use the vectorised exp of vec.h.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/backend_cpu/vec.h"
#include "runtime/kernels.h"
#include "runtime/math/rowwise.h"

namespace weft::cpu {

void softmax_forward(Exec& ex, DType dt, void* y, const void* x, int64_t N, int64_t C) {
  dispatch_float(dt, "softmax_forward", [&](auto tag) {
    using T = decltype(tag);
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
#pragma omp parallel for num_threads(threads_for(ex, N * C))
    for (int64_t r = 0; r < N; ++r) {
      const T* xr = xp + r * C;
      T* yr = yp + r * C;
      const T m = max_value(xr, C);
      T sum = 0;
      if constexpr (std::is_same_v<T, float>) {
        sum = sum_exp_f32(xr, m, C);
        exp_scale_f32(yr, xr, m, 1.0f / sum, C, false);
      } else {
        for (int64_t c = 0; c < C; ++c) sum += (yr[c] = std::exp(xr[c] - m));
        const T inv = T(1) / sum;
        for (int64_t c = 0; c < C; ++c) yr[c] *= inv;
      }
    }
  });
}

void softmax_backward(Exec& ex, DType dt, void* dx, const void* dy, const void* y, int64_t N, int64_t C) {
  dispatch_float(dt, "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    T* dxp = static_cast<T*>(dx);
    const T *dyp = static_cast<const T*>(dy), *yp = static_cast<const T*>(y);
#pragma omp parallel for num_threads(threads_for(ex, N * C))
    for (int64_t r = 0; r < N; ++r) {
      const T *dr = dyp + r * C, *yr = yp + r * C;
      T dot = 0;
      for (int64_t c = 0; c < C; ++c) dot += dr[c] * yr[c];
      T* dxr = dxp + r * C;
      for (int64_t c = 0; c < C; ++c) dxr[c] += softmax_dx(yr[c], dr[c], dot);
    }
  });
}

void logsumexp_forward(Exec& ex, DType dt, void* y, const void* x, int64_t N, int64_t C) {
  dispatch_float(dt, "logsumexp_forward", [&](auto tag) {
    using T = decltype(tag);
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
#pragma omp parallel for num_threads(threads_for(ex, N * C))
    for (int64_t r = 0; r < N; ++r) {
      const T* xr = xp + r * C;
      const T m = max_value(xr, C);
      if (std::isinf(m)) {  // a row of -inf (or one +inf): the limit, not inf - inf
        yp[r] = m;
        continue;
      }
      T sum = 0;
      for (int64_t c = 0; c < C; ++c) sum += std::exp(xr[c] - m);
      yp[r] = m + std::log(sum);
    }
  });
}

void logsumexp_backward(Exec& ex, DType dt, void* dx, const void* dy, const void* x, const void* y, int64_t N,
                        int64_t C) {
  dispatch_float(dt, "logsumexp_backward", [&](auto tag) {
    using T = decltype(tag);
    T* dxp = static_cast<T*>(dx);
    const T *dyp = static_cast<const T*>(dy), *xp = static_cast<const T*>(x), *yp = static_cast<const T*>(y);
#pragma omp parallel for num_threads(threads_for(ex, N * C))
    for (int64_t r = 0; r < N; ++r) {
      const T *xr = xp + r * C, d = dyp[r], lse = yp[r];
      T* dxr = dxp + r * C;
      for (int64_t c = 0; c < C; ++c) dxr[c] += d * std::exp(xr[c] - lse);
    }
  });
}

}  // namespace weft::cpu
