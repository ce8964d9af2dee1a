// CUDA fused cross-entropy over logits (N, V), twin of backend_cpu/xent.cpp. The forward runs one row team
// (rows.cuh) per row, reading the row once for the online {max, sum of exp} statistics: lse (N) and the
// target's loss (N), both f32. For training (xent_forward_grad) a second row-team kernel writes each
// probability from the saved lse, so no (N, V) probability tensor exists:
// dlogits = (exp(logit - lse) - onehot(target)) * grad_scale; xent_grad_apply multiplies it by dloss[0] (a
// one-element f32 tensor on the device) in the backward, and returns at once for the usual dloss of 1.
// Targets are not range-checked here (ops::cross_entropy checks them on the host when it counts rows);
// a target outside [0, V) that is not ignore_index gets a NaN loss and no one-hot term, never a wild read.
#include "runtime/backend_cuda/rows.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

// lse (N) = logsumexp(row); losses (N) = lse - row[target], 0 for ignored rows.
template <class T, int P, int TPR>
__global__ void xent_forward_kernel(float* losses, float* lse, const T* logits, const int32_t* targets, int64_t N,
                                    int64_t V, int32_t ignore_index) {
  WEFT_ROW_FOR(TPR, row, N) {
    const T* lr = logits + row * V;
    Floats<2> st{{-INFINITY, 0.0f}};  // {max, sum of exp(logit - max)}
    team_for<P, TPR>(V, [&](int64_t c) {
      float v[P];
      load_vec<P>(v, lr, c);
#pragma unroll
      for (int k = 0; k < P; ++k) max_sum_add(st, v[k]);
    });
    st = team_allreduce<TPR>(st, MaxSumOp{});
    if (RowTeam<TPR>::lane() == 0) {
      const float l = st.v[0] + logf(st.v[1]);
      const int32_t t = targets[row];
      lse[row] = l;
      if (t == ignore_index)
        losses[row] = 0.0f;
      else
        losses[row] = t >= 0 && t < V ? l - load(lr, t) : NAN;
    }
  }
}

// dlogits (N, V) = (exp(logit - lse) - onehot(target)) * scale for rows that are not ignored, zeros on
// ignored rows; one row team per row, like the forward (no per-element division to find the row).
template <class T, int P, int TPR>
__global__ void xent_grad_kernel(T* dlogits, const T* logits, const float* lse, const int32_t* targets, int64_t N,
                                 int64_t V, int32_t ignore_index, float scale) {
  WEFT_ROW_FOR(TPR, row, N) {
    const int32_t t = targets[row];
    T* dr = dlogits + row * V;
    if (t == ignore_index) {  // uniform across the team
      team_for<P, TPR>(V, [&](int64_t c) {
        float zero[P] = {};
        store_vec<P>(dr, c, zero);
      });
      continue;
    }
    const float l = lse[row];
    const T* lr = logits + row * V;
    team_for<P, TPR>(V, [&](int64_t c) {
      float lg[P], d[P];
      load_vec<P>(lg, lr, c);
#pragma unroll
      for (int k = 0; k < P; ++k) {
        d[k] = expf(lg[k] - l) * scale;
        if (c + k == t) d[k] -= scale;
      }
      store_vec<P>(dr, c, d);
    });
  }
}

// dlogits (n) = (accumulate ? dlogits : 0) + dloss[0] * grad (n); in place (dlogits == grad, !accumulate) a
// dloss of exactly 1 leaves the gradient as the forward wrote it.
template <class T, int V>
__global__ void xent_grad_apply_kernel(T* dlogits, const T* grad, const float* dloss, int64_t n, bool accumulate) {
  const float s = dloss[0];
  if (!accumulate && dlogits == grad && s == 1.0f) return;
  vec_for<V>(n, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    float g[W], acc[W] = {};
    load_vec<W>(g, grad, i);
    if (accumulate) load_vec<W>(acc, dlogits, i);
#pragma unroll
    for (int k = 0; k < W; ++k) acc[k] += s * g[k];
    store_vec<W>(dlogits, i, acc);
  });
}

}  // namespace

void xent_forward(Exec& ex, DType dt, void* losses, void* lse, const void* logits, const int32_t* targets, int64_t N,
                  int64_t V, int32_t ignore_index) {
  if (N == 0) return;
  WEFT_CHECK(V > 0, "[cuda::xent_forward] empty vocabulary");
  dispatch_float(dt, "xent_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* lg = static_cast<const T*>(logits);
    launch_rows<T>(N, V, all_aligned(16, lg), [&](auto p, auto tpr, unsigned grid, int block) {
      xent_forward_kernel<T, decltype(p)::value, decltype(tpr)::value><<<grid, block, 0, stream_of(ex)>>>(
          static_cast<float*>(losses), static_cast<float*>(lse), lg, targets, N, V, ignore_index);
    });
  });
  CUDA_CHECK_LAUNCH("xent_forward");
}

// On the GPU two kernels: the forward's statistics, then the gradient from the saved lse (the CPU does both
// in one pass per row).
void xent_forward_grad(Exec& ex, DType dt, void* losses, void* lse, void* dlogits, const void* logits,
                       const int32_t* targets, int64_t N, int64_t V, int32_t ignore_index, float grad_scale) {
  xent_forward(ex, dt, losses, lse, logits, targets, N, V, ignore_index);
  if (N == 0) return;
  dispatch_float(dt, "xent_forward_grad", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dlogits);
    const T* lg = static_cast<const T*>(logits);
    launch_rows<T>(N, V, all_aligned(16, d, lg), [&](auto p, auto tpr, unsigned grid, int block) {
      xent_grad_kernel<T, decltype(p)::value, decltype(tpr)::value><<<grid, block, 0, stream_of(ex)>>>(
          d, lg, static_cast<const float*>(lse), targets, N, V, ignore_index, grad_scale);
    });
  });
  CUDA_CHECK_LAUNCH("xent_forward_grad");
}

void xent_grad_apply(Exec& ex, DType dt, void* dlogits, const void* grad, const void* dloss, int64_t n,
                     bool accumulate) {
  if (n == 0) return;
  dispatch_float(dt, "xent_grad_apply", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dlogits);
    const T* g = static_cast<const T*>(grad);
    const bool vec = all_aligned(16, d, g);
    const unsigned blocks = blocks_for(vec ? n / kVec<T> : n);
    const float* dl = static_cast<const float*>(dloss);  // the loss is f32 for f32 and bf16 logits
    vec ? xent_grad_apply_kernel<T, kVec<T>><<<blocks, kThreads, 0, stream_of(ex)>>>(d, g, dl, n, accumulate)
        : xent_grad_apply_kernel<T, 1><<<blocks, kThreads, 0, stream_of(ex)>>>(d, g, dl, n, accumulate);
  });
  CUDA_CHECK_LAUNCH("xent_grad_apply");
}

}  // namespace weft::cuda
