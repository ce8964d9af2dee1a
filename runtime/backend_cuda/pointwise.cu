// CUDA pointwise kernels: unary activations, axpby, cast, SwiGLU, Philox dropout, strided block copy.
// Formulas come from runtime/math/*.h, the code the CPU kernels run; f32 and bf16 compute in float.
// Contiguous kernels move 16-byte vectors when every pointer allows it (a scalar tail finishes n % V).
#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

template <class T, int V>
__global__ void unary_forward_kernel(UnaryOp op, T* y, const T* x, int64_t n) {
  vec_for<V>(n, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    float v[W];
    load_vec<W>(v, x, i);
#pragma unroll
    for (int k = 0; k < W; ++k) v[k] = unary_value<float>(op, v[k]);
    store_vec<W>(y, i, v);
  });
}

template <class T, int V>
__global__ void unary_backward_kernel(UnaryOp op, T* dx, const T* dy, const T* x, const T* y, int64_t n,
                                      bool accumulate) {
  vec_for<V>(n, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    float acc[W], g[W], xv[W], yv[W];
    if (accumulate) {
      load_vec<W>(acc, dx, i);
    } else {
#pragma unroll
      for (int k = 0; k < W; ++k) acc[k] = 0.0f;
    }
    load_vec<W>(g, dy, i);
    load_vec<W>(xv, x, i);
    load_vec<W>(yv, y, i);
#pragma unroll
    for (int k = 0; k < W; ++k) acc[k] += g[k] * unary_derivative<float>(op, xv[k], yv[k]);
    store_vec<W>(dx, i, acc);
  });
}

template <class T, int V, bool kBetaZero>
__global__ void axpby_kernel(T* y, float alpha, const T* x, float beta, int64_t n) {
  vec_for<V>(n, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    float xv[W], yv[W];
    load_vec<W>(xv, x, i);
    if constexpr (kBetaZero) {
#pragma unroll
      for (int k = 0; k < W; ++k) yv[k] = alpha * xv[k];
    } else {
      load_vec<W>(yv, y, i);
#pragma unroll
      for (int k = 0; k < W; ++k) yv[k] = alpha * xv[k] + beta * yv[k];
    }
    store_vec<W>(y, i, yv);
  });
}

// Computes in double when either side is f64, else in float.
template <class D, class S, int V>
__global__ void cast_kernel(D* dst, const S* src, int64_t n, bool accumulate) {
  using C = std::conditional_t<std::is_same_v<D, double> || std::is_same_v<S, double>, double, float>;
  vec_for<V>(n, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    C v[W], d[W];
    load_vec<W>(v, src, i);
    if (accumulate) {
      load_vec<W>(d, dst, i);
#pragma unroll
      for (int k = 0; k < W; ++k) v[k] += d[k];
    }
    store_vec<W>(dst, i, v);
  });
}

// x (N, 2F) = [a | b], out (N, F) = silu(a) * b. With V > 1, F % V == 0 so packs stay in one row.
template <class T, int V>
__global__ void swiglu_forward_kernel(T* out, const T* x, int64_t N, int64_t F) {
  vec_for<V>(N * F, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    const int64_t ia = (i / F) * 2 * F + i % F;
    float a[W], b[W];
    load_vec<W>(a, x, ia);
    load_vec<W>(b, x, ia + F);
#pragma unroll
    for (int k = 0; k < W; ++k) a[k] = unary_value<float>(UnaryOp::silu, a[k]) * b[k];
    store_vec<W>(out, i, a);
  });
}

template <class T, int V>
__global__ void swiglu_backward_kernel(T* dx, const T* dout, const T* x, int64_t N, int64_t F) {
  vec_for<V>(N * F, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    const int64_t ia = (i / F) * 2 * F + i % F;
    float a[W], b[W], g[W], da[W], db[W];
    load_vec<W>(a, x, ia);
    load_vec<W>(b, x, ia + F);
    load_vec<W>(g, dout, i);
    load_vec<W>(da, dx, ia);
    load_vec<W>(db, dx, ia + F);
#pragma unroll
    for (int k = 0; k < W; ++k) {
      const float sa = unary_value<float>(UnaryOp::silu, a[k]);
      da[k] += g[k] * b[k] * unary_derivative<float>(UnaryOp::silu, a[k], sa);
      db[k] += g[k] * sa;
    }
    store_vec<W>(dx, ia, da);
    store_vec<W>(dx, ia + F, db);
  });
}

