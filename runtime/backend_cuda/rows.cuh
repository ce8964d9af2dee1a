// Row-wise kernels (norms, softmax, cross-entropy) over x (N, C): a team of TPR threads owns a row,
// a warp (TPR = 32) for short rows or a whole block (TPR = kRowBlock) for long ones. Team members stride
// through the row in packs of V elements (16-byte vectors when the rows allow it), then combine their
// partials with an all-reduce in a fixed tree order, so every member gets the same, reproducible value.
#pragma once

#include "runtime/backend_cuda/cuda_common.cuh"

namespace weft::cuda {

constexpr int kRowBlock = 256;           // threads of a block-wide team
constexpr int64_t kWarpRowMax = 1024;    // rows up to this length get a warp, longer ones a block
constexpr int64_t kMaxRowBlocks = 1 << 16;  // grid cap; the row loop strides over the rest

// A team of TPR threads per row; a block holds kRows teams.
template <int TPR>
struct RowTeam {
  static_assert(TPR == 32 || TPR == kRowBlock, "a row team is a warp or a block");
  static constexpr int kBlock = TPR == 32 ? kRowBlock : TPR;
  static constexpr int kRows = kBlock / TPR;
  __device__ static int lane() { return static_cast<int>(threadIdx.x % TPR); }
  __device__ static int64_t first_row() { return blockIdx.x * int64_t(kRows) + threadIdx.x / TPR; }
  __device__ static int64_t row_stride() { return int64_t(gridDim.x) * kRows; }
};

// Loop over the rows of this thread's team (uniform across the team, so team reductions are safe).
#define WEFT_ROW_FOR(TPR, row, N) \
  for (int64_t row = RowTeam<TPR>::first_row(); row < (N); row += RowTeam<TPR>::row_stride())

// body(c) for this member's packs c = V * (lane + k * TPR) of a row of C elements; C % V == 0.
template <int V, int TPR, class Body>
__device__ __forceinline__ void team_for(int64_t C, Body&& body) {
  for (int64_t c = int64_t(RowTeam<TPR>::lane()) * V; c < C; c += int64_t(TPR) * V) body(c);
}

// K floats reduced together (sums of several row quantities in one pass).
template <int K>
struct Floats {
  float v[K];
};

struct SumOp {
  template <int K>
  __device__ Floats<K> operator()(const Floats<K>& a, const Floats<K>& b) const {
    Floats<K> r;
#pragma unroll
    for (int k = 0; k < K; ++k) r.v[k] = a.v[k] + b.v[k];
    return r;
  }
};

// Online softmax statistics {max m, sum of exp(x - m)}; an empty part is {-inf, 0}. Commutative, so
// both lanes of a butterfly step compute the same bits.
struct MaxSumOp {
  __device__ static float rescale(float s, float m_part, float m) { return m_part == m ? s : s * expf(m_part - m); }
  __device__ Floats<2> operator()(const Floats<2>& a, const Floats<2>& b) const {
    const float m = fmaxf(a.v[0], b.v[0]);
    return {{m, rescale(a.v[1], a.v[0], m) + rescale(b.v[1], b.v[0], m)}};
  }
};

// Adds one element x to online statistics {m, s} (one exp per element).
__device__ __forceinline__ void max_sum_add(Floats<2>& st, float x) {
  if (x > st.v[0]) {
    st.v[1] = MaxSumOp::rescale(st.v[1], st.v[0], x) + 1.0f;
    st.v[0] = x;
  } else {
    st.v[1] += x == st.v[0] ? 1.0f : expf(x - st.v[0]);
  }
}

// All-reduce of `part` over the team: a butterfly inside each warp, then (block teams) the warp
// results combined in warp order. Every team member must call it.
template <int TPR, int K, class Op>
__device__ __forceinline__ Floats<K> team_allreduce(Floats<K> part, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    Floats<K> other;
#pragma unroll
    for (int k = 0; k < K; ++k) other.v[k] = __shfl_xor_sync(0xffffffffu, part.v[k], o);
    part = op(part, other);
  }
  if constexpr (TPR > 32) {
    __shared__ Floats<K> warp_part[TPR / 32];
    if (threadIdx.x % 32 == 0) warp_part[threadIdx.x / 32] = part;
    __syncthreads();
    part = warp_part[0];
    for (int w = 1; w < TPR / 32; ++w) part = op(part, warp_part[w]);
    __syncthreads();  // warp_part may be reused by the next call
  }
  return part;
}

// Chooses the team (warp or block) and the pack width for rows of C elements and launches through
// f(std::integral_constant<int, V>{}, std::integral_constant<int, TPR>{}, grid, block). Packs are
// 16-byte vectors when C % kVec<T> == 0 and every row pointer is 16-byte aligned (`aligned`).
template <class T, class F>
void launch_rows(int64_t N, int64_t C, bool aligned, F&& f) {
  const bool vec = aligned && C % kVec<T> == 0;
  auto with_team = [&](auto tpr) {
    constexpr int TPR = decltype(tpr)::value;
    int64_t blocks = (N + RowTeam<TPR>::kRows - 1) / RowTeam<TPR>::kRows;
    const unsigned grid = static_cast<unsigned>(blocks < kMaxRowBlocks ? blocks : kMaxRowBlocks);
    if (vec)
      f(std::integral_constant<int, kVec<T>>{}, tpr, grid, RowTeam<TPR>::kBlock);
    else
      f(std::integral_constant<int, 1>{}, tpr, grid, RowTeam<TPR>::kBlock);
  };
  if (C <= kWarpRowMax)
    with_team(std::integral_constant<int, 32>{});
  else
    with_team(std::integral_constant<int, kRowBlock>{});
}

}  // namespace weft::cuda
