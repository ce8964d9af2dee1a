// CPU normalisation kernels over the last dim: LayerNorm and RMSNorm (per-element formulas in
// runtime/math/rowwise.h). Rows are independent and run in parallel; weight/bias gradients are summed
// over rows in a fixed order per column block, so results do not depend on the thread count.
#include <algorithm>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/kernels.h"
#include "runtime/math/rowwise.h"

namespace weft::cpu {

namespace {

// dweight / dbias (C) += sum over rows of per-row terms, computed column-block by column-block.
template <class T, class RowTerm>
void accumulate_columns(Exec& ex, T* dst, int64_t N, int64_t C, RowTerm term) {
#pragma omp parallel for num_threads(threads_for(ex, N * C))
  for (int64_t c0 = 0; c0 < C; c0 += 64) {
    int64_t c1 = std::min(C, c0 + 64);
    T acc[64] = {};
    for (int64_t r = 0; r < N; ++r)
      for (int64_t c = c0; c < c1; ++c) acc[c - c0] += term(r, c);
    for (int64_t c = c0; c < c1; ++c) dst[c] += acc[c - c0];
  }
}

}  // namespace

void layernorm_forward(Exec& ex, DType dt, void* out, void* mean, void* rstd, const void* x, const void* weight,
                       const void* bias, int64_t N, int64_t C, float eps) {
  dispatch_float(dt, "layernorm_forward", [&](auto tag) {
    using T = decltype(tag);
    T *o = static_cast<T*>(out), *mu = static_cast<T*>(mean), *rs = static_cast<T*>(rstd);
    const T *xp = static_cast<const T*>(x), *w = static_cast<const T*>(weight), *b = static_cast<const T*>(bias);
#pragma omp parallel for num_threads(threads_for(ex, N * C))
    for (int64_t r = 0; r < N; ++r) {
      const T* xr = xp + r * C;
      T m = 0;
      for (int64_t c = 0; c < C; ++c) m += xr[c];
      m /= static_cast<T>(C);
      T v = 0;
      for (int64_t c = 0; c < C; ++c) v += (xr[c] - m) * (xr[c] - m);
      v /= static_cast<T>(C);
      T s = norm_rstd(v, static_cast<T>(eps));
      mu[r] = m;
      rs[r] = s;
      T* orow = o + r * C;
      for (int64_t c = 0; c < C; ++c) {
        T y = (xr[c] - m) * s;
        orow[c] = y * (w ? w[c] : T(1)) + (b ? b[c] : T(0));
      }
    }
  });
}

void layernorm_backward(Exec& ex, DType dt, void* dx, void* dweight, void* dbias, const void* dout, const void* x,
                        const void* weight, const void* mean, const void* rstd, int64_t N, int64_t C) {
  dispatch_float(dt, "layernorm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *d = static_cast<const T*>(dout), *xp = static_cast<const T*>(x), *w = static_cast<const T*>(weight);
    const T *mu = static_cast<const T*>(mean), *rs = static_cast<const T*>(rstd);
    if (dx) {
      T* dxp = static_cast<T*>(dx);
#pragma omp parallel for num_threads(threads_for(ex, N * C))
      for (int64_t r = 0; r < N; ++r) {
        const T *dr = d + r * C, *xr = xp + r * C;
        T m = mu[r], s = rs[r];
        // g = dout * w; the row means of g and g * xhat feed layernorm_dx
        T sum_g = 0, sum_gx = 0;
        for (int64_t c = 0; c < C; ++c) {
          T g = dr[c] * (w ? w[c] : T(1));
          sum_g += g;
          sum_gx += g * (xr[c] - m) * s;
        }
        sum_g /= static_cast<T>(C);
        sum_gx /= static_cast<T>(C);
        T* dxr = dxp + r * C;
        for (int64_t c = 0; c < C; ++c) {
          T g = dr[c] * (w ? w[c] : T(1));
          dxr[c] += layernorm_dx(g, (xr[c] - m) * s, s, sum_g, sum_gx);
        }
      }
    }
    if (dweight)
      accumulate_columns<T>(ex, static_cast<T*>(dweight), N, C,
                            [&](int64_t r, int64_t c) { return d[r * C + c] * (xp[r * C + c] - mu[r]) * rs[r]; });
    if (dbias)
      accumulate_columns<T>(ex, static_cast<T*>(dbias), N, C, [&](int64_t r, int64_t c) { return d[r * C + c]; });
  });
}

void rmsnorm_forward(Exec& ex, DType dt, void* out, void* rstd, const void* x, const void* weight, int64_t N,
                     int64_t C, float eps) {
  dispatch_float(dt, "rmsnorm_forward", [&](auto tag) {
    using T = decltype(tag);
    T *o = static_cast<T*>(out), *rs = static_cast<T*>(rstd);
    const T *xp = static_cast<const T*>(x), *w = static_cast<const T*>(weight);
#pragma omp parallel for num_threads(threads_for(ex, N * C))
    for (int64_t r = 0; r < N; ++r) {
      const T* xr = xp + r * C;
      T ms = 0;
      for (int64_t c = 0; c < C; ++c) ms += xr[c] * xr[c];
      T s = norm_rstd(ms / static_cast<T>(C), static_cast<T>(eps));
      rs[r] = s;
      for (int64_t c = 0; c < C; ++c) o[r * C + c] = xr[c] * s * (w ? w[c] : T(1));
    }
  });
}

void rmsnorm_backward(Exec& ex, DType dt, void* dx, void* dweight, const void* dout, const void* x, const void* weight,
                      const void* rstd, int64_t N, int64_t C) {
  dispatch_float(dt, "rmsnorm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *d = static_cast<const T*>(dout), *xp = static_cast<const T*>(x), *w = static_cast<const T*>(weight);
    const T* rs = static_cast<const T*>(rstd);
    if (dx) {
      T* dxp = static_cast<T*>(dx);
#pragma omp parallel for num_threads(threads_for(ex, N * C))
      for (int64_t r = 0; r < N; ++r) {
        const T *dr = d + r * C, *xr = xp + r * C;
        T s = rs[r], dot = 0;
        for (int64_t c = 0; c < C; ++c) dot += dr[c] * (w ? w[c] : T(1)) * xr[c];
        const T mean_gx = dot / static_cast<T>(C);  // g = dout * w
        for (int64_t c = 0; c < C; ++c) dxp[r * C + c] += rmsnorm_dx(dr[c] * (w ? w[c] : T(1)), xr[c], s, mean_gx);
      }
    }
    if (dweight)
      accumulate_columns<T>(ex, static_cast<T*>(dweight), N, C,
                            [&](int64_t r, int64_t c) { return d[r * C + c] * xp[r * C + c] * rs[r]; });
  });
}

}  // namespace weft::cpu