// y = mask * x / (1 - p), or y += when accumulate (the backward). Element i is kept iff
// dropout_keep(philox_uniform(key, stream, offset, i), p), as on the CPU. Packs of 4 start at a
// multiple of 4, so one Philox block (counter offset + i/4) gives the four uniforms.
template <class T, int V>
__global__ void dropout_kernel(T* y, const T* x, int64_t n, float p, PhiloxKey key, uint32_t stream, uint64_t offset,
                               bool accumulate) {
  static_assert(V == 1 || V == 4, "dropout packs are one Philox block");
  const float s = 1.0f / (1.0f - p);
  vec_for<V>(n, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    float u[W], v[W], acc[W];
    if constexpr (W == 4) {
      uint32_t r[4];
      philox4x32(r, key, offset + static_cast<uint64_t>(i) / 4, stream);
#pragma unroll
      for (int k = 0; k < 4; ++k) u[k] = uint_to_unit_float(r[k]);
    } else {
      u[0] = philox_uniform(key, stream, offset, static_cast<uint64_t>(i));
    }
    load_vec<W>(v, x, i);
#pragma unroll
    for (int k = 0; k < W; ++k) v[k] = dropout_keep(u[k], p) ? v[k] * s : 0.0f;
    if (accumulate) {
      load_vec<W>(acc, y, i);
#pragma unroll
      for (int k = 0; k < W; ++k) v[k] += acc[k];
    }
    store_vec<W>(y, i, v);
  });
}

// dst (rows, cols; row stride dst_stride) += src (rows, cols; row stride src_stride).
template <class T, int V>
__global__ void copy2d_add_kernel(T* dst, int64_t dst_stride, const T* src, int64_t src_stride, int64_t rows,
                                  int64_t cols) {
  vec_for<V>(rows * cols, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    const int64_t r = i / cols, c = i % cols;
    float s[W], d[W];
    load_vec<W>(s, src, r * src_stride + c);
    load_vec<W>(d, dst, r * dst_stride + c);
#pragma unroll
    for (int k = 0; k < W; ++k) d[k] += s[k];
    store_vec<W>(dst, r * dst_stride + c, d);
  });
}

// f(D{}, S{}) over the element types cast() takes on CUDA.
template <class F>
void dispatch_cast_type(DType dt, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); break;
    case DType::bf16: f(__nv_bfloat16{}); break;
    case DType::f64: f(double{}); break;
    default: WEFT_FAIL("[cuda::cast] unsupported dtype ", dtype_name(dt), " (f32, bf16 or f64)");
  }
}

// Launches kernel<V> on n elements with V = kVec<T> when `vec` holds, else V = 1.
#define WEFT_LAUNCH_VEC(kernel, T, vec, n, ...)                                                   \
  do {                                                                                            \
    if (vec)                                                                                      \
      kernel<T, kVec<T>><<<blocks_for((n) / kVec<T>), kThreads, 0, stream_of(ex)>>>(__VA_ARGS__); \
    else                                                                                          \
      kernel<T, 1><<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(__VA_ARGS__);                   \
  } while (0)

}  // namespace

void unary_forward(Exec& ex, DType dt, UnaryOp op, void* y, const void* x, int64_t n) {
  if (n == 0) return;
  dispatch_float(dt, "unary_forward", [&](auto tag) {
    using T = decltype(tag);
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
    WEFT_LAUNCH_VEC(unary_forward_kernel, T, all_aligned(16, yp, xp), n, op, yp, xp, n);
  });
  CUDA_CHECK_LAUNCH("unary_forward");
}

void unary_backward(Exec& ex, DType dt, UnaryOp op, void* dx, const void* dy, const void* x, const void* y, int64_t n,
                    bool accumulate) {
  if (n == 0) return;
  dispatch_float(dt, "unary_backward", [&](auto tag) {
    using T = decltype(tag);
    T* dxp = static_cast<T*>(dx);
    const T *dyp = static_cast<const T*>(dy), *xp = static_cast<const T*>(x), *yp = static_cast<const T*>(y);
    WEFT_LAUNCH_VEC(unary_backward_kernel, T, all_aligned(16, dxp, dyp, xp, yp), n, op, dxp, dyp, xp, yp, n, accumulate);
  });
  CUDA_CHECK_LAUNCH("unary_backward");
}

void axpby(Exec& ex, DType dt, void* y, float alpha, const void* x, float beta, int64_t n) {
  if (n == 0) return;
  dispatch_float(dt, "axpby", [&](auto tag) {
    using T = decltype(tag);
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
    const bool vec = all_aligned(16, yp, xp);
    const unsigned blocks = blocks_for(vec ? n / kVec<T> : n);
    cudaStream_t st = stream_of(ex);
    if (beta == 0.0f)  // overwrite without reading y (it may hold garbage, even NaN)
      vec ? axpby_kernel<T, kVec<T>, true><<<blocks, kThreads, 0, st>>>(yp, alpha, xp, beta, n)
          : axpby_kernel<T, 1, true><<<blocks, kThreads, 0, st>>>(yp, alpha, xp, beta, n);
    else
      vec ? axpby_kernel<T, kVec<T>, false><<<blocks, kThreads, 0, st>>>(yp, alpha, xp, beta, n)
          : axpby_kernel<T, 1, false><<<blocks, kThreads, 0, st>>>(yp, alpha, xp, beta, n);
  });
  CUDA_CHECK_LAUNCH("axpby");
}

