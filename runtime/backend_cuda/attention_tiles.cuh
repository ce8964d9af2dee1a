// Tiles shared by the CUDA attention kernels (attention_forward.cu, attention_backward.cu): 64 query rows
// by 64 keys per tile, 256 threads as a 16 x 16 grid. Thread (ty, tx) owns query / key rows ty + 16a
// (a < 4) and, of a (64, 64) score tile, keys tx + 16b (b < 4); of a (64, HS) accumulator, channels
// tx + 16n (n < HS / 16). Tiles live in shared memory as float, rows padded by one element so column
// walks do not hit the same bank. The score, mask and bias are the CPU's (backend_cpu/attention.cpp).
// Queries (Tq rows) may be fewer than keys (Tk): query i sits at key position i + off, off = Tk - Tq.
// A window (bias.window = W, causal) narrows the walks to the key tiles (query tiles) that hold a visible
// pair, key_begin_of / query_end_of; pairs outside it inside a walked tile are masked like the causal ones.
// Any head size hs <= 128 runs: the kernels are compiled for a tile width HS (template) of 32, 64, 96 or
// 128 and get the real hs at run time; loads read channels hs..HS-1 as 0 (they add nothing to a dot
// product, and give 0 in the matching accumulator columns), stores skip them.
#pragma once

#include <type_traits>

#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/math/position_bias.h"

