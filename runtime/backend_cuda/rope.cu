// CUDA rotary position embedding, the twin of backend_cpu/rope.cpp: one thread per (position, pair) or
// (position, unrotated channel) forms cos / sin once (runtime/math/rope.h, in double, rounded to float)
// and applies them to that channel of every (batch, head) row. The backward rotates by the negative
// angle and accumulates. f32 and bf16 compute in float; every element is written by one thread.
#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"
#include "runtime/math/rope.h"

namespace weft::cuda {

namespace {

// x, out: (B, T, NH, HS). Work item (t, c): c < half rotates pair (c, c + half); c >= half copies
// channel n_rot + (c - half). Adjacent threads touch adjacent channels of the same row.
template <class T>
__global__ void rope_kernel(T* out, const T* in, int64_t B, int64_t T_, int64_t NH, int64_t HS, int64_t n_rot,
                            double base, int64_t pos_offset, double sign, bool accumulate) {
  const int64_t half = n_rot / 2, width = half + (HS - n_rot), rows = B * NH;
  WEFT_CUDA_FOR(item, T_ * width) {
    const int64_t t = item / width, c = item % width;
    if (c < half) {
      const RopeCosSin<float> cs = rope_cos_sin<float>(rope_angle(t + pos_offset, c, n_rot, base), sign);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t b = r / NH, h = r % NH, row = ((b * T_ + t) * NH + h) * HS;
        float y1 = load(in, row + c), y2 = load(in, row + c + half);
        rope_rotate(y1, y2, cs);
        if (accumulate) {
          y1 += load(out, row + c);
          y2 += load(out, row + c + half);
        }
        store(out, row + c, y1);
        store(out, row + c + half, y2);
      }
    } else {
      const int64_t ch = n_rot + (c - half);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t b = r / NH, h = r % NH, i = ((b * T_ + t) * NH + h) * HS + ch;
        float y = load(in, i);
        if (accumulate) y += load(out, i);
        store(out, i, y);
      }
    }
  }
}

void rope_launch(Exec& ex, DType dt, const char* name, void* out, const void* x, int64_t B, int64_t T,
                 int64_t NH, int64_t HS, int64_t n_rot, float base, int64_t pos_offset, double sign,
                 bool accumulate) {
  const int64_t items = T * (n_rot / 2 + (HS - n_rot));
  if (items <= 0 || B * NH == 0) return;
  dispatch_float(dt, name, [&](auto tag) {
    using V = decltype(tag);
    rope_kernel<V><<<blocks_for(items), kThreads, 0, stream_of(ex)>>>(
        static_cast<V*>(out), static_cast<const V*>(x), B, T, NH, HS, n_rot, base, pos_offset, sign, accumulate);
    CUDA_CHECK_LAUNCH(name);
  });
}

}  // namespace

void rope_forward(Exec& ex, DType dt, void* out, const void* x, int64_t B, int64_t T, int64_t NH, int64_t HS,
                  int64_t n_rot, float base, int64_t pos_offset) {
  rope_launch(ex, dt, "rope_forward", out, x, B, T, NH, HS, n_rot, base, pos_offset, 1.0, false);
}

void rope_backward(Exec& ex, DType dt, void* dx, const void* dout, int64_t B, int64_t T, int64_t NH, int64_t HS,
                   int64_t n_rot, float base, int64_t pos_offset) {
  rope_launch(ex, dt, "rope_backward", dx, dout, B, T, NH, HS, n_rot, base, pos_offset, -1.0, true);
}

}  // namespace weft::cuda
