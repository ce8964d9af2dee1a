// CPU rotary position embedding: rotates channel pairs of every head; the backward is the inverse
// rotation applied to the output gradient (rotations are orthogonal).
#include <cstring>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/kernels.h"
#include "runtime/math/rope.h"

namespace weft::cpu {

namespace {

template <class T>
void rope_apply(Exec& ex, T* out, const T* in, int64_t B, int64_t T_, int64_t NH, int64_t HS, int64_t n_rot,
                double base, int64_t pos_offset, double sign, bool accumulate) {
  const int64_t half = n_rot / 2;
#pragma omp parallel for num_threads(threads_for(ex, B * T_ * NH * HS))
  for (int64_t t = 0; t < T_; ++t) {
    std::vector<RopeCosSin<T>> cs(half);
    for (int64_t i = 0; i < half; ++i) cs[i] = rope_cos_sin<T>(rope_angle(t + pos_offset, i, n_rot, base), sign);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h) {
        const T* x = in + ((b * T_ + t) * NH + h) * HS;
        T* y = out + ((b * T_ + t) * NH + h) * HS;
        for (int64_t i = 0; i < half; ++i) {
          T y1 = x[i], y2 = x[i + half];
          rope_rotate(y1, y2, cs[i]);
          if (accumulate) {
            y[i] += y1;
            y[i + half] += y2;
          } else {
            y[i] = y1;
            y[i + half] = y2;
          }
        }
        for (int64_t i = n_rot; i < HS; ++i) y[i] = accumulate ? y[i] + x[i] : x[i];
      }
  }
}

}  // namespace

void rope_forward(Exec& ex, DType dt, void* out, const void* x, int64_t B, int64_t T, int64_t NH, int64_t HS,
                  int64_t n_rot, float base, int64_t pos_offset) {
  dispatch_float(dt, "rope_forward", [&](auto tag) {
    using V = decltype(tag);
    rope_apply(ex, static_cast<V*>(out), static_cast<const V*>(x), B, T, NH, HS, n_rot, base, pos_offset, 1.0,
               false);
  });
}

void rope_backward(Exec& ex, DType dt, void* dx, const void* dout, int64_t B, int64_t T, int64_t NH, int64_t HS,
                   int64_t n_rot, float base, int64_t pos_offset) {
  dispatch_float(dt, "rope_backward", [&](auto tag) {
    using V = decltype(tag);
    rope_apply(ex, static_cast<V*>(dx), static_cast<const V*>(dout), B, T, NH, HS, n_rot, base, pos_offset, -1.0,
               true);
  });
}

}  // namespace weft::cpu
