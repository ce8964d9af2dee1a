// CUDA attention forward, the twin of attention_forward in backend_cpu/attention.cpp, flash-attention-2
// style: one thread block per (query tile, head, batch) keeps its 64 query rows in shared memory, walks
// the key tiles (only those at or left of the diagonal when causal, and inside the window) with an online softmax (running max
// m and sum l per row, earlier output rescaled by exp(m_old - m_new)), and writes out = (sum p v) / l and
// lse = m + log(l). No T x T tensor reaches global memory. Scores, mask and bias are evaluated exactly as
// on the CPU (attention_tiles.cuh); f32 and bf16 compute in float; every output has one writer. A head
// size hs runs on the tile width HS that holds it (dispatch_head_size), channels past hs zero-padded.
#include <cmath>

#include "runtime/backend_cuda/attention_tc.cuh"
#include "runtime/backend_cuda/attention_tiles.cuh"
#include "runtime/backend_cuda/cudnn_ops.h"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

using namespace attention_tiles;

template <int HS>
constexpr size_t forward_shared_floats() {
  return 3 * kTile * kLd<HS> + kTile * kLdS + 2 * kTile;  // Q, K, V tiles, scores, alpha, 1 / l
}

// q, out: (B, T_, NH, hs), hs <= HS; k, v: (B, Tk, NH, hs); lse (B, NH, T_). Grid (query tiles, NH, B); the
// last query tiles (the most keys when causal) are scheduled first.
template <int HS, class T>
__global__ void __launch_bounds__(kTileThreads)
    attention_forward_kernel(T* out, float* lse, const T* q, const T* k, const T* v, int64_t T_, int64_t Tk,
                             int64_t NH, int hs, float scale, PositionBias bias, bool causal) {
  constexpr int NC = HS / 16;
  extern __shared__ float smem[];
  float* Qs = smem;                   // (kTile, kLd)
  float* Ks = Qs + kTile * kLd<HS>;   // (kTile, kLd)
  float* Vs = Ks + kTile * kLd<HS>;   // (kTile, kLd)
  float* Ss = Vs + kTile * kLd<HS>;   // (kTile, kLdS): scores, then exp(score - m)
  float* alpha_s = Ss + kTile * kLdS; // (kTile) rescale of each row's earlier output
  float* inv_l_s = alpha_s + kTile;   // (kTile)

  const int64_t h = blockIdx.y, b = blockIdx.z, i0 = int64_t(gridDim.x - 1 - blockIdx.x) * kTile;
  const int64_t stride = NH * hs, head = b * T_ * stride + h * hs, khead = b * Tk * stride + h * hs, off = Tk - T_;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  const int srow = threadIdx.x / 4, spart = threadIdx.x % 4;  // softmax: 4 adjacent lanes per query row

  load_tile<HS>(Qs, q + head, i0, T_, stride, hs);
  float o[kRows][NC];
#pragma unroll
  for (int a = 0; a < kRows; ++a)
#pragma unroll
    for (int n = 0; n < NC; ++n) o[a][n] = 0.0f;
  float m_run = -INFINITY, l_run = 0.0f;  // identical in the 4 lanes of a row

  const int64_t key_end = key_end_of(i0, T_, Tk, causal);
  for (int64_t j0 = key_begin_of(i0, T_, Tk, bias); j0 < key_end; j0 += kTile) {
    __syncthreads();  // the previous tile's K, V and P are no longer read
    load_tile<HS>(Ks, k + khead, j0, Tk, stride, hs);
    load_tile<HS>(Vs, v + khead, j0, Tk, stride, hs);
    __syncthreads();
    float s[kRows][kRows];
    tile_dot<HS>(s, Qs, Ks);
#pragma unroll
    for (int a = 0; a < kRows; ++a)
#pragma unroll
      for (int c = 0; c < kRows; ++c) {
        const int r = ty + 16 * a, col = tx + 16 * c;
        const int64_t i = i0 + r, j = j0 + col;
        Ss[r * kLdS + col] = visible(i, j, T_, Tk, causal, bias) ? score(s[a][c], scale, bias, h, i, j, off) : -INFINITY;
      }
    __syncthreads();
    // Online softmax of row srow over this tile; p overwrites the scores.
    float* row = Ss + srow * kLdS;
    const float alpha = online_softmax_step(row, spart, m_run, l_run, [&](int c, float p) { row[c] = p; });
    if (spart == 0) alpha_s[srow] = alpha;
    __syncthreads();
#pragma unroll
    for (int a = 0; a < kRows; ++a) {
      const float al = alpha_s[ty + 16 * a];
#pragma unroll
      for (int n = 0; n < NC; ++n) o[a][n] *= al;
    }
    tile_accumulate<HS, false>(o, Ss, Vs);  // o += P V
  }

  if (spart == 0) {  // valid rows see their own position, so l_run >= 1 there
    const int64_t i = i0 + srow;
    inv_l_s[srow] = 1.0f / l_run;
    if (i < T_) lse[lse_index(b, h, i, T_, NH)] = m_run + logf(l_run);
  }
  __syncthreads();
#pragma unroll
  for (int a = 0; a < kRows; ++a) {
    const int r = ty + 16 * a;
    const int64_t i = i0 + r;
    if (i >= T_) continue;
    const float inv_l = inv_l_s[r];
#pragma unroll
    for (int n = 0; n < NC; ++n)
      if (tx + 16 * n < hs) store(out, head + i * stride + tx + 16 * n, o[a][n] * inv_l);
  }
}

}  // namespace

void attention_forward(Exec& ex, DType dt, void* out, void* lse, const void* q, const void* k, const void* v,
                       int64_t B, int64_t T, int64_t Tk, int64_t NH, int64_t HS, float scale,
                       const PositionBias& bias, bool causal) {
  if (B == 0 || T == 0 || NH == 0) return;
  const int64_t tiles = (T + kTile - 1) / kTile;
  if (tiles > 0x7fffffff || NH > 65535 || B > 65535)
    WEFT_FAIL("[cuda::attention_forward] grid (", tiles, ", ", NH, ", ", B, ") too large");
  if (cudnn_attention_forward(ex, dt, out, lse, q, k, v, B, T, Tk, NH, HS, scale, bias, causal))
    return;  // cuDNN's fused attention ran it (--attention-backend; attention_cudnn.cpp)
  if (attention_tc_supported(dt, HS))  // bf16: tensor cores (attention_tc_forward.cu)
    return attention_forward_tc(ex, out, lse, q, k, v, B, T, Tk, NH, HS, scale, bias, causal);
  dispatch_float(dt, "attention_forward", [&](auto tag) {
    using V = decltype(tag);
    dispatch_head_size(HS, "attention_forward", [&](auto width) {
      constexpr int kHS = decltype(width)::value;
      const size_t bytes = forward_shared_floats<kHS>() * sizeof(float);
      auto kernel = attention_forward_kernel<kHS, V>;
      allow_shared_bytes(kernel, bytes);
      kernel<<<dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(NH), static_cast<unsigned>(B)), kTileThreads,
               bytes, stream_of(ex)>>>(static_cast<V*>(out), static_cast<float*>(lse), static_cast<const V*>(q),
                                       static_cast<const V*>(k), static_cast<const V*>(v), T, Tk, NH,
                                       static_cast<int>(HS), scale, bias, causal);
      CUDA_CHECK_LAUNCH("attention_forward");
    });
  });
}

}  // namespace weft::cuda
