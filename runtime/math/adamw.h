// The AdamW per-element update (torch.optim.AdamW semantics), shared by the CPU and CUDA kernels:
//   p -= lr * wd * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),   g = grad * grad_scale (clipping), bcK = 1 - bK^t.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/math/hd.h"

namespace weft {

struct AdamWHyper {
  float lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2, grad_scale;
};

template <class P, class S>
WEFT_HD void adamw_element(P& p, S& m, S& v, S grad, const AdamWHyper& h) {
  using std::sqrt;
  S g = grad * static_cast<S>(h.grad_scale);
  S pv = static_cast<S>(p);
  pv -= static_cast<S>(h.lr) * static_cast<S>(h.weight_decay) * pv;
  m = static_cast<S>(h.beta1) * m + (S(1) - static_cast<S>(h.beta1)) * g;
  v = static_cast<S>(h.beta2) * v + (S(1) - static_cast<S>(h.beta2)) * g * g;
  S mhat = m / static_cast<S>(h.bias_correction1), vhat = v / static_cast<S>(h.bias_correction2);
  pv -= static_cast<S>(h.lr) * mhat / (sqrt(vhat) + static_cast<S>(h.eps));
  p = static_cast<P>(pv);
}

// Multi-tensor AdamW's decay table: ranges (R, 2) = sorted, disjoint [begin, end) pairs. Returns the first
// range whose end is past i (R if none); element i decays iff that range also begins at or before i.
WEFT_HD int64_t adamw_range_after(const int64_t* ranges, int64_t R, int64_t i) {
  int64_t r = 0, len = R;
  while (len > 0) {
    const int64_t half = len / 2;
    if (ranges[2 * (r + half) + 1] <= i) {
      r += half + 1;
      len -= half + 1;
    } else {
      len = half;
    }
  }
  return r;
}

}  // namespace weft
