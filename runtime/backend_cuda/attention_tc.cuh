// Tensor-core (WMMA, bf16 x bf16 -> float) tiles of the bf16 attention kernels (attention_tc_forward.cu,
// attention_tc_backward.cu), on the 64 x 64 tiling of attention_tiles.cuh: 256 threads = 8 warps, each
// warp computes whole 16 x 16 fragments of a tile product. Operands live in shared memory as bf16
// (rows padded by 8 elements: 16 bytes, so the 16 rows of a fragment load hit distinct banks), products
// land in float tiles (rows padded by 4), where the per-row softmax code of attention_tiles.cuh works.
// Fragments are only filled, loaded, stored and multiplied (never indexed), so the layout is the API's.
// Head sizes pad to a tile width HS as in attention_tiles.cuh: bf16 tiles are zero past the real hs, so
// the products are exact and the extra accumulator columns are 0 (and never stored).
#pragma once

#include <mma.h>

#include "runtime/backend_cuda/attention_tiles.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

// The head sizes the tensor-core kernels take: every one of dispatch_head_size (1 to kMaxHeadSize, padded
// to 32, 64, 96 or 128); only bf16 goes there. Larger ones fall to the f32-tile path, which names the size.
inline bool attention_tc_supported(DType dt, int64_t HS) {
  return dt == DType::bf16 && HS >= 1 && HS <= attention_tiles::kMaxHeadSize;
}
// The bf16 paths of attention_forward / attention_backward (same arguments, dt == bf16 implied).
void attention_forward_tc(Exec& ex, void* out, void* lse, const void* q, const void* k, const void* v, int64_t B,
                          int64_t T, int64_t Tk, int64_t NH, int64_t HS, float scale, const PositionBias& bias,
                          bool causal);
void attention_backward_tc(Exec& ex, void* dq, void* dk, void* dv, const void* dout, const void* out,
                           const void* lse, const void* q, const void* k, const void* v, int64_t B, int64_t T,
                           int64_t Tk, int64_t NH, int64_t HS, float scale, const PositionBias& bias, bool causal);

namespace attention_tc {

using namespace attention_tiles;
namespace wmma = nvcuda::wmma;
using bf16 = __nv_bfloat16;

constexpr int kWarps = kTileThreads / 32;  // 8
constexpr int kFrags = kTile / 16;         // fragments along one side of a 64-wide tile
constexpr int kLdF = kTile + 4;            // row stride of a float (kTile, kTile) tile (multiple of 4)
constexpr int kLdP = kTile + 8;            // row stride of a bf16 (kTile, kTile) tile (multiple of 8)
template <int HS>
constexpr int kLdH = HS + 8;               // row stride of a bf16 (kTile, HS) tile
template <int HS>
constexpr int kLdAcc = HS + 4;             // row stride of a float (kTile, HS) tile

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
using FragAt = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::col_major>;  // A^T of a row-major A
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
using FragBt = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;  // B^T of a row-major B
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// Shared-memory regions start 128-byte aligned (wmma wants 32); `bytes` of a region rounded up.
constexpr size_t region(size_t bytes) { return (bytes + 127) / 128 * 128; }
template <int HS>
constexpr size_t bf16_tile_bytes() { return region(sizeof(bf16) * kTile * kLdH<HS>); }
constexpr size_t score_tile_bytes() { return region(sizeof(float) * kTile * kLdF); }
constexpr size_t prob_tile_bytes() { return region(sizeof(bf16) * kTile * kLdP); }
template <int HS>
constexpr size_t acc_tile_bytes() { return region(sizeof(float) * kTile * kLdAcc<HS>); }
constexpr size_t row_bytes() { return region(sizeof(float) * kTile); }

// Hands out consecutive regions of the dynamic shared memory in the order of the *_shared_bytes sums.
struct SharedCarver {
  uint8_t* at;
  template <class T>
  __device__ T* take(size_t bytes) {
    T* p = reinterpret_cast<T*>(at);
    at += bytes;
    return p;
  }
};

// Rows [r0, r0 + kTile) of one head of x (B, T, NH, hs) into dst (kTile, kLdH<HS>) bf16; rows at or past
// T and channels at or past hs read as 0. `head` = x + b * T * NH * hs + h * hs, row stride NH * hs.
// A head that fills its tile width (hs == HS) with 16-byte aligned rows moves in 16-byte packs of 8 channels
// (one 128-bit load and store per pack: 8x fewer memory instructions); padded heads go element by element.
template <int HS>
__device__ __forceinline__ void load_tile_bf16(bf16* dst, const bf16* head, int64_t r0, int64_t T_,
                                               int64_t stride, int hs) {
  if (hs == HS && stride % 8 == 0 && reinterpret_cast<uintptr_t>(head) % 16 == 0) {  // the same for every thread
    constexpr int kPacks = HS / 8;  // per row; dst rows (kLdH = HS + 8 elements) stay 16-byte aligned
    for (int e = threadIdx.x; e < kTile * kPacks; e += kTileThreads) {
      const int r = e / kPacks, c = e % kPacks * 8;
      const int64_t i = r0 + r;
      uint4 pack = make_uint4(0, 0, 0, 0);  // bf16 zeros past T
      if (i < T_) pack = *reinterpret_cast<const uint4*>(head + i * stride + c);
      *reinterpret_cast<uint4*>(dst + r * kLdH<HS> + c) = pack;
    }
    return;
  }
  for (int e = threadIdx.x; e < kTile * HS; e += kTileThreads) {
    const int r = e / HS, d = e % HS;
    const int64_t i = r0 + r;
    dst[r * kLdH<HS> + d] = i < T_ && d < hs ? head[i * stride + d] : __float2bfloat16(0.0f);
  }
}

// C (kTile, kLdF) float = A B^T over HS channels, A and B (kTile, kLdH<HS>) bf16: S = Q K^T, dP = dO V^T.
// Warp w computes fragments w and w + 8 of the 4 x 4.
template <int HS>
__device__ __forceinline__ void product_abt(float* C, const bf16* A, const bf16* B) {
  const int warp = threadIdx.x / 32;
  for (int f = warp; f < kFrags * kFrags; f += kWarps) {
    const int fr = f / kFrags, fc = f % kFrags;
    FragC acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int kc = 0; kc < HS / 16; ++kc) {
      FragA a;
      FragBt b;
      wmma::load_matrix_sync(a, A + fr * 16 * kLdH<HS> + kc * 16, kLdH<HS>);
      wmma::load_matrix_sync(b, B + fc * 16 * kLdH<HS> + kc * 16, kLdH<HS>);
      wmma::mma_sync(acc, a, b, acc);
    }
    wmma::store_matrix_sync(C + fr * 16 * kLdF + fc * 16, acc, kLdF, wmma::mem_row_major);
  }
}

