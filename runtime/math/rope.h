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

// cos(angle) and sign * sin(angle), computed in double and rounded to the compute type T once per
// (position, pair); sign = -1 gives the inverse rotation.
template <class T>
struct RopeCosSin {
  T c, s;
};
template <class T>
WEFT_HD RopeCosSin<T> rope_cos_sin(double angle, double sign) {
  return {static_cast<T>(cos(angle)), static_cast<T>(sign * sin(angle))};
}

// (a, b) -> (a c - b s, b c + a s).
template <class T>
WEFT_HD void rope_rotate(T& a, T& b, RopeCosSin<T> cs) {
  T na = a * cs.c - b * cs.s, nb = b * cs.c + a * cs.s;
  a = na;
  b = nb;
}

}  // namespace weft
