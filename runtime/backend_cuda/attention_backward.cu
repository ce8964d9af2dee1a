// CUDA attention backward, the twin of attention_backward in backend_cpu/attention.cpp. Deterministic,
// without atomics: kernel A, one block per (key tile, head, batch), walks the query tiles that can see
// its keys and accumulates dk and dv of its 64 keys in registers; kernel B, one block per (query tile,
// head, batch), walks the visible key tiles and accumulates dq. Both recompute p = exp(score - lse),
// dp = dout . v and ds = attention_ds(p, dp, D, scale) (runtime/math/rowwise.h), with D_i = dout_i . out_i
// formed per query tile (no scratch memory). Results are ADDED to dq, dk, dv; a null one is skipped. A
// head size hs runs on the tile width HS that holds it (dispatch_head_size), channels past hs zero-padded.
#include "runtime/backend_cuda/attention_tc.cuh"
#include "runtime/backend_cuda/attention_tiles.cuh"
#include "runtime/backend_cuda/cudnn_ops.h"
#include "runtime/kernels.h"
#include "runtime/math/rowwise.h"

namespace weft::cuda {

namespace {

using namespace attention_tiles;

template <int HS>
constexpr size_t dkdv_shared_floats() {
  return 4 * kTile * kLd<HS> + 2 * kTile * kLdS + 2 * kTile;  // K, V, Q, dO tiles; P, dS; lse, D
}
template <int HS>
constexpr size_t dq_shared_floats() {
  return 4 * kTile * kLd<HS> + kTile * kLdS + 2 * kTile;  // Q, dO, K, V tiles; dS; lse, D
}

// For this thread's (query ty + 16a, key tx + 16c) pairs of the tile (i0, j0): p = exp(score - lse_i)
// (0 where masked) and ds = attention_ds(p, dout_i . v_j, D_i, scale).
template <int HS>
__device__ __forceinline__ void tile_probs_and_ds(float (&p)[kRows][kRows], float (&ds)[kRows][kRows],
                                                  const float* Qs, const float* Ks, const float* dOs, const float* Vs,
                                                  const float* lse_s, const float* D_s, int64_t i0, int64_t j0,
                                                  int64_t T_, int64_t Tk, int64_t h, float scale,
                                                  const PositionBias& bias, bool causal, bool need_ds) {
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  float s[kRows][kRows];
  tile_dot<HS>(s, Qs, Ks);
#pragma unroll
  for (int a = 0; a < kRows; ++a)
#pragma unroll
    for (int c = 0; c < kRows; ++c) {
      const int r = ty + 16 * a;
      const int64_t i = i0 + r, j = j0 + tx + 16 * c;
      p[a][c] = visible(i, j, T_, Tk, causal, bias) ? expf(score(s[a][c], scale, bias, h, i, j, Tk - T_) - lse_s[r]) : 0.0f;
    }
  if (!need_ds) return;
  float dp[kRows][kRows];
  tile_dot<HS>(dp, dOs, Vs);
#pragma unroll
  for (int a = 0; a < kRows; ++a)
#pragma unroll
    for (int c = 0; c < kRows; ++c) ds[a][c] = attention_ds(p[a][c], dp[a][c], D_s[ty + 16 * a], scale);
}

// acc (kTile, HS) of this thread (rows ty + 16a, channels tx + 16n) added to rows [r0, r0 + kTile) of one
// head of dst, rows past T and channels past hs skipped.
template <int HS, class T>
__device__ __forceinline__ void add_tile(T* dst_head, const float (&acc)[kRows][HS / 16], int64_t r0, int64_t T_,
                                         int64_t stride, int hs) {
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll
  for (int a = 0; a < kRows; ++a) {
    const int64_t i = r0 + ty + 16 * a;
    if (i >= T_) continue;
#pragma unroll
    for (int n = 0; n < HS / 16; ++n) {
      if (tx + 16 * n >= hs) continue;
      const int64_t e = i * stride + tx + 16 * n;
      store(dst_head, e, load(dst_head, e) + acc[a][n]);
    }
  }
}

template <int HS>
__device__ __forceinline__ void zero(float (&acc)[kRows][HS / 16]) {
#pragma unroll
  for (int a = 0; a < kRows; ++a)
#pragma unroll
    for (int n = 0; n < HS / 16; ++n) acc[a][n] = 0.0f;
}

// Kernel A. Grid (key tiles, NH, B). dk, dv (B, Tk, NH, hs) += sum over query rows of ds^T q and p^T dout.
template <int HS, class T>
__global__ void __launch_bounds__(kTileThreads)
    attention_dkdv_kernel(T* dk, T* dv, const T* dout, const T* out, const float* lse, const T* q, const T* k,
                          const T* v, int64_t T_, int64_t Tk, int64_t NH, int hs, float scale, PositionBias bias,
                          bool causal) {
  extern __shared__ float smem[];
  float* Ks = smem;                    // (kTile, kLd)
  float* Vs = Ks + kTile * kLd<HS>;    // (kTile, kLd)
  float* Qs = Vs + kTile * kLd<HS>;    // (kTile, kLd)
  float* dOs = Qs + kTile * kLd<HS>;   // (kTile, kLd)
  float* Ps = dOs + kTile * kLd<HS>;   // (kTile queries, kLdS keys)
  float* dSs = Ps + kTile * kLdS;      // (kTile queries, kLdS keys)
  float* lse_s = dSs + kTile * kLdS;   // (kTile)
  float* D_s = lse_s + kTile;          // (kTile)

  const int64_t h = blockIdx.y, b = blockIdx.z, j0 = int64_t(blockIdx.x) * kTile;
  const int64_t stride = NH * hs, head = b * T_ * stride + h * hs, khead = b * Tk * stride + h * hs;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  const float* lse_bh = lse + lse_index(b, h, 0, T_, NH);
  const bool need_ds = dk != nullptr;

  load_tile<HS>(Ks, k + khead, j0, Tk, stride, hs);
  load_tile<HS>(Vs, v + khead, j0, Tk, stride, hs);
  float dk_acc[kRows][HS / 16], dv_acc[kRows][HS / 16];  // rows: keys ty + 16a
  zero<HS>(dk_acc);
  zero<HS>(dv_acc);
  // Causal: query tiles before the one holding query j0 - off see none of its keys; with a window, none
  // from query_end_of on.
  const int64_t query_end = query_end_of(j0, T_, Tk, bias);
  for (int64_t i0 = query_begin_of(j0, T_, Tk, causal); i0 < query_end; i0 += kTile) {
    __syncthreads();  // the previous query tile is no longer read
    load_tile<HS>(Qs, q + head, i0, T_, stride, hs);
    load_tile<HS>(dOs, dout + head, i0, T_, stride, hs);
    load_row_stats(lse_s, D_s, dout + head, out + head, lse_bh, i0, T_, stride, hs);
    __syncthreads();
    float p[kRows][kRows], ds[kRows][kRows];
    tile_probs_and_ds<HS>(p, ds, Qs, Ks, dOs, Vs, lse_s, D_s, i0, j0, T_, Tk, h, scale, bias, causal, need_ds);
#pragma unroll
    for (int a = 0; a < kRows; ++a)
#pragma unroll
      for (int c = 0; c < kRows; ++c) {
        const int idx = (ty + 16 * a) * kLdS + tx + 16 * c;
        Ps[idx] = p[a][c];
        if (need_ds) dSs[idx] = ds[a][c];
      }
    __syncthreads();
    if (dv) tile_accumulate<HS, true>(dv_acc, Ps, dOs);  // dv += P^T dO
    if (dk) tile_accumulate<HS, true>(dk_acc, dSs, Qs);  // dk += dS^T Q
  }
  if (dk) add_tile<HS>(dk + khead, dk_acc, j0, Tk, stride, hs);
  if (dv) add_tile<HS>(dv + khead, dv_acc, j0, Tk, stride, hs);
}

// Kernel B. Grid (query tiles, NH, B); the last query tiles (most keys when causal) go first.
// dq (B, T_, NH, hs) += ds k over the visible keys.
template <int HS, class T>
__global__ void __launch_bounds__(kTileThreads)
    attention_dq_kernel(T* dq, const T* dout, const T* out, const float* lse, const T* q, const T* k, const T* v,
                        int64_t T_, int64_t Tk, int64_t NH, int hs, float scale, PositionBias bias, bool causal) {
  extern __shared__ float smem[];
  float* Qs = smem;                    // (kTile, kLd)
  float* dOs = Qs + kTile * kLd<HS>;   // (kTile, kLd)
  float* Ks = dOs + kTile * kLd<HS>;   // (kTile, kLd)
  float* Vs = Ks + kTile * kLd<HS>;    // (kTile, kLd)
  float* dSs = Vs + kTile * kLd<HS>;   // (kTile queries, kLdS keys)
  float* lse_s = dSs + kTile * kLdS;   // (kTile)
  float* D_s = lse_s + kTile;          // (kTile)

  const int64_t h = blockIdx.y, b = blockIdx.z, i0 = int64_t(gridDim.x - 1 - blockIdx.x) * kTile;
  const int64_t stride = NH * hs, head = b * T_ * stride + h * hs, khead = b * Tk * stride + h * hs;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;

  load_tile<HS>(Qs, q + head, i0, T_, stride, hs);
  load_tile<HS>(dOs, dout + head, i0, T_, stride, hs);
  load_row_stats(lse_s, D_s, dout + head, out + head, lse + lse_index(b, h, 0, T_, NH), i0, T_, stride, hs);
  float dq_acc[kRows][HS / 16];  // rows: queries ty + 16a
  zero<HS>(dq_acc);
  const int64_t key_end = key_end_of(i0, T_, Tk, causal);
  for (int64_t j0 = key_begin_of(i0, T_, Tk, bias); j0 < key_end; j0 += kTile) {
    __syncthreads();  // the previous key tile and dS are no longer read (first pass: Q, dO, stats written)
    load_tile<HS>(Ks, k + khead, j0, Tk, stride, hs);
    load_tile<HS>(Vs, v + khead, j0, Tk, stride, hs);
    __syncthreads();
    float p[kRows][kRows], ds[kRows][kRows];
    tile_probs_and_ds<HS>(p, ds, Qs, Ks, dOs, Vs, lse_s, D_s, i0, j0, T_, Tk, h, scale, bias, causal, true);
#pragma unroll
    for (int a = 0; a < kRows; ++a)
#pragma unroll
      for (int c = 0; c < kRows; ++c) dSs[(ty + 16 * a) * kLdS + tx + 16 * c] = ds[a][c];
    __syncthreads();
    tile_accumulate<HS, false>(dq_acc, dSs, Ks);  // dq += dS K
  }
  add_tile<HS>(dq + head, dq_acc, i0, T_, stride, hs);
}

}  // namespace

void attention_backward(Exec& ex, DType dt, void* dq, void* dk, void* dv, const void* dout, const void* out,
                        const void* lse, const void* q, const void* k, const void* v, int64_t B, int64_t T,
                        int64_t Tk, int64_t NH, int64_t HS, float scale, const PositionBias& bias, bool causal) {
  if (B == 0 || T == 0 || NH == 0 || (!dq && !dk && !dv)) return;
  const int64_t tiles = (T + kTile - 1) / kTile, key_tiles = (Tk + kTile - 1) / kTile;
  if (key_tiles > 0x7fffffff || NH > 65535 || B > 65535)
    WEFT_FAIL("[cuda::attention_backward] grid (", key_tiles, ", ", NH, ", ", B, ") too large");
  if (cudnn_attention_backward(ex, dt, dq, dk, dv, dout, out, lse, q, k, v, B, T, Tk, NH, HS, scale, bias, causal))
    return;  // cuDNN's fused attention ran it (--attention-backend; attention_cudnn.cpp)
  if (attention_tc_supported(dt, HS))  // bf16: tensor cores (attention_tc_backward.cu)
    return attention_backward_tc(ex, dq, dk, dv, dout, out, lse, q, k, v, B, T, Tk, NH, HS, scale, bias, causal);
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(NH), static_cast<unsigned>(B));
  const dim3 key_grid(static_cast<unsigned>(key_tiles), static_cast<unsigned>(NH), static_cast<unsigned>(B));
  dispatch_float(dt, "attention_backward", [&](auto tag) {
    using V = decltype(tag);
    const V *dO = static_cast<const V*>(dout), *O = static_cast<const V*>(out);
    const V *Q = static_cast<const V*>(q), *K = static_cast<const V*>(k), *Vv = static_cast<const V*>(v);
    const float* L = static_cast<const float*>(lse);
    const int hs = static_cast<int>(HS);
    dispatch_head_size(HS, "attention_backward", [&](auto width) {
      constexpr int kHS = decltype(width)::value;
      if (dk || dv) {
        const size_t bytes = dkdv_shared_floats<kHS>() * sizeof(float);
        auto kernel = attention_dkdv_kernel<kHS, V>;
        allow_shared_bytes(kernel, bytes);
        kernel<<<key_grid, kTileThreads, bytes, stream_of(ex)>>>(static_cast<V*>(dk), static_cast<V*>(dv), dO, O, L,
                                                                 Q, K, Vv, T, Tk, NH, hs, scale, bias, causal);
        CUDA_CHECK_LAUNCH("attention_backward (dk, dv)");
      }
      if (dq) {
        const size_t bytes = dq_shared_floats<kHS>() * sizeof(float);
        auto kernel = attention_dq_kernel<kHS, V>;
        allow_shared_bytes(kernel, bytes);
        kernel<<<grid, kTileThreads, bytes, stream_of(ex)>>>(static_cast<V*>(dq), dO, O, L, Q, K, Vv, T, Tk, NH, hs,
                                                             scale, bias, causal);
        CUDA_CHECK_LAUNCH("attention_backward (dq)");
      }
    });
  });
}

}  // namespace weft::cuda
