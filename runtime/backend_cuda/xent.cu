// CUDA fused cross-entropy over logits (N, V), twin of backend_cpu/xent.cpp. The forward runs one row team
// (rows.cuh) per row, reading the row once for the online {max, sum of exp} statistics: lse (N) and the
// target's loss (N), both f32. The backward (row teams too, skipping ignored rows) recomputes each
// probability from the saved lse, so no (N, V) probability tensor exists:
// dlogits += (exp(logit - lse) - onehot(target)) * dloss[0] * inv_norm, dloss a one-element f32 tensor.
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

// dlogits (N, V) += (exp(logit - lse) - onehot(target)) * scale for rows that are not ignored (= instead of
// +=, and zeros on ignored rows, when !accumulate); one row team per row, like the forward (no per-element
// division to find the row).
template <class T, int P, int TPR>
__global__ void xent_backward_kernel(T* dlogits, const float* dloss, const T* logits, const float* lse,
                                     const int32_t* targets, int64_t N, int64_t V, int32_t ignore_index,
                                     float inv_norm, bool accumulate) {
  const float scale = dloss[0] * inv_norm;
  WEFT_ROW_FOR(TPR, row, N) {
    const int32_t t = targets[row];
    T* dr = dlogits + row * V;
    if (t == ignore_index) {  // uniform across the team
      if (!accumulate)
        team_for<P, TPR>(V, [&](int64_t c) {
          float zero[P] = {};
          store_vec<P>(dr, c, zero);
        });
      continue;
    }
    const float l = lse[row];
    const T* lr = logits + row * V;
    team_for<P, TPR>(V, [&](int64_t c) {
      float lg[P], acc[P] = {};
      load_vec<P>(lg, lr, c);
      if (accumulate) load_vec<P>(acc, dr, c);
#pragma unroll
      for (int k = 0; k < P; ++k) {
        acc[k] += expf(lg[k] - l) * scale;
        if (c + k == t) acc[k] -= scale;
      }
      store_vec<P>(dr, c, acc);
    });
  }
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

void xent_backward(Exec& ex, DType dt, void* dlogits, const void* dloss, const void* logits, const void* lse,
                   const int32_t* targets, int64_t N, int64_t V, int32_t ignore_index, float inv_norm,
                   bool accumulate) {
  if (N == 0 || V == 0) return;
  dispatch_float(dt, "xent_backward", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dlogits);
    const T* lg = static_cast<const T*>(logits);
    const float *dl = static_cast<const float*>(dloss), *l = static_cast<const float*>(lse);
    launch_rows<T>(N, V, all_aligned(16, d, lg), [&](auto p, auto tpr, unsigned grid, int block) {
      xent_backward_kernel<T, decltype(p)::value, decltype(tpr)::value>
          <<<grid, block, 0, stream_of(ex)>>>(d, dl, lg, l, targets, N, V, ignore_index, inv_norm, accumulate);
    });
  });
  CUDA_CHECK_LAUNCH("xent_backward");
}

}  // namespace weft::cuda
