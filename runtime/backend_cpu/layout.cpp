// CPU layout and reduction kernels: strided block copies (concat/split), the (0,2,1,3) permutation
// (heads <-> time), and sums over the middle axis of an (outer, len, inner) view with their adjoints.
#include <cstring>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/kernels.h"

namespace weft::cpu {

void copy2d(Exec& ex, DType dt, void* dst, int64_t dst_stride, const void* src, int64_t src_stride, int64_t rows,
            int64_t cols, bool accumulate) {
  dispatch_float(dt, "copy2d", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dst);
    const T* s = static_cast<const T*>(src);
#pragma omp parallel for num_threads(threads_for(ex, rows * cols))
    for (int64_t r = 0; r < rows; ++r) {
      if (accumulate)
        for (int64_t c = 0; c < cols; ++c) d[r * dst_stride + c] += s[r * src_stride + c];
      else
        std::memcpy(d + r * dst_stride, s + r * src_stride, cols * sizeof(T));
    }
  });
}

void permute_0213(Exec& ex, DType dt, void* out, const void* in, int64_t A, int64_t B, int64_t C, int64_t D,
                  bool accumulate) {
  dispatch_float(dt, "permute_0213", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* x = static_cast<const T*>(in);
#pragma omp parallel for collapse(2) num_threads(threads_for(ex, A * B * C * D))
    for (int64_t a = 0; a < A; ++a)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t b = 0; b < B; ++b) {
          const T* src = x + ((a * B + b) * C + c) * D;  // in (A, B, C, D)
          T* dst = o + ((a * C + c) * B + b) * D;        // out (A, C, B, D)
          if (accumulate)
            for (int64_t d = 0; d < D; ++d) dst[d] += src[d];
          else
            std::memcpy(dst, src, D * sizeof(T));
        }
  });
}

void reduce_sum(Exec& ex, DType dt, void* out, const void* x, int64_t outer, int64_t len, int64_t inner,
                float alpha, bool accumulate) {
  dispatch_float(dt, "reduce_sum", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* xp = static_cast<const T*>(x);
    const T a = static_cast<T>(alpha);
    // Each output element is summed along `len` in order: deterministic for any thread count.
#pragma omp parallel for num_threads(threads_for(ex, outer * len * inner))
    for (int64_t r = 0; r < outer; ++r) {
      for (int64_t i = 0; i < inner; ++i) {
        T acc = 0;
        for (int64_t l = 0; l < len; ++l) acc += xp[(r * len + l) * inner + i];
        o[r * inner + i] = (accumulate ? o[r * inner + i] : T(0)) + a * acc;
      }
    }
  });
}

void broadcast_axis(Exec& ex, DType dt, void* dx, const void* dout, int64_t outer, int64_t len, int64_t inner,
                    float alpha) {
  dispatch_float(dt, "broadcast_axis", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dx);
    const T* g = static_cast<const T*>(dout);
    const T a = static_cast<T>(alpha);
#pragma omp parallel for collapse(2) num_threads(threads_for(ex, outer * len * inner))
    for (int64_t r = 0; r < outer; ++r)
      for (int64_t l = 0; l < len; ++l)
        for (int64_t i = 0; i < inner; ++i) d[(r * len + l) * inner + i] += a * g[r * inner + i];
  });
}

}  // namespace weft::cpu
