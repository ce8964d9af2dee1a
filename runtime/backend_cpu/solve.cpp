// CPU symmetric positive-definite solve by Cholesky, for small matrices solved once (the infinity-former's
// ridge regression G = F^T (F F^T + lambda I)^-1). Plain loops: n is at most a few hundred.
#include <cmath>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/kernels.h"
#include "runtime/math/cholesky.h"

namespace weft::cpu {

void spd_solve_forward(Exec&, DType dt, void* X, void* L, const void* A, const void* Bm, int64_t n, int64_t m) {
  dispatch_float(dt, "spd_solve_forward", [&](auto tag) {
    using T = decltype(tag);
    T *x = static_cast<T*>(X), *l = static_cast<T*>(L);
    const T *a = static_cast<const T*>(A), *b = static_cast<const T*>(Bm);
    for (int64_t i = 0; i < n * n; ++i) l[i] = 0;
    for (int64_t j = 0; j < n; ++j) {
      const T d = cholesky_residual(a[j * n + j], l, n, j, j);
      WEFT_CHECK(d > 0 && std::isfinite(static_cast<double>(d)), "[spd_solve] matrix is not positive definite (pivot ",
                 j, " = ", static_cast<double>(d), ")");
      T djj = std::sqrt(d);
      l[j * n + j] = djj;
      for (int64_t i = j + 1; i < n; ++i) l[i * n + j] = cholesky_residual(a[i * n + j], l, n, i, j) / djj;
    }
    for (int64_t i = 0; i < n * m; ++i) x[i] = b[i];
    for (int64_t c = 0; c < m; ++c) cholesky_solve_column(x, l, n, m, c);
  });
}

void spd_solve_backward(Exec&, DType dt, void* dA, void* dB, const void* dX, const void* X, const void* L, int64_t n,
                        int64_t m) {
  dispatch_float(dt, "spd_solve_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *dx = static_cast<const T*>(dX), *x = static_cast<const T*>(X), *l = static_cast<const T*>(L);
    std::vector<T> g(dx, dx + n * m);  // g = A^-1 dX, the gradient w.r.t. B
    for (int64_t c = 0; c < m; ++c) cholesky_solve_column(g.data(), l, n, m, c);
    if (dB) {
      T* db = static_cast<T*>(dB);
      for (int64_t i = 0; i < n * m; ++i) db[i] += g[i];
    }
    if (dA) {
      T* da = static_cast<T*>(dA);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j <= i; ++j) da[i * n + j] += spd_solve_grad_entry(g.data(), x, m, i, j);
    }
  });
}

}  // namespace weft::cpu
