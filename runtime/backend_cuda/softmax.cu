// CUDA softmax over the last dim of x (N, C) and its backward, twins of backend_cpu/softmax.cpp: one row
// team (rows.cuh) per row. The forward reads the row twice: once for the online {max, sum of exp}
// statistics, once to write y = exp(x - max) / sum; the backward reduces dot = sum(dy * y) and adds
// softmax_dx (runtime/math/rowwise.h) to dx. Log-sum-exp reuses the forward's online statistics and writes
// one value per row; its backward adds dy * exp(x - lse) (the softmax, recomputed from x).
#include "runtime/backend_cuda/rows.cuh"
#include "runtime/kernels.h"
#include "runtime/math/rowwise.h"

namespace weft::cuda {

namespace {

// {max, sum of exp(x - max)} of the row xr (C), the same on every member of the row team.
template <int V, int TPR, class T>
__device__ __forceinline__ Floats<2> row_max_sum(const T* xr, int64_t C) {
  Floats<2> st{{-INFINITY, 0.0f}};
  team_for<V, TPR>(C, [&](int64_t c) {
    float xv[V];
    load_vec<V>(xv, xr, c);
#pragma unroll
    for (int k = 0; k < V; ++k) max_sum_add(st, xv[k]);
  });
  return team_allreduce<TPR>(st, MaxSumOp{});
}

template <class T, int V, int TPR>
__global__ void softmax_forward_kernel(T* y, const T* x, int64_t N, int64_t C) {
  WEFT_ROW_FOR(TPR, row, N) {
    const T* xr = x + row * C;
    const Floats<2> st = row_max_sum<V, TPR>(xr, C);
    const float m = st.v[0], inv = 1.0f / st.v[1];
    T* yr = y + row * C;
    team_for<V, TPR>(C, [&](int64_t c) {
      float v[V];
      load_vec<V>(v, xr, c);
#pragma unroll
      for (int k = 0; k < V; ++k) v[k] = expf(v[k] - m) * inv;
      store_vec<V>(yr, c, v);
    });
  }
}

// dx (N, C) += y * (dy - sum(dy * y)).
template <class T, int V, int TPR>
__global__ void softmax_backward_kernel(T* dx, const T* dy, const T* y, int64_t N, int64_t C) {
  WEFT_ROW_FOR(TPR, row, N) {
    const T *dr = dy + row * C, *yr = y + row * C;
    Floats<1> dot{{0.0f}};
    team_for<V, TPR>(C, [&](int64_t c) {
      float d[V], yv[V];
      load_vec<V>(d, dr, c);
      load_vec<V>(yv, yr, c);
#pragma unroll
      for (int k = 0; k < V; ++k) dot.v[0] += d[k] * yv[k];
    });
    const float total = team_allreduce<TPR>(dot, SumOp{}).v[0];
    T* dxr = dx + row * C;
    team_for<V, TPR>(C, [&](int64_t c) {
      float d[V], yv[V], acc[V];
      load_vec<V>(d, dr, c);
      load_vec<V>(yv, yr, c);
      load_vec<V>(acc, dxr, c);
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] += softmax_dx(yv[k], d[k], total);
      store_vec<V>(dxr, c, acc);
    });
  }
}

template <class T, int V, int TPR>
__global__ void logsumexp_forward_kernel(T* y, const T* x, int64_t N, int64_t C) {
  WEFT_ROW_FOR(TPR, row, N) {
    const T* xr = x + row * C;
    const Floats<2> st = row_max_sum<V, TPR>(xr, C);
    const float m = st.v[0];
    if (RowTeam<TPR>::lane() == 0) store(y, row, isinf(m) ? m : m + logf(st.v[1]));
  }
}

// dx (N, C) += dy[row] * exp(x - y[row]).
template <class T, int V, int TPR>
__global__ void logsumexp_backward_kernel(T* dx, const T* dy, const T* x, const T* y, int64_t N, int64_t C) {
  WEFT_ROW_FOR(TPR, row, N) {
    const T* xr = x + row * C;
    const float d = load(dy, row), lse = load(y, row);
    T* dxr = dx + row * C;
    team_for<V, TPR>(C, [&](int64_t c) {
      float xv[V], acc[V];
      load_vec<V>(xv, xr, c);
      load_vec<V>(acc, dxr, c);
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] += d * expf(xv[k] - lse);
      store_vec<V>(dxr, c, acc);
    });
  }
}

}  // namespace

void logsumexp_forward(Exec& ex, DType dt, void* y, const void* x, int64_t N, int64_t C) {
  if (N == 0 || C == 0) return;
  dispatch_float(dt, "logsumexp_forward", [&](auto tag) {
    using T = decltype(tag);
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
    launch_rows<T>(N, C, all_aligned(16, xp), [&](auto v, auto tpr, unsigned grid, int block) {
      logsumexp_forward_kernel<T, decltype(v)::value, decltype(tpr)::value>
          <<<grid, block, 0, stream_of(ex)>>>(yp, xp, N, C);
    });
  });
  CUDA_CHECK_LAUNCH("logsumexp_forward");
}

void logsumexp_backward(Exec& ex, DType dt, void* dx, const void* dy, const void* x, const void* y, int64_t N,
                        int64_t C) {
  if (N == 0 || C == 0) return;
  dispatch_float(dt, "logsumexp_backward", [&](auto tag) {
    using T = decltype(tag);
    T* dxp = static_cast<T*>(dx);
    const T *dyp = static_cast<const T*>(dy), *xp = static_cast<const T*>(x), *yp = static_cast<const T*>(y);
    launch_rows<T>(N, C, all_aligned(16, dxp, xp), [&](auto v, auto tpr, unsigned grid, int block) {
      logsumexp_backward_kernel<T, decltype(v)::value, decltype(tpr)::value>
          <<<grid, block, 0, stream_of(ex)>>>(dxp, dyp, xp, yp, N, C);
    });
  });
  CUDA_CHECK_LAUNCH("logsumexp_backward");
}

void softmax_forward(Exec& ex, DType dt, void* y, const void* x, int64_t N, int64_t C) {
  if (N == 0 || C == 0) return;
  dispatch_float(dt, "softmax_forward", [&](auto tag) {
    using T = decltype(tag);
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
    launch_rows<T>(N, C, all_aligned(16, yp, xp), [&](auto v, auto tpr, unsigned grid, int block) {
      softmax_forward_kernel<T, decltype(v)::value, decltype(tpr)::value>
          <<<grid, block, 0, stream_of(ex)>>>(yp, xp, N, C);
    });
  });
  CUDA_CHECK_LAUNCH("softmax_forward");
}

void softmax_backward(Exec& ex, DType dt, void* dx, const void* dy, const void* y, int64_t N, int64_t C) {
  if (N == 0 || C == 0) return;
  dispatch_float(dt, "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    T* dxp = static_cast<T*>(dx);
    const T *dyp = static_cast<const T*>(dy), *yp = static_cast<const T*>(y);
    launch_rows<T>(N, C, all_aligned(16, dxp, dyp, yp), [&](auto v, auto tpr, unsigned grid, int block) {
      softmax_backward_kernel<T, decltype(v)::value, decltype(tpr)::value>
          <<<grid, block, 0, stream_of(ex)>>>(dxp, dyp, yp, N, C);
    });
  });
  CUDA_CHECK_LAUNCH("softmax_backward");
}

}  // namespace weft::cuda
