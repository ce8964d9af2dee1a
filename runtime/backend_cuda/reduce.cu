// CUDA reductions over the middle axis of an (outer, len, inner) view and their adjoint:
// reduce_sum: out (outer, inner) = alpha * sum_l x (or += when accumulate), summed in float;
// broadcast_axis: dx (outer, len, inner) += alpha * dout (outer, inner).
// Every sum has an order fixed by the shapes alone (no atomics), so results are reproducible:
// - inner == 1 (rows, sum_all): a group of G threads per row (a warp, or a block for long rows); thread t
//   sums elements t, t + G, ... in order, then a fixed shuffle tree and the warps in order combine them.
// - inner > 1: one thread per output element walks len with consecutive threads on consecutive inner
//   elements (coalesced). When there are few outputs, len is cut into chunks fixed by the shapes; chunk
//   partials go to the Exec's workspace (shared with cuBLASLt, all on ex.stream, as in bcast_reduce.cuh)
//   and a second pass adds them in chunk order. With one chunk the order is the CPU twin's.
#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Final value of an output element: alpha * sum, added to the old value when accumulate.
template <class T>
__device__ __forceinline__ void finish(T* out, int64_t j, float sum, float alpha, bool accumulate) {
  store(out, j, (accumulate ? load(out, j) : 0.0f) + alpha * sum);
}

// inner == 1: out (outer) = alpha * row sums of x (outer, len); G threads (a multiple of 32) per row.
template <class T, int G>
__global__ void reduce_rows_kernel(T* out, const T* x, int64_t outer, int64_t len, float alpha, bool accumulate) {
  constexpr int kWarps = G / 32;
  __shared__ float warp_sums[kThreads / 32];
  const int t = threadIdx.x % G, group = threadIdx.x / G;
  const int64_t groups = int64_t(gridDim.x) * (blockDim.x / G);
  // Every thread of the block runs the same number of iterations (rows are a multiple of the block's
  // groups apart), so the __syncthreads below are reached by all of them.
  for (int64_t base = int64_t(blockIdx.x) * (blockDim.x / G); base < outer; base += groups) {
    const int64_t r = base + group;
    float acc = 0.0f;
    if (r < outer)
      for (int64_t l = t; l < len; l += G) acc += load(x, r * len + l);
    acc = warp_sum(acc);
    if constexpr (kWarps > 1) {
      if (t % 32 == 0) warp_sums[threadIdx.x / 32] = acc;
      __syncthreads();
      if (t == 0) {
        acc = 0.0f;
        for (int w = 0; w < kWarps; ++w) acc += warp_sums[group * kWarps + w];
      }
      __syncthreads();  // warp_sums is rewritten by the next row
    }
    if (t == 0 && r < outer) finish(out, r, acc, alpha, accumulate);
  }
}

// inner > 1: element j = (r, i) of out sums x[r, l, i] over l in chunk blockIdx.y = [l0, l1), in order.
// With one chunk it writes the result; otherwise partial[chunk][j].
template <class T>
__global__ void reduce_inner_kernel(T* out, float* partial, const T* x, int64_t outer, int64_t len, int64_t inner,
                                    int64_t chunk_len, float alpha, bool accumulate) {
  const int64_t l0 = blockIdx.y * chunk_len, l1 = l0 + chunk_len < len ? l0 + chunk_len : len;
  const int64_t count = outer * inner;
  WEFT_CUDA_FOR(j, count) {
    const int64_t r = j / inner, i = j - r * inner;
    float acc = 0.0f;
    for (int64_t l = l0; l < l1; ++l) acc += load(x, (r * len + l) * inner + i);
    if (partial)
      partial[blockIdx.y * count + j] = acc;
    else
      finish(out, j, acc, alpha, accumulate);
  }
}

template <class T>
__global__ void reduce_chunks_kernel(T* out, const float* partial, int64_t count, int chunks, float alpha,
                                     bool accumulate) {
  WEFT_CUDA_FOR(j, count) {
    float acc = 0.0f;
    for (int c = 0; c < chunks; ++c) acc += partial[c * count + j];
    finish(out, j, acc, alpha, accumulate);
  }
}