void cast(Exec& ex, DType dst_dt, void* dst, DType src_dt, const void* src, int64_t n, bool accumulate) {
  if (n == 0) return;
  dispatch_cast_type(dst_dt, [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_cast_type(src_dt, [&](auto stag) {
      using S = decltype(stag);
      D* d = static_cast<D*>(dst);
      const S* s = static_cast<const S*>(src);
      if (all_aligned(4 * sizeof(D), d) && all_aligned(4 * sizeof(S), s))
        cast_kernel<D, S, 4><<<blocks_for(n / 4), kThreads, 0, stream_of(ex)>>>(d, s, n, accumulate);
      else
        cast_kernel<D, S, 1><<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(d, s, n, accumulate);
    });
  });
  CUDA_CHECK_LAUNCH("cast");
}

void swiglu_forward(Exec& ex, DType dt, void* out, const void* x, int64_t N, int64_t F) {
  if (N * F == 0) return;
  dispatch_float(dt, "swiglu_forward", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* xp = static_cast<const T*>(x);
    WEFT_LAUNCH_VEC(swiglu_forward_kernel, T, F % kVec<T> == 0 && all_aligned(16, o, xp), N * F, o, xp, N, F);
  });
  CUDA_CHECK_LAUNCH("swiglu_forward");
}

void swiglu_backward(Exec& ex, DType dt, void* dx, const void* dout, const void* x, int64_t N, int64_t F) {
  if (N * F == 0) return;
  dispatch_float(dt, "swiglu_backward", [&](auto tag) {
    using T = decltype(tag);
    T* dxp = static_cast<T*>(dx);
    const T *d = static_cast<const T*>(dout), *xp = static_cast<const T*>(x);
    WEFT_LAUNCH_VEC(swiglu_backward_kernel, T, F % kVec<T> == 0 && all_aligned(16, dxp, d, xp), N * F, dxp, d, xp, N,
                    F);
  });
  CUDA_CHECK_LAUNCH("swiglu_backward");
}

namespace {
void dropout_launch(Exec& ex, DType dt, const char* name, void* y, const void* x, int64_t n, float p, PhiloxKey key,
                    uint32_t stream, uint64_t offset, bool accumulate) {
  if (n == 0) return;
  dispatch_float(dt, name, [&](auto tag) {
    using T = decltype(tag);
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
    if (all_aligned(4 * sizeof(T), yp, xp))
      dropout_kernel<T, 4>
          <<<blocks_for(n / 4), kThreads, 0, stream_of(ex)>>>(yp, xp, n, p, key, stream, offset, accumulate);
    else
      dropout_kernel<T, 1>
          <<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(yp, xp, n, p, key, stream, offset, accumulate);
  });
  CUDA_CHECK_LAUNCH(name);
}
}  // namespace

void dropout_forward(Exec& ex, DType dt, void* y, const void* x, int64_t n, float p, PhiloxKey key, uint32_t stream,
                     uint64_t offset) {
  dropout_launch(ex, dt, "dropout_forward", y, x, n, p, key, stream, offset, false);
}

void dropout_backward(Exec& ex, DType dt, void* dx, const void* dy, int64_t n, float p, PhiloxKey key, uint32_t stream,
                      uint64_t offset) {
  dropout_launch(ex, dt, "dropout_backward", dx, dy, n, p, key, stream, offset, true);
}

void copy2d(Exec& ex, DType dt, void* dst, int64_t dst_stride, const void* src, int64_t src_stride, int64_t rows,
            int64_t cols, bool accumulate) {
  if (rows * cols == 0) return;
  dispatch_float(dt, "copy2d", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dst);
    const T* s = static_cast<const T*>(src);
    if (!accumulate) {  // a strided copy on the stream (a single row may have any stride)
      const size_t es = sizeof(T), width = cols * es;
      CUDA_CHECK(cudaMemcpy2DAsync(d, rows == 1 ? width : dst_stride * es, s, rows == 1 ? width : src_stride * es,
                                   width, rows, cudaMemcpyDeviceToDevice, stream_of(ex)));
      return;
    }
    const bool vec =
        cols % kVec<T> == 0 && dst_stride % kVec<T> == 0 && src_stride % kVec<T> == 0 && all_aligned(16, d, s);
    WEFT_LAUNCH_VEC(copy2d_add_kernel, T, vec, rows * cols, d, dst_stride, s, src_stride, rows, cols);
    CUDA_CHECK_LAUNCH("copy2d");
  });
}

}  // namespace weft::cuda

#undef WEFT_LAUNCH_VEC
