// CUDA LayerNorm and RMSNorm over the last dim of x (N, C), twins of backend_cpu/norm.cpp: one row team
// (rows.cuh) per row, the same two-pass statistics (mean, then the mean of squared deviations) and the
// per-element formulas of runtime/math/rowwise.h. mean and rstd (N) are f32 for f32 and bf16 tensors.
// dweight / dbias (C) are column sums over the N rows, reduced deterministically by bcast_reduce.cuh.
#include "runtime/backend_cuda/bcast_reduce.cuh"
#include "runtime/backend_cuda/cudnn_ops.h"
#include "runtime/backend_cuda/rows.cuh"
#include "runtime/kernels.h"
#include "runtime/math/rowwise.h"

namespace weft::cuda {

namespace {

// Packs of V weight / bias values at column c, or 1 / 0 when the parameter is absent.
template <int V, class T>
__device__ __forceinline__ void load_param(float (&out)[V], const T* p, int64_t c, float absent) {
  if (p) {
    load_vec<V>(out, p, c);
  } else {
#pragma unroll
    for (int k = 0; k < V; ++k) out[k] = absent;
  }
}

// out (N, C) = (x - mean) * rstd * weight + bias; mean, rstd (N).
template <class T, int V, int TPR>
__global__ void layernorm_forward_kernel(T* out, float* mean, float* rstd, const T* x, const T* weight,
                                         const T* bias, int64_t N, int64_t C, float eps) {
  WEFT_ROW_FOR(TPR, row, N) {
    const T* xr = x + row * C;
    Floats<1> sum{{0.0f}};
    team_for<V, TPR>(C, [&](int64_t c) {
      float xv[V];
      load_vec<V>(xv, xr, c);
#pragma unroll
      for (int k = 0; k < V; ++k) sum.v[0] += xv[k];
    });
    const float m = team_allreduce<TPR>(sum, SumOp{}).v[0] / static_cast<float>(C);
    Floats<1> sq{{0.0f}};
    team_for<V, TPR>(C, [&](int64_t c) {
      float xv[V];
      load_vec<V>(xv, xr, c);
#pragma unroll
      for (int k = 0; k < V; ++k) sq.v[0] += (xv[k] - m) * (xv[k] - m);
    });
    const float var = team_allreduce<TPR>(sq, SumOp{}).v[0] / static_cast<float>(C);
    const float s = norm_rstd(var, eps);
    if (RowTeam<TPR>::lane() == 0) {
      mean[row] = m;
      rstd[row] = s;
    }
    T* orow = out + row * C;
    team_for<V, TPR>(C, [&](int64_t c) {
      float xv[V], w[V], b[V], o[V];
      load_vec<V>(xv, xr, c);
      load_param<V>(w, weight, c, 1.0f);
      load_param<V>(b, bias, c, 0.0f);
#pragma unroll
      for (int k = 0; k < V; ++k) o[k] = (xv[k] - m) * s * w[k] + b[k];
      store_vec<V>(orow, c, o);
    });
  }
}

// dx (N, C) += layernorm_dx(g, xhat, rstd, mean(g), mean(g * xhat)) with g = dout * weight.
template <class T, int V, int TPR>
__global__ void layernorm_dx_kernel(T* dx, const T* dout, const T* x, const T* weight, const float* mean,
                                    const float* rstd, int64_t N, int64_t C) {
  WEFT_ROW_FOR(TPR, row, N) {
    const T *dr = dout + row * C, *xr = x + row * C;
    const float m = mean[row], s = rstd[row];
    Floats<2> sums{{0.0f, 0.0f}};  // sum(g), sum(g * xhat)
    team_for<V, TPR>(C, [&](int64_t c) {
      float d[V], xv[V], w[V];
      load_vec<V>(d, dr, c);
      load_vec<V>(xv, xr, c);
      load_param<V>(w, weight, c, 1.0f);
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const float g = d[k] * w[k];
        sums.v[0] += g;
        sums.v[1] += g * (xv[k] - m) * s;
      }
    });
    sums = team_allreduce<TPR>(sums, SumOp{});
    const float mean_g = sums.v[0] / static_cast<float>(C), mean_gx = sums.v[1] / static_cast<float>(C);
    T* dxr = dx + row * C;
    team_for<V, TPR>(C, [&](int64_t c) {
      float d[V], xv[V], w[V], acc[V];
      load_vec<V>(d, dr, c);
      load_vec<V>(xv, xr, c);
      load_param<V>(w, weight, c, 1.0f);
      load_vec<V>(acc, dxr, c);
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] += layernorm_dx(d[k] * w[k], (xv[k] - m) * s, s, mean_g, mean_gx);
      store_vec<V>(dxr, c, acc);
    });
  }
}

