// Cholesky pieces of spd_solve shared by the CPU and CUDA kernels (same loops, same summation order).
// S is the compute type; the stored types (TA, TL, TX) may be narrower (bf16 on CUDA) and are read
// through static_cast<S>. Matrices are row-major: A, L (n, n), X, B (n, m).
#pragma once

#include <cstdint>

#include "runtime/math/hd.h"

namespace weft {

// a - sum_{k < j} L[i][k] L[j][k], in k order: before the square root (i == j, the pivot) or the
// division by L[j][j] (i > j), the entry (i, j) of the factor.
template <class S, class TL>
WEFT_HD S cholesky_residual(S a, const TL* L, int64_t n, int64_t i, int64_t j) {
  for (int64_t k = 0; k < j; ++k) a -= static_cast<S>(L[i * n + k]) * static_cast<S>(L[j * n + k]);
  return a;
}

// Solves L L^T x = x in place for column c of X (n, m): forward L y = b, then backward L^T x = y.
template <class S, class TL>
WEFT_HD void cholesky_solve_column(S* X, const TL* L, int64_t n, int64_t m, int64_t c) {
  for (int64_t i = 0; i < n; ++i) {
    S s = X[i * m + c];
    for (int64_t k = 0; k < i; ++k) s -= static_cast<S>(L[i * n + k]) * X[k * m + c];
    X[i * m + c] = s / static_cast<S>(L[i * n + i]);
  }
  for (int64_t i = n - 1; i >= 0; --i) {
    S s = X[i * m + c];
    for (int64_t k = i + 1; k < n; ++k) s -= static_cast<S>(L[k * n + i]) * X[k * m + c];
    X[i * m + c] = s / static_cast<S>(L[i * n + i]);
  }
}

// The gradient of X = A^-1 B with respect to the lower triangle of A, at (i, j) with j <= i, given
// g = A^-1 dX (n, m): the full-matrix gradient is G = -g X^T, and an off-diagonal element of the lower
// triangle stands for both A[i][j] and A[j][i], so it receives G(i, j) + G(j, i).
template <class S, class TX>
WEFT_HD S spd_solve_grad_entry(const S* g, const TX* x, int64_t m, int64_t i, int64_t j) {
  auto G = [&](int64_t r, int64_t q) {
    S s = 0;
    for (int64_t c = 0; c < m; ++c) s += g[r * m + c] * static_cast<S>(x[q * m + c]);
    return -s;
  };
  return i == j ? G(i, i) : G(i, j) + G(j, i);
}

}  // namespace weft