// Chunks along len for `count` outputs: about 2^17 threads in all, at least 32 terms per chunk, at most
// 1024 chunks, partials within the workspace (else one chunk). Depends on the shapes alone.
int64_t chunk_len_for(const Exec& ex, int64_t count, int64_t len) {
  constexpr int64_t kTargetThreads = int64_t(1) << 17, kMinChunk = 32, kMaxChunks = 1024;
  int64_t chunks = (kTargetThreads + count - 1) / count;
  const int64_t by_len = (len + kMinChunk - 1) / kMinChunk;
  chunks = chunks < by_len ? chunks : by_len;
  chunks = chunks < kMaxChunks ? chunks : kMaxChunks;
  if (chunks <= 1 || chunks * count > static_cast<int64_t>(ex.workspace_bytes / sizeof(float))) return len;
  return (len + chunks - 1) / chunks;
}

// dx (outer, len, inner) += alpha * dout (outer, inner), V elements per step (inner % V == 0 when V > 1).
template <class T, int V>
__global__ void broadcast_axis_kernel(T* dx, const T* dout, int64_t outer, int64_t len, int64_t inner, float alpha) {
  vec_for<V>(outer * len * inner, [&](int64_t e, auto w) {
    constexpr int W = decltype(w)::value;
    const int64_t r = e / (len * inner), i = e % inner;
    float d[W], g[W];
    load_vec<W>(d, dx, e);
    load_vec<W>(g, dout, r * inner + i);
#pragma unroll
    for (int k = 0; k < W; ++k) d[k] += alpha * g[k];
    store_vec<W>(dx, e, d);
  });
}

}  // namespace

void reduce_sum(Exec& ex, DType dt, void* out, const void* x, int64_t outer, int64_t len, int64_t inner, float alpha,
                bool accumulate) {
  const int64_t count = outer * inner;
  if (count == 0) return;
  dispatch_float(dt, "reduce_sum", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* xp = static_cast<const T*>(x);
    cudaStream_t st = stream_of(ex);
    if (inner == 1) {
      if (len >= 4096) {  // long rows: a block per row
        reduce_rows_kernel<T, kThreads><<<blocks_for(outer, 1), kThreads, 0, st>>>(o, xp, outer, len, alpha,
                                                                                   accumulate);
      } else {  // a warp per row
        reduce_rows_kernel<T, 32><<<blocks_for(outer, kThreads / 32), kThreads, 0, st>>>(o, xp, outer, len, alpha,
                                                                                        accumulate);
      }
      CUDA_CHECK_LAUNCH("reduce_sum");
      return;
    }
    const int64_t chunk_len = len > 0 ? chunk_len_for(ex, count, len) : 1;
    const int64_t chunks = len > 0 ? (len + chunk_len - 1) / chunk_len : 1;
    float* partial = chunks > 1 ? static_cast<float*>(ex.workspace) : nullptr;
    dim3 grid(blocks_for(count), static_cast<unsigned>(chunks));
    reduce_inner_kernel<T><<<grid, kThreads, 0, st>>>(o, partial, xp, outer, len, inner, chunk_len, alpha,
                                                      accumulate);
    CUDA_CHECK_LAUNCH("reduce_sum");
    if (partial) {
      reduce_chunks_kernel<T><<<blocks_for(count), kThreads, 0, st>>>(o, partial, count, static_cast<int>(chunks),
                                                                      alpha, accumulate);
      CUDA_CHECK_LAUNCH("reduce_sum");
    }
  });
}

void broadcast_axis(Exec& ex, DType dt, void* dx, const void* dout, int64_t outer, int64_t len, int64_t inner,
                    float alpha) {
  const int64_t n = outer * len * inner;
  if (n == 0) return;
  dispatch_float(dt, "broadcast_axis", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dx);
    const T* g = static_cast<const T*>(dout);
    if (inner % kVec<T> == 0 && all_aligned(16, d, g))
      broadcast_axis_kernel<T, kVec<T>><<<blocks_for(n / kVec<T>), kThreads, 0, stream_of(ex)>>>(d, g, outer, len,
                                                                                              inner, alpha);
    else
      broadcast_axis_kernel<T, 1><<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(d, g, outer, len, inner, alpha);
  });
  CUDA_CHECK_LAUNCH("broadcast_axis");
}

}  // namespace weft::cuda
