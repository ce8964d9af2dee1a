// CPU optimizer kernels: the AdamW update over a flat range and a deterministic sum of squares
// (fixed-size chunks summed in order, so the global norm does not depend on the thread count).
#include <cmath>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
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
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t i = 0; i < n; ++i) adamw_element<T, T>(p[i], mp[i], vp[i], g[i], h);
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
      double s = 0;
      for (int64_t i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i) s += static_cast<double>(xp[i]) * xp[i];
      partial[c] = s;
    }
    double total = 0;
    for (double s : partial) total += s;
    *out = total;
  });
}

}  // namespace weft::cpu