// out (N, C) = x * rstd * weight; rstd (N) = norm_rstd(mean(x^2), eps).
template <class T, int V, int TPR>
__global__ void rmsnorm_forward_kernel(T* out, float* rstd, const T* x, const T* weight, int64_t N, int64_t C,
                                       float eps) {
  WEFT_ROW_FOR(TPR, row, N) {
    const T* xr = x + row * C;
    Floats<1> sq{{0.0f}};
    team_for<V, TPR>(C, [&](int64_t c) {
      float xv[V];
      load_vec<V>(xv, xr, c);
#pragma unroll
      for (int k = 0; k < V; ++k) sq.v[0] += xv[k] * xv[k];
    });
    const float s = norm_rstd(team_allreduce<TPR>(sq, SumOp{}).v[0] / static_cast<float>(C), eps);
    if (RowTeam<TPR>::lane() == 0) rstd[row] = s;
    T* orow = out + row * C;
    team_for<V, TPR>(C, [&](int64_t c) {
      float xv[V], w[V], o[V];
      load_vec<V>(xv, xr, c);
      load_param<V>(w, weight, c, 1.0f);
#pragma unroll
      for (int k = 0; k < V; ++k) o[k] = xv[k] * s * w[k];
      store_vec<V>(orow, c, o);
    });
  }
}

// dx (N, C) += rmsnorm_dx(g, x, rstd, mean(g * x)) with g = dout * weight.
template <class T, int V, int TPR>
__global__ void rmsnorm_dx_kernel(T* dx, const T* dout, const T* x, const T* weight, const float* rstd, int64_t N,
                                  int64_t C) {
  WEFT_ROW_FOR(TPR, row, N) {
    const T *dr = dout + row * C, *xr = x + row * C;
    const float s = rstd[row];
    Floats<1> dot{{0.0f}};
    team_for<V, TPR>(C, [&](int64_t c) {
      float d[V], xv[V], w[V];
      load_vec<V>(d, dr, c);
      load_vec<V>(xv, xr, c);
      load_param<V>(w, weight, c, 1.0f);
#pragma unroll
      for (int k = 0; k < V; ++k) dot.v[0] += d[k] * w[k] * xv[k];
    });
    const float mean_gx = team_allreduce<TPR>(dot, SumOp{}).v[0] / static_cast<float>(C);
    T* dxr = dx + row * C;
    team_for<V, TPR>(C, [&](int64_t c) {
      float d[V], xv[V], w[V], acc[V];
      load_vec<V>(d, dr, c);
      load_vec<V>(xv, xr, c);
      load_param<V>(w, weight, c, 1.0f);
      load_vec<V>(acc, dxr, c);
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] += rmsnorm_dx(d[k] * w[k], xv[k], s, mean_gx);
      store_vec<V>(dxr, c, acc);
    });
  }
}

// Column-sum terms for bcast_reduce: off[0] is the element offset r * C + c, off[1] the row r.
template <class T>
struct LayerNormWeightTerm {  // dout * xhat
  const T *dout, *x;
  const float *mean, *rstd;
  __host__ __device__ float operator()(const int64_t (&off)[3]) const {
    return load(dout, off[0]) * (load(x, off[0]) - mean[off[1]]) * rstd[off[1]];
  }
};
template <class T>
struct RmsNormWeightTerm {  // dout * x * rstd
  const T *dout, *x;
  const float* rstd;
  __host__ __device__ float operator()(const int64_t (&off)[3]) const {
    return load(dout, off[0]) * load(x, off[0]) * rstd[off[1]];
  }
};
template <class T>
struct BiasTerm {  // dout
  const T* dout;
  __host__ __device__ float operator()(const int64_t (&off)[3]) const { return load(dout, off[0]); }
};

// (N, C) summed over N into (C): slot 0 walks the elements, slot 1 the rows.
ReduceGeom column_geom(int64_t N, int64_t C) {
  const int64_t dims[2] = {N, C};
  const int64_t strides[2][ReduceGeom::kSlots] = {{C, 1, 0}, {1, 0, 0}};
  const bool reduced[2] = {true, false};
  return make_reduce_geom(2, dims, strides, reduced);
}

}  // namespace