namespace weft::cuda::attention_tiles {

constexpr int kTile = 64;               // query rows and keys per tile
constexpr int kTileThreads = 256;       // 16 x 16
constexpr int kRows = kTile / 16;       // rows (and score columns) per thread
constexpr int kLdS = kTile + 1;         // row stride of a (kTile, kTile) score tile in shared memory
template <int HS>
constexpr int kLd = HS + 1;             // row stride of a (kTile, HS) tile in shared memory

// The tile widths the kernels are compiled for; a head size runs on the smallest one that holds it, so
// 32, 64, 96 and 128 run unpadded (MoEUT-44M's 82 on 96, with 14 zero channels). Adding a width (say 48)
// is one case here, at the price of compiling every attention kernel once more.
inline constexpr int kMaxHeadSize = 128;
inline int padded_head_size(int64_t hs) { return hs <= 32 ? 32 : hs <= 64 ? 64 : hs <= 96 ? 96 : 128; }

// Calls fn(integral_constant<int, width>) with the tile width of head size hs; above kMaxHeadSize fails
// with a message naming the kernel and the size (the shared-memory tiles of wider heads do not fit).
template <class Fn>
void dispatch_head_size(int64_t hs, const char* kernel, Fn&& fn) {
  WEFT_CHECK(hs >= 1 && hs <= kMaxHeadSize, "[cuda::", kernel, "] head size ", hs,
             " is not supported on CUDA (1 to ", kMaxHeadSize, "; the CPU backend takes any)");
  switch (padded_head_size(hs)) {
    case 32: fn(std::integral_constant<int, 32>{}); break;
    case 64: fn(std::integral_constant<int, 64>{}); break;
    case 96: fn(std::integral_constant<int, 96>{}); break;
    default: fn(std::integral_constant<int, 128>{}); break;
  }
}

// Sets the dynamic shared memory a kernel needs above the 48 KiB default (fails if the GPU has less).
template <class Kernel>
void allow_shared_bytes(Kernel kernel, size_t bytes) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

// Rows [r0, r0 + kTile) of one head of x (B, T, NH, hs) into dst (kTile, kLd<HS>) as float; rows at or
// past T and channels at or past hs read as 0. `head` = x + b * T * NH * hs + h * hs, row stride NH * hs.
template <int HS, class T>
__device__ __forceinline__ void load_tile(float* dst, const T* head, int64_t r0, int64_t T_, int64_t stride,
                                          int hs) {
  for (int e = threadIdx.x; e < kTile * HS; e += kTileThreads) {
    const int r = e / HS, d = e % HS;
    const int64_t i = r0 + r;
    dst[r * kLd<HS> + d] = i < T_ && d < hs ? load(head, i * stride + d) : 0.0f;
  }
}

// acc[a][b] = A[ty + 16a] . B[tx + 16b] over HS channels; A and B are (kTile, kLd<HS>) shared tiles.
template <int HS>
__device__ __forceinline__ void tile_dot(float (&acc)[kRows][kRows], const float* A, const float* B) {
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll
  for (int a = 0; a < kRows; ++a)
#pragma unroll
    for (int b = 0; b < kRows; ++b) acc[a][b] = 0.0f;
#pragma unroll 8
  for (int d = 0; d < HS; ++d) {
    float av[kRows], bv[kRows];
#pragma unroll
    for (int a = 0; a < kRows; ++a) av[a] = A[(ty + 16 * a) * kLd<HS> + d];
#pragma unroll
    for (int b = 0; b < kRows; ++b) bv[b] = B[(tx + 16 * b) * kLd<HS> + d];
#pragma unroll
    for (int a = 0; a < kRows; ++a)
#pragma unroll
      for (int b = 0; b < kRows; ++b) acc[a][b] += av[a] * bv[b];
  }
}

// acc[a][n] += sum over the kTile rows c of W[c][row(a)] (transposed) or W[row(a)][c] times X[c][tx + 16n]:
// with W a (kTile, kLdS) score tile and X a (kTile, kLd<HS>) tile; row(a) = ty + 16a.
template <int HS, bool kTransposeW>
__device__ __forceinline__ void tile_accumulate(float (&acc)[kRows][HS / 16], const float* W, const float* X) {
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll 4
  for (int c = 0; c < kTile; ++c) {
    float w[kRows];
#pragma unroll
    for (int a = 0; a < kRows; ++a) w[a] = kTransposeW ? W[c * kLdS + ty + 16 * a] : W[(ty + 16 * a) * kLdS + c];
#pragma unroll
    for (int n = 0; n < HS / 16; ++n) {
      const float x = X[c * kLd<HS> + tx + 16 * n];
#pragma unroll
      for (int a = 0; a < kRows; ++a) acc[a][n] += w[a] * x;
    }
  }
}

// Key j is visible from query i (i < Tq, j < Tk; j <= i + Tk - Tq when causal; inside the window of
// position i + Tk - Tq), as block_scores masks.
__device__ __forceinline__ bool visible(int64_t i, int64_t j, int64_t Tq, int64_t Tk, bool causal,
                                        const PositionBias& bias) {
  return i < Tq && j < Tk && (!causal || j <= i + (Tk - Tq)) && bias.in_window(i + (Tk - Tq), j);
}

// The score of a visible pair: scale * q_i . k_j + bias(h, i + off, j), in the CPU's order (GEMM alpha, then
// bias).
__device__ __forceinline__ float score(float qk, float scale, const PositionBias& bias, int64_t h, int64_t i,
                                       int64_t j, int64_t off) {
  return scale * qk + bias(h, i + off, j);
}

// Keys [0, end) a causal query tile [i0, i0 + kTile) can see (all Tk when not causal).
__device__ __forceinline__ int64_t key_end_of(int64_t i0, int64_t Tq, int64_t Tk, bool causal) {
  if (!causal) return Tk;
  const int64_t end = i0 + kTile + (Tk - Tq);
  return end < Tk ? end : Tk;
}

// The first key tile a query tile [i0, i0 + kTile) sees: the one holding its first row's first key in the
// window (0 without a window).
__device__ __forceinline__ int64_t key_begin_of(int64_t i0, int64_t Tq, int64_t Tk, const PositionBias& bias) {
  return bias.first_key(i0 + (Tk - Tq)) / kTile * kTile;
}

// The end of the queries that see any key of the tile [j0, j0 + kTile) with a window: i + off - j < W for
// its last key j = j0 + kTile - 1 (Tq without a window; <= 0 when no query does).
__device__ __forceinline__ int64_t query_end_of(int64_t j0, int64_t Tq, int64_t Tk, const PositionBias& bias) {
  if (bias.window <= 0) return Tq;
  const int64_t end = j0 + kTile - 1 + bias.window - (Tk - Tq);
  return end < Tq ? end : Tq;
}

// The first query tile that sees any key of the tile [j0, j0 + kTile) (0 when not causal): queries
// i >= j0 - off, rounded down to a tile.
__device__ __forceinline__ int64_t query_begin_of(int64_t j0, int64_t Tq, int64_t Tk, bool causal) {
  if (!causal) return 0;
  const int64_t first = j0 - (Tk - Tq);
  return first <= 0 ? 0 : first / kTile * kTile;
}

// One online-softmax step of query row `row` (kTile scores of a key tile, -inf where masked), run by the
// 4 adjacent lanes spart = 0..3 that own the row: updates the running max m_run and sum l_run (bitwise
// equal in the 4 lanes), calls put(c, exp(row[c] - m)) for this lane's columns c = spart + 4n, and
// returns alpha = exp(m_old - m_new), the rescale of the row's earlier output. A row with nothing
// visible yet (only rows past T) keeps the reference 0, so exp(-inf - 0) = 0 and no NaN appears.
template <class Put>
__device__ __forceinline__ float online_softmax_step(const float* row, int spart, float& m_run, float& l_run,
                                                     Put&& put) {
  float tile_max = -INFINITY;
  for (int c = spart; c < kTile; c += 4) tile_max = fmaxf(tile_max, row[c]);
  tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
  tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
  const float m_new = fmaxf(m_run, tile_max), m_ref = m_new == -INFINITY ? 0.0f : m_new;
  float sum = 0.0f;
  for (int c = spart; c < kTile; c += 4) {
    const float p = expf(row[c] - m_ref);
    put(c, p);
    sum += p;
  }
  sum += __shfl_xor_sync(0xffffffffu, sum, 1);  // butterfly: the 4 lanes get bitwise equal sums
  sum += __shfl_xor_sync(0xffffffffu, sum, 2);
  const float alpha = expf(m_run - m_ref);
  l_run = l_run * alpha + sum;
  m_run = m_new;
  return alpha;
}

// lse_s[r] and D_s[r] of the query rows [i0, i0 + kTile) (0 past T), 4 adjacent lanes per row:
// D_i = dout_i . out_i over the hs channels, read from global memory.
template <class T>
__device__ __forceinline__ void load_row_stats(float* lse_s, float* D_s, const T* dout_head, const T* out_head,
                                               const float* lse_bh, int64_t i0, int64_t T_, int64_t stride,
                                               int hs) {
  const int srow = threadIdx.x / 4, spart = threadIdx.x % 4;
  const int64_t i = i0 + srow;
  float D = 0.0f;
  if (i < T_)
    for (int d = spart; d < hs; d += 4) D += load(dout_head, i * stride + d) * load(out_head, i * stride + d);
  D += __shfl_xor_sync(0xffffffffu, D, 1);
  D += __shfl_xor_sync(0xffffffffu, D, 2);
  if (spart == 0) {
    D_s[srow] = D;
    lse_s[srow] = i < T_ ? lse_bh[i] : 0.0f;
  }
}

// Index of (b, h, i) in lse (B, NH, T).
__device__ __forceinline__ int64_t lse_index(int64_t b, int64_t h, int64_t i, int64_t T_, int64_t NH) {
  return (b * NH + h) * T_ + i;
}

}  // namespace weft::cuda::attention_tiles
