// Per-row formulas of the fused row ops (layernorm, rmsnorm, softmax, attention), shared by the CPU
// kernels and their CUDA twins. Each takes the row statistics a kernel has already reduced (mean, rstd,
// dot products) and returns one element, so the backends differ only in how they reduce a row.
// T is the compute type (float or double; bf16 rows are computed in float).
#pragma once

#include <cmath>

#include "runtime/math/hd.h"

namespace weft {

// 1 / sqrt(var + eps): LayerNorm's rstd from the row variance, RMSNorm's from the row mean square.
template <class T>
WEFT_HD T norm_rstd(T var, T eps) {
  using std::sqrt;
  return T(1) / sqrt(var + eps);
}

// LayerNorm dx for one element: g = dout * weight, xhat = (x - mean) * rstd, and over the row
// mean_g = mean(g), mean_gx = mean(g * xhat):  dx = rstd * (g - mean_g - xhat * mean_gx).
template <class T>
WEFT_HD T layernorm_dx(T g, T xhat, T rstd, T mean_g, T mean_gx) {
  return rstd * (g - mean_g - xhat * mean_gx);
}

// RMSNorm dx for one element of y = x * rstd * w: g = dout * weight, mean_gx = mean(g * x) over the row:
// dx = rstd * (g - x * rstd^2 * mean_gx).
template <class T>
WEFT_HD T rmsnorm_dx(T g, T x, T rstd, T mean_gx) {
  return rstd * (g - x * rstd * rstd * mean_gx);
}

// Softmax dx for one element: y * (dy - sum(dy * y)), dot = sum over the row of dy * y.
template <class T>
WEFT_HD T softmax_dx(T y, T dy, T dot) {
  return y * (dy - dot);
}

// Attention: the gradient of one score, ds_ij = p_ij (dp_ij - D_i) * scale, with dp_ij = dout_i . v_j and
// D_i = dout_i . out_i; the factor `scale` folds in d(score)/d(q.k) so dq and dk are plain products.
template <class T>
WEFT_HD T attention_ds(T p, T dp, T D, T scale) {
  return p * (dp - D) * scale;
}

}  // namespace weft
