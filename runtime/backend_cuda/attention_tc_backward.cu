// bf16 attention backward on tensor cores (WMMA), picked by attention_backward (attention_backward.cu)
// for bf16; the same deterministic two-kernel scheme as its f32 kernels, without atomics: kernel A, one
// block per (key tile, head, batch), walks the query tiles that can see its keys and accumulates dk, dv of
// its 64 keys in float fragments; kernel B, one block per (query tile, head, batch), walks the visible key
// tiles and accumulates dq. Per tile pair: S = Q K^T and dP = dO V^T by WMMA into float tiles, then in
// float p = exp(score - lse) and ds = attention_ds(p, dp, D, scale) (runtime/math/rowwise.h), rounded to
// bf16 for dv += P^T dO, dk += dS^T Q, dq += dS K by WMMA. Results are ADDED to dq, dk, dv; a null one is
// skipped. A head size hs runs on the tile width HS that holds it, channels past hs zero-padded.
#include "runtime/backend_cuda/attention_tc.cuh"
#include "runtime/math/rowwise.h"

namespace weft::cuda {

namespace {

using namespace attention_tc;

template <int HS>
constexpr size_t dkdv_tc_shared_bytes() {  // K, V, Q, dO; S, dP; P, dS; lse, D
  return 4 * bf16_tile_bytes<HS>() + 2 * score_tile_bytes() + 2 * prob_tile_bytes() + 2 * row_bytes();
}
template <int HS>
constexpr size_t dq_tc_shared_bytes() {  // Q, dO, K, V; S, dP; dS; lse, D
  return 4 * bf16_tile_bytes<HS>() + 2 * score_tile_bytes() + prob_tile_bytes() + 2 * row_bytes();
}
// After the tile loop the two leading bf16 tiles are dead and hold the float result tile on its way out.
template <int HS>
constexpr bool result_fits_leading_tiles() { return acc_tile_bytes<HS>() <= 2 * bf16_tile_bytes<HS>(); }

// Of the tile pair (queries i0.., keys j0..) from S and dP (float, kLdF): P[r][c] = p (0 where masked) and,
// if dSb, dS[r][c] = attention_ds(p, dp, D_r, scale), both bf16 (kLdP); Pb may be null.
__device__ __forceinline__ void probs_and_ds(bf16* Pb, bf16* dSb, const float* Ss, const float* dPs,
                                             const float* lse_s, const float* D_s, int64_t i0, int64_t j0,
                                             int64_t T_, int64_t Tk, int64_t h, float scale,
                                             const PositionBias& bias, bool causal) {
  for (int e = threadIdx.x; e < kTile * kTile; e += kTileThreads) {
    const int r = e / kTile, c = e % kTile;
    const int64_t i = i0 + r, j = j0 + c;
    const float p =
        visible(i, j, T_, Tk, causal, bias) ? expf(score(Ss[r * kLdF + c], scale, bias, h, i, j, Tk - T_) - lse_s[r])
                                      : 0.0f;
    if (Pb) Pb[r * kLdP + c] = __float2bfloat16(p);
    if (dSb) dSb[r * kLdP + c] = __float2bfloat16(attention_ds(p, dPs[r * kLdF + c], D_s[r], scale));
  }
}

// tile (kTile, kLdAcc) float added to rows [r0, r0 + kTile) of one head of dst, rows past T and channels
// past hs skipped.
template <int HS>
__device__ __forceinline__ void add_result(bf16* dst_head, const float* tile, int64_t r0, int64_t T_,
                                           int64_t stride, int hs) {
  for (int e = threadIdx.x; e < kTile * HS; e += kTileThreads) {
    const int r = e / HS, d = e % HS;
    if (r0 + r >= T_ || d >= hs) continue;
    const int64_t g = (r0 + r) * stride + d;
    dst_head[g] = __float2bfloat16(__bfloat162float(dst_head[g]) + tile[r * kLdAcc<HS> + d]);
  }
}

// Kernel A. Grid (key tiles, NH, B). dk, dv (B, Tk, NH, hs) += sum over query rows of ds^T q and p^T dout.
template <int HS>
__global__ void __launch_bounds__(kTileThreads)
    attention_dkdv_tc_kernel(bf16* dk, bf16* dv, const bf16* dout, const bf16* out, const float* lse,
                             const bf16* q, const bf16* k, const bf16* v, int64_t T_, int64_t Tk, int64_t NH,
                             int hs, float scale, PositionBias bias, bool causal) {
  extern __shared__ __align__(128) uint8_t smem_dkdv_tc[];
  SharedCarver carve{smem_dkdv_tc};
  bf16* Ks = carve.take<bf16>(bf16_tile_bytes<HS>());   // (kTile, kLdH)
  bf16* Vs = carve.take<bf16>(bf16_tile_bytes<HS>());   // (kTile, kLdH)
  bf16* Qs = carve.take<bf16>(bf16_tile_bytes<HS>());   // (kTile, kLdH)
  bf16* dOs = carve.take<bf16>(bf16_tile_bytes<HS>());  // (kTile, kLdH)
  float* Ss = carve.take<float>(score_tile_bytes());    // (kTile queries, kLdF keys)
  float* dPs = carve.take<float>(score_tile_bytes());   // (kTile queries, kLdF keys)
  bf16* Pb = carve.take<bf16>(prob_tile_bytes());       // (kTile queries, kLdP keys)
  bf16* dSb = carve.take<bf16>(prob_tile_bytes());      // (kTile queries, kLdP keys)
  float* lse_s = carve.take<float>(row_bytes());        // (kTile)
  float* D_s = carve.take<float>(row_bytes());          // (kTile)
  float* result = reinterpret_cast<float*>(smem_dkdv_tc);  // (kTile, kLdAcc) over K, V after the loop

  const int64_t h = blockIdx.y, b = blockIdx.z, j0 = int64_t(blockIdx.x) * kTile;
  const int64_t stride = NH * hs, head = b * T_ * stride + h * hs, khead = b * Tk * stride + h * hs;
  const float* lse_bh = lse + lse_index(b, h, 0, T_, NH);

  load_tile_bf16<HS>(Ks, k + khead, j0, Tk, stride, hs);
  load_tile_bf16<HS>(Vs, v + khead, j0, Tk, stride, hs);
  FragC dk_acc[kAccFrags<HS>], dv_acc[kAccFrags<HS>];  // rows: keys
  zero_acc<HS>(dk_acc);
  zero_acc<HS>(dv_acc);
  // Causal: query tiles before the one holding query j0 - off see none of its keys; with a window, none
  // from query_end_of on.
  const int64_t query_end = query_end_of(j0, T_, Tk, bias);
  for (int64_t i0 = query_begin_of(j0, T_, Tk, causal); i0 < query_end; i0 += kTile) {
    __syncthreads();  // the previous query tile, P and dS are no longer read
    load_tile_bf16<HS>(Qs, q + head, i0, T_, stride, hs);
    load_tile_bf16<HS>(dOs, dout + head, i0, T_, stride, hs);
    load_row_stats(lse_s, D_s, dout + head, out + head, lse_bh, i0, T_, stride, hs);
    __syncthreads();
    product_abt<HS>(Ss, Qs, Ks);                // S = Q K^T
    if (dk) product_abt<HS>(dPs, dOs, Vs);      // dP = dO V^T
    __syncthreads();
    probs_and_ds(dv ? Pb : nullptr, dk ? dSb : nullptr, Ss, dPs, lse_s, D_s, i0, j0, T_, Tk, h, scale, bias,
                 causal);
    __syncthreads();
    if (dv) accumulate_wx<HS, true>(dv_acc, Pb, dOs);  // dv += P^T dO
    if (dk) accumulate_wx<HS, true>(dk_acc, dSb, Qs);  // dk += dS^T Q
  }
  static_assert(result_fits_leading_tiles<HS>(), "result tile over K, V");
  if (dv) {
    __syncthreads();  // K, V are no longer read (and the previous result is added)
    store_acc<HS>(result, dv_acc);
    __syncthreads();
    add_result<HS>(dv + khead, result, j0, Tk, stride, hs);
  }
  if (dk) {
    __syncthreads();
    store_acc<HS>(result, dk_acc);
    __syncthreads();
    add_result<HS>(dk + khead, result, j0, Tk, stride, hs);
  }
}

// Kernel B. Grid (query tiles, NH, B); the last query tiles (most keys when causal) go first.
// dq (B, T_, NH, hs) += ds k over the visible keys.
template <int HS>
__global__ void __launch_bounds__(kTileThreads)
    attention_dq_tc_kernel(bf16* dq, const bf16* dout, const bf16* out, const float* lse, const bf16* q,
                           const bf16* k, const bf16* v, int64_t T_, int64_t Tk, int64_t NH, int hs, float scale,
                           PositionBias bias, bool causal) {
  extern __shared__ __align__(128) uint8_t smem_dq_tc[];
  SharedCarver carve{smem_dq_tc};
  bf16* Qs = carve.take<bf16>(bf16_tile_bytes<HS>());   // (kTile, kLdH)
  bf16* dOs = carve.take<bf16>(bf16_tile_bytes<HS>());  // (kTile, kLdH)
  bf16* Ks = carve.take<bf16>(bf16_tile_bytes<HS>());   // (kTile, kLdH)
  bf16* Vs = carve.take<bf16>(bf16_tile_bytes<HS>());   // (kTile, kLdH)
  float* Ss = carve.take<float>(score_tile_bytes());    // (kTile queries, kLdF keys)
  float* dPs = carve.take<float>(score_tile_bytes());   // (kTile queries, kLdF keys)
  bf16* dSb = carve.take<bf16>(prob_tile_bytes());      // (kTile queries, kLdP keys)
  float* lse_s = carve.take<float>(row_bytes());        // (kTile)
  float* D_s = carve.take<float>(row_bytes());          // (kTile)
  float* result = reinterpret_cast<float*>(smem_dq_tc);  // (kTile, kLdAcc) over Q, dO after the loop

  const int64_t h = blockIdx.y, b = blockIdx.z, i0 = int64_t(gridDim.x - 1 - blockIdx.x) * kTile;
  const int64_t stride = NH * hs, head = b * T_ * stride + h * hs, khead = b * Tk * stride + h * hs;

  load_tile_bf16<HS>(Qs, q + head, i0, T_, stride, hs);
  load_tile_bf16<HS>(dOs, dout + head, i0, T_, stride, hs);
  load_row_stats(lse_s, D_s, dout + head, out + head, lse + lse_index(b, h, 0, T_, NH), i0, T_, stride, hs);
  FragC dq_acc[kAccFrags<HS>];  // rows: queries
  zero_acc<HS>(dq_acc);
  const int64_t key_end = key_end_of(i0, T_, Tk, causal);
  for (int64_t j0 = key_begin_of(i0, T_, Tk, bias); j0 < key_end; j0 += kTile) {
    __syncthreads();  // the previous key tile and dS are no longer read (first pass: Q, dO, stats written)
    load_tile_bf16<HS>(Ks, k + khead, j0, Tk, stride, hs);
    load_tile_bf16<HS>(Vs, v + khead, j0, Tk, stride, hs);
    __syncthreads();
    product_abt<HS>(Ss, Qs, Ks);   // S = Q K^T
    product_abt<HS>(dPs, dOs, Vs); // dP = dO V^T
    __syncthreads();
    probs_and_ds(nullptr, dSb, Ss, dPs, lse_s, D_s, i0, j0, T_, Tk, h, scale, bias, causal);
    __syncthreads();
    accumulate_wx<HS, false>(dq_acc, dSb, Ks);  // dq += dS K
  }
  static_assert(result_fits_leading_tiles<HS>(), "result tile over Q, dO");
  __syncthreads();  // Q, dO are no longer read
  store_acc<HS>(result, dq_acc);
  __syncthreads();
  add_result<HS>(dq + head, result, i0, T_, stride, hs);
}

}  // namespace

void attention_backward_tc(Exec& ex, void* dq, void* dk, void* dv, const void* dout, const void* out,
                           const void* lse, const void* q, const void* k, const void* v, int64_t B, int64_t T,
                           int64_t Tk, int64_t NH, int64_t HS, float scale, const PositionBias& bias, bool causal) {
  const int64_t tiles = (T + kTile - 1) / kTile, key_tiles = (Tk + kTile - 1) / kTile;
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(NH), static_cast<unsigned>(B));
  const dim3 key_grid(static_cast<unsigned>(key_tiles), static_cast<unsigned>(NH), static_cast<unsigned>(B));
  const bf16 *dO = static_cast<const bf16*>(dout), *O = static_cast<const bf16*>(out);
  const bf16 *Q = static_cast<const bf16*>(q), *K = static_cast<const bf16*>(k), *V = static_cast<const bf16*>(v);
  const float* L = static_cast<const float*>(lse);
  const int hs = static_cast<int>(HS);
  dispatch_head_size(HS, "attention_backward", [&](auto width) {
    constexpr int kHS = decltype(width)::value;
    if (dk || dv) {
      constexpr size_t bytes = dkdv_tc_shared_bytes<kHS>();
      static_assert(bytes <= 227 * 1024, "attention_backward_tc (dk, dv): shared memory over the sm_90 limit");
      auto kernel = attention_dkdv_tc_kernel<kHS>;
      allow_shared_bytes(kernel, bytes);
      kernel<<<key_grid, kTileThreads, bytes, stream_of(ex)>>>(static_cast<bf16*>(dk), static_cast<bf16*>(dv), dO, O,
                                                               L, Q, K, V, T, Tk, NH, hs, scale, bias, causal);
      CUDA_CHECK_LAUNCH("attention_backward (dk, dv; tensor cores)");
    }
    if (dq) {
      constexpr size_t bytes = dq_tc_shared_bytes<kHS>();
      static_assert(bytes <= 227 * 1024, "attention_backward_tc (dq): shared memory over the sm_90 limit");
      auto kernel = attention_dq_tc_kernel<kHS>;
      allow_shared_bytes(kernel, bytes);
      kernel<<<grid, kTileThreads, bytes, stream_of(ex)>>>(static_cast<bf16*>(dq), dO, O, L, Q, K, V, T, Tk, NH, hs,
                                                           scale, bias, causal);
      CUDA_CHECK_LAUNCH("attention_backward (dq; tensor cores)");
    }
  });
}

}  // namespace weft::cuda