// The (kTile, HS) accumulator fragments a warp owns: fragment f = warp + 8n (n < HS / 32) of the
// 4 x (HS / 16), at fragment row f / (HS / 16), column f % (HS / 16).
template <int HS>
constexpr int kAccFrags = kFrags * (HS / 16) / kWarps;

// acc[n] += W X over kTile, W (kTile, kTile) bf16 with row stride kLdP (transposed when kTransposeW: W^T
// of the stored tile), X (kTile, kLdH<HS>) bf16: O += P V, dq += dS K, dv += P^T dO, dk += dS^T Q.
template <int HS, bool kTransposeW>
__device__ __forceinline__ void accumulate_wx(FragC (&acc)[kAccFrags<HS>], const bf16* W, const bf16* X) {
  constexpr int NC = HS / 16;
  const int warp = threadIdx.x / 32;
#pragma unroll
  for (int n = 0; n < kAccFrags<HS>; ++n) {
    const int f = warp + kWarps * n, fr = f / NC, fc = f % NC;
    for (int kc = 0; kc < kFrags; ++kc) {
      FragB x;
      wmma::load_matrix_sync(x, X + kc * 16 * kLdH<HS> + fc * 16, kLdH<HS>);
      if constexpr (kTransposeW) {
        FragAt w;  // element (m, k) of W^T's fragment is stored W[kc * 16 + k][fr * 16 + m]
        wmma::load_matrix_sync(w, W + kc * 16 * kLdP + fr * 16, kLdP);
        wmma::mma_sync(acc[n], w, x, acc[n]);
      } else {
        FragA w;
        wmma::load_matrix_sync(w, W + fr * 16 * kLdP + kc * 16, kLdP);
        wmma::mma_sync(acc[n], w, x, acc[n]);
      }
    }
  }
}

// The warp's accumulator fragments to / from a float (kTile, kLdAcc<HS>) tile.
template <int HS>
__device__ __forceinline__ void store_acc(float* tile, const FragC (&acc)[kAccFrags<HS>]) {
  constexpr int NC = HS / 16;
  const int warp = threadIdx.x / 32;
#pragma unroll
  for (int n = 0; n < kAccFrags<HS>; ++n) {
    const int f = warp + kWarps * n;
    wmma::store_matrix_sync(tile + (f / NC) * 16 * kLdAcc<HS> + (f % NC) * 16, acc[n], kLdAcc<HS>,
                            wmma::mem_row_major);
  }
}
template <int HS>
__device__ __forceinline__ void load_acc(FragC (&acc)[kAccFrags<HS>], const float* tile) {
  constexpr int NC = HS / 16;
  const int warp = threadIdx.x / 32;
#pragma unroll
  for (int n = 0; n < kAccFrags<HS>; ++n) {
    const int f = warp + kWarps * n;
    wmma::load_matrix_sync(acc[n], tile + (f / NC) * 16 * kLdAcc<HS> + (f % NC) * 16, kLdAcc<HS>,
                           wmma::mem_row_major);
  }
}
template <int HS>
__device__ __forceinline__ void zero_acc(FragC (&acc)[kAccFrags<HS>]) {
#pragma unroll
  for (int n = 0; n < kAccFrags<HS>; ++n) wmma::fill_fragment(acc[n], 0.0f);
}

}  // namespace attention_tc
}  // namespace weft::cuda
