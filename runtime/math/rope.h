// Rotary position embedding: the rotation of one channel pair, shared by the CPU and CUDA kernels.
// Pair (i, i + n_rot/2) of position t is rotated by angle t * base^(-2i / n_rot) (GPT-NeoX "half" layout).
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/math/hd.h"

namespace weft {

// The angle is formed in double so that large positions keep their precision (t * theta with t ~ 1e5).
WEFT_HD double rope_angle(int64_t t, int64_t i, int64_t n_rot, double base) {
  return static_cast<double>(t) * pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(n_rot));
}

// (a, b) -> (a cos - b sin, b cos + a sin); sign = -1 applies the inverse rotation.
template <class T>
WEFT_HD void rope_rotate(T& a, T& b, double angle, double sign) {
  T c = static_cast<T>(cos(angle)), s = static_cast<T>(sign * sin(angle));
  T na = a * c - b * s, nb = b * c + a * s;
  a = na;
  b = nb;
}

}  // namespace weft
