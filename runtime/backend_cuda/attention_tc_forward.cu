// bf16 attention forward on tensor cores (WMMA), picked by attention_forward (attention_forward.cu) for
// bf16; the same algorithm as its f32 kernel: one block per (query tile, head, batch) walks the key tiles
// (only those at or left of the diagonal when causal, and inside the window) with an online softmax and writes out = O / l and
// lse = m + log(l). Per key tile: S = Q K^T by WMMA into a float tile; each row's scores, mask and bias
// (attention_tiles.cuh, the CPU's) and softmax step (online_softmax_step) in float; P = exp(S - m) rounded
// to bf16; the float output tile O rescaled by alpha per row, then O += P V by WMMA. Deterministic. A head
// size hs runs on the tile width HS that holds it, channels past hs zero-padded (attention_tc.cuh).
#include <cmath>

#include "runtime/backend_cuda/attention_tc.cuh"

namespace weft::cuda {

namespace {

using namespace attention_tc;

template <int HS>
constexpr size_t forward_tc_shared_bytes() {  // Q, K, V; S; P; O; 1 / l
  return 3 * bf16_tile_bytes<HS>() + score_tile_bytes() + prob_tile_bytes() + acc_tile_bytes<HS>() + row_bytes();
}

// q, out: (B, T_, NH, hs) bf16, hs <= HS; k, v: (B, Tk, NH, hs) bf16; lse (B, NH, T_) f32. Grid (query tiles,
// NH, B); the last query tiles (the most keys when causal) are scheduled first.
template <int HS>
__global__ void __launch_bounds__(kTileThreads)
    attention_forward_tc_kernel(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v, int64_t T_,
                                int64_t Tk, int64_t NH, int hs, float scale, PositionBias bias, bool causal) {
  extern __shared__ __align__(128) uint8_t smem_fwd_tc[];
  SharedCarver carve{smem_fwd_tc};
  bf16* Qs = carve.take<bf16>(bf16_tile_bytes<HS>());      // (kTile, kLdH)
  bf16* Ks = carve.take<bf16>(bf16_tile_bytes<HS>());      // (kTile, kLdH)
  bf16* Vs = carve.take<bf16>(bf16_tile_bytes<HS>());      // (kTile, kLdH)
  float* Ss = carve.take<float>(score_tile_bytes());       // (kTile, kLdF): scores
  bf16* Ps = carve.take<bf16>(prob_tile_bytes());          // (kTile, kLdP): exp(score - m)
  float* Os = carve.take<float>(acc_tile_bytes<HS>());     // (kTile, kLdAcc): unnormalised output
  float* inv_l_s = carve.take<float>(row_bytes());         // (kTile)

  const int64_t h = blockIdx.y, b = blockIdx.z, i0 = int64_t(gridDim.x - 1 - blockIdx.x) * kTile;
  const int64_t stride = NH * hs, head = b * T_ * stride + h * hs, khead = b * Tk * stride + h * hs, off = Tk - T_;
  const int srow = threadIdx.x / 4, spart = threadIdx.x % 4;  // softmax: 4 adjacent lanes per query row
  const int64_t i = i0 + srow;

  load_tile_bf16<HS>(Qs, q + head, i0, T_, stride, hs);
  for (int e = threadIdx.x; e < kTile * HS; e += kTileThreads) Os[(e / HS) * kLdAcc<HS> + e % HS] = 0.0f;
  float m_run = -INFINITY, l_run = 0.0f;  // identical in the 4 lanes of a row

  const int64_t key_end = key_end_of(i0, T_, Tk, causal);
  for (int64_t j0 = key_begin_of(i0, T_, Tk, bias); j0 < key_end; j0 += kTile) {
    __syncthreads();  // the previous tile's K, V, S and P are no longer read, O is stored
    load_tile_bf16<HS>(Ks, k + khead, j0, Tk, stride, hs);
    load_tile_bf16<HS>(Vs, v + khead, j0, Tk, stride, hs);
    __syncthreads();
    product_abt<HS>(Ss, Qs, Ks);  // S = Q K^T
    __syncthreads();
    // Row srow: scores (the CPU's), then the softmax step; P in bf16, O's row rescaled by alpha.
    float* row = Ss + srow * kLdF;
    for (int c = spart; c < kTile; c += 4) {
      const int64_t j = j0 + c;
      row[c] = visible(i, j, T_, Tk, causal, bias) ? score(row[c], scale, bias, h, i, j, off) : -INFINITY;
    }
    bf16* prow = Ps + srow * kLdP;
    const float alpha =
        online_softmax_step(row, spart, m_run, l_run, [&](int c, float p) { prow[c] = __float2bfloat16(p); });
    float* orow = Os + srow * kLdAcc<HS>;
    for (int d = spart; d < HS; d += 4) orow[d] *= alpha;
    __syncthreads();
    FragC o[kAccFrags<HS>];
    load_acc<HS>(o, Os);
    accumulate_wx<HS, false>(o, Ps, Vs);  // O += P V
    store_acc<HS>(Os, o);
  }

  if (spart == 0) {  // valid rows see their own position, so l_run >= 1 there
    inv_l_s[srow] = 1.0f / l_run;
    if (i < T_) lse[lse_index(b, h, i, T_, NH)] = m_run + logf(l_run);
  }
  __syncthreads();
  for (int e = threadIdx.x; e < kTile * HS; e += kTileThreads) {
    const int r = e / HS, d = e % HS;
    if (i0 + r < T_ && d < hs)
      out[head + (i0 + r) * stride + d] = __float2bfloat16(Os[r * kLdAcc<HS> + d] * inv_l_s[r]);
  }
}

}  // namespace

void attention_forward_tc(Exec& ex, void* out, void* lse, const void* q, const void* k, const void* v, int64_t B,
                          int64_t T, int64_t Tk, int64_t NH, int64_t HS, float scale, const PositionBias& bias,
                          bool causal) {
  const int64_t tiles = (T + kTile - 1) / kTile;
  dispatch_head_size(HS, "attention_forward", [&](auto width) {
    constexpr int kHS = decltype(width)::value;
    constexpr size_t bytes = forward_tc_shared_bytes<kHS>();
    static_assert(bytes <= 227 * 1024, "attention_forward_tc: shared memory over the sm_90 limit");
    auto kernel = attention_forward_tc_kernel<kHS>;
    allow_shared_bytes(kernel, bytes);
    kernel<<<dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(NH), static_cast<unsigned>(B)), kTileThreads,
             bytes, stream_of(ex)>>>(static_cast<bf16*>(out), static_cast<float*>(lse), static_cast<const bf16*>(q),
                                     static_cast<const bf16*>(k), static_cast<const bf16*>(v), T, Tk, NH,
                                     static_cast<int>(HS), scale, bias, causal);
    CUDA_CHECK_LAUNCH("attention_forward (tensor cores)");
  });
}

}  // namespace weft::cuda
