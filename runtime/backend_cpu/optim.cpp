// CPU optimizer kernels: the AdamW update over a flat range (one decay value, or per-element decay by a
// table of ranges: the multi-tensor form AdamW::step uses) and a deterministic sum of squares (fixed-size
// chunks summed in order, so the global norm does not depend on the thread count).
#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/backend_cpu/vec.h"
#include "runtime/kernels.h"
#include "runtime/math/adamw.h"

namespace weft::cpu {

void adamw_update(Exec& ex, DType dt, void* param, void* m, void* v, const void* grad, int64_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float bias_correction1,
                  float bias_correction2, float grad_scale) {
  const AdamWHyper h{lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2, grad_scale};
  dispatch_float(dt, "adamw_update", [&](auto tag) {
    using T = decltype(tag);  // state has the parameters' type on the CPU (f32 or f64)
    T *p = static_cast<T*>(param), *mp = static_cast<T*>(m), *vp = static_cast<T*>(v);
    const T* g = static_cast<const T*>(grad);
    const int64_t chunk = 1 << 14, nchunks = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t c = 0; c < nchunks; ++c) {
      const int64_t lo = c * chunk, len = std::min(n, lo + chunk) - lo;
      if constexpr (std::is_same_v<T, float>)
        adamw_f32(p + lo, mp + lo, vp + lo, g + lo, len, h);
      else
        for (int64_t i = lo; i < lo + len; ++i) adamw_element<T, T>(p[i], mp[i], vp[i], g[i], h);
    }
  });
}

void adamw_update_ranges(Exec& ex, DType dt, void* param, void* m, void* v, const void* grad, int64_t n,
                         const int64_t* decay_ranges, int64_t R, float lr, float beta1, float beta2, float eps,
                         float weight_decay, float bias_correction1, float bias_correction2, float grad_scale) {
  for (int64_t r = 0; r < R; ++r)
    WEFT_CHECK(0 <= decay_ranges[2 * r] && decay_ranges[2 * r] <= decay_ranges[2 * r + 1] &&
                   decay_ranges[2 * r + 1] <= n && (r == 0 || decay_ranges[2 * r - 1] <= decay_ranges[2 * r]),
               "[cpu::adamw_update_ranges] decay range ", r, " is not sorted, disjoint and inside [0, ", n, ")");
  const AdamWHyper decay{lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2, grad_scale};
  AdamWHyper plain = decay;
  plain.weight_decay = 0.0f;
  dispatch_float(dt, "adamw_update_ranges", [&](auto tag) {
    using T = decltype(tag);  // state has the parameters' type on the CPU (f32 or f64)
    T *p = static_cast<T*>(param), *mp = static_cast<T*>(m), *vp = static_cast<T*>(v);
    const T* g = static_cast<const T*>(grad);
    // Chunks of the flat range; each walks its runs of equal decay (the result does not depend on the
    // chunking: every element sees the same formula and decay value).
    const int64_t chunk = 1 << 14, nchunks = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t c = 0; c < nchunks; ++c) {
      const int64_t hi = std::min(n, (c + 1) * chunk);
      int64_t r = adamw_range_after(decay_ranges, R, c * chunk);
      for (int64_t i = c * chunk; i < hi;) {
        while (r < R && decay_ranges[2 * r + 1] <= i) ++r;
        const bool decays = r < R && decay_ranges[2 * r] <= i;
        const int64_t run_end = std::min(hi, decays ? decay_ranges[2 * r + 1] : r < R ? decay_ranges[2 * r] : hi);
        const AdamWHyper& h = decays ? decay : plain;
        if constexpr (std::is_same_v<T, float>) {
          adamw_f32(p + i, mp + i, vp + i, g + i, run_end - i, h);
          i = run_end;
        } else {
          for (; i < run_end; ++i) adamw_element<T, T>(p[i], mp[i], vp[i], g[i], h);
        }
      }
    }
  });
}

void sum_squares(Exec& ex, DType dt, double* out, const void* x, int64_t n) {
  dispatch_float(dt, "sum_squares", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x);
    const int64_t chunk = 1 << 16, nchunks = (n + chunk - 1) / chunk;
    std::vector<double> partial(nchunks, 0.0);
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t c = 0; c < nchunks; ++c) {
      const int64_t lo = c * chunk, len = std::min(n, lo + chunk) - lo;
      if constexpr (std::is_same_v<T, float>) {
        partial[c] = sum_squares_f32(xp + lo, len);
      } else {
        double s = 0;
        for (int64_t i = lo; i < lo + len; ++i) s += static_cast<double>(xp[i]) * xp[i];
        partial[c] = s;
      }
    }
    double total = 0;
    for (double s : partial) total += s;
    *out = total;
  });
}

}  // namespace weft::cpu
