// CPU symmetric positive-definite solve by Cholesky, for small matrices solved once (the infinity-former's
// ridge regression G = F^T (F F^T + lambda I)^-1). Plain loops: n is at most a few hundred.
#include <cmath>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/kernels.h"

namespace weft::cpu {

namespace {

// Solves L L^T X = B in place in X (n, m), given lower-triangular L (n, n).
template <class T>
void cholesky_solve_inplace(T* X, const T* L, int64_t n, int64_t m) {
  for (int64_t c = 0; c < m; ++c) {
    for (int64_t i = 0; i < n; ++i) {  // forward: L y = b
      T s = X[i * m + c];
      for (int64_t k = 0; k < i; ++k) s -= L[i * n + k] * X[k * m + c];
      X[i * m + c] = s / L[i * n + i];
    }
    for (int64_t i = n - 1; i >= 0; --i) {  // backward: L^T x = y
      T s = X[i * m + c];
      for (int64_t k = i + 1; k < n; ++k) s -= L[k * n + i] * X[k * m + c];
      X[i * m + c] = s / L[i * n + i];
    }
  }
}

}  // namespace

void spd_solve_forward(Exec&, DType dt, void* X, void* L, const void* A, const void* Bm, int64_t n, int64_t m) {
  dispatch_float(dt, "spd_solve_forward", [&](auto tag) {
    using T = decltype(tag);
    T *x = static_cast<T*>(X), *l = static_cast<T*>(L);
    const T *a = static_cast<const T*>(A), *b = static_cast<const T*>(Bm);
    for (int64_t i = 0; i < n * n; ++i) l[i] = 0;
    for (int64_t j = 0; j < n; ++j) {
      T d = a[j * n + j];
      for (int64_t k = 0; k < j; ++k) d -= l[j * n + k] * l[j * n + k];
      WEFT_CHECK(d > 0 && std::isfinite(static_cast<double>(d)), "[spd_solve] matrix is not positive definite (pivot ",
                 j, " = ", static_cast<double>(d), ")");
      T djj = std::sqrt(d);
      l[j * n + j] = djj;
      for (int64_t i = j + 1; i < n; ++i) {
        T s = a[i * n + j];
        for (int64_t k = 0; k < j; ++k) s -= l[i * n + k] * l[j * n + k];
        l[i * n + j] = s / djj;
      }
    }
    for (int64_t i = 0; i < n * m; ++i) x[i] = b[i];
    cholesky_solve_inplace(x, l, n, m);
  });
}

void spd_solve_backward(Exec&, DType dt, void* dA, void* dB, const void* dX, const void* X, const void* L, int64_t n,
                        int64_t m) {
  dispatch_float(dt, "spd_solve_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *dx = static_cast<const T*>(dX), *x = static_cast<const T*>(X), *l = static_cast<const T*>(L);
    std::vector<T> g(dx, dx + n * m);  // g = A^-1 dX, the gradient w.r.t. B
    cholesky_solve_inplace(g.data(), l, n, m);
    if (dB) {
      T* db = static_cast<T*>(dB);
      for (int64_t i = 0; i < n * m; ++i) db[i] += g[i];
    }
    if (dA) {
      // Full-matrix gradient G = -g X^T; only A's lower triangle is read, so an off-diagonal
      // element (i > j) stands for both A[i][j] and A[j][i].
      T* da = static_cast<T*>(dA);
      auto G = [&](int64_t i, int64_t j) {
        T s = 0;
        for (int64_t c = 0; c < m; ++c) s += g[i * m + c] * x[j * m + c];
        return -s;
      };
      for (int64_t i = 0; i < n; ++i) {
        da[i * n + i] += G(i, i);
        for (int64_t j = 0; j < i; ++j) da[i * n + j] += G(i, j) + G(j, i);
      }
    }
  });
}

}  // namespace weft::cpu