void layernorm_forward(Exec& ex, DType dt, void* out, void* mean, void* rstd, const void* x, const void* weight,
                       const void* bias, int64_t N, int64_t C, float eps) {
  if (N == 0 || C == 0) return;
  if (cudnn_layernorm_forward(ex, dt, out, mean, rstd, x, weight, bias, N, C, eps)) return;  // --norm-backend
  dispatch_float(dt, "layernorm_forward", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T *xp = static_cast<const T*>(x), *w = static_cast<const T*>(weight), *b = static_cast<const T*>(bias);
    launch_rows<T>(N, C, all_aligned(16, o, xp, w, b), [&](auto v, auto tpr, unsigned grid, int block) {
      layernorm_forward_kernel<T, decltype(v)::value, decltype(tpr)::value><<<grid, block, 0, stream_of(ex)>>>(
          o, static_cast<float*>(mean), static_cast<float*>(rstd), xp, w, b, N, C, eps);
    });
  });
  CUDA_CHECK_LAUNCH("layernorm_forward");
}

void layernorm_backward(Exec& ex, DType dt, void* dx, void* dweight, void* dbias, const void* dout, const void* x,
                        const void* weight, const void* mean, const void* rstd, int64_t N, int64_t C) {
  if (N == 0 || C == 0) return;
  if (cudnn_layernorm_backward(ex, dt, dx, dweight, dbias, dout, x, weight, mean, rstd, N, C)) return;
  dispatch_float(dt, "layernorm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *d = static_cast<const T*>(dout), *xp = static_cast<const T*>(x), *w = static_cast<const T*>(weight);
    const float *mu = static_cast<const float*>(mean), *rs = static_cast<const float*>(rstd);
    if (dx) {
      T* dxp = static_cast<T*>(dx);
      launch_rows<T>(N, C, all_aligned(16, dxp, d, xp, w), [&](auto v, auto tpr, unsigned grid, int block) {
        layernorm_dx_kernel<T, decltype(v)::value, decltype(tpr)::value>
            <<<grid, block, 0, stream_of(ex)>>>(dxp, d, xp, w, mu, rs, N, C);
      });
      CUDA_CHECK_LAUNCH("layernorm_backward");
    }
    const ReduceGeom g = column_geom(N, C);
    if (dweight)
      bcast_reduce(ex, "layernorm_backward", static_cast<T*>(dweight), LayerNormWeightTerm<T>{d, xp, mu, rs}, g);
    if (dbias) bcast_reduce(ex, "layernorm_backward", static_cast<T*>(dbias), BiasTerm<T>{d}, g);
  });
}

void rmsnorm_forward(Exec& ex, DType dt, void* out, void* rstd, const void* x, const void* weight, int64_t N,
                     int64_t C, float eps) {
  if (N == 0 || C == 0) return;
  if (cudnn_rmsnorm_forward(ex, dt, out, rstd, x, weight, N, C, eps)) return;  // --norm-backend
  dispatch_float(dt, "rmsnorm_forward", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T *xp = static_cast<const T*>(x), *w = static_cast<const T*>(weight);
    launch_rows<T>(N, C, all_aligned(16, o, xp, w), [&](auto v, auto tpr, unsigned grid, int block) {
      rmsnorm_forward_kernel<T, decltype(v)::value, decltype(tpr)::value>
          <<<grid, block, 0, stream_of(ex)>>>(o, static_cast<float*>(rstd), xp, w, N, C, eps);
    });
  });
  CUDA_CHECK_LAUNCH("rmsnorm_forward");
}

void rmsnorm_backward(Exec& ex, DType dt, void* dx, void* dweight, const void* dout, const void* x, const void* weight,
                      const void* rstd, int64_t N, int64_t C) {
  if (N == 0 || C == 0) return;
  if (cudnn_rmsnorm_backward(ex, dt, dx, dweight, dout, x, weight, rstd, N, C)) return;
  dispatch_float(dt, "rmsnorm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *d = static_cast<const T*>(dout), *xp = static_cast<const T*>(x), *w = static_cast<const T*>(weight);
    const float* rs = static_cast<const float*>(rstd);
    if (dx) {
      T* dxp = static_cast<T*>(dx);
      launch_rows<T>(N, C, all_aligned(16, dxp, d, xp, w), [&](auto v, auto tpr, unsigned grid, int block) {
        rmsnorm_dx_kernel<T, decltype(v)::value, decltype(tpr)::value>
            <<<grid, block, 0, stream_of(ex)>>>(dxp, d, xp, w, rs, N, C);
      });
      CUDA_CHECK_LAUNCH("rmsnorm_backward");
    }
    if (dweight)
      bcast_reduce(ex, "rmsnorm_backward", static_cast<T*>(dweight), RmsNormWeightTerm<T>{d, xp, rs},
                   column_geom(N, C));
  });
}

}  // namespace weft::cuda
