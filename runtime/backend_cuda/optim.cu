// CUDA optimizer kernels: the AdamW update over a flat range of the parameter buffer (one launch for the
// whole range, the per-element formula of runtime/math/adamw.h; adamw_update_ranges takes each element's
// decay from a device table of ranges, so one launch covers every parameter) and the sum of squares behind
// the global gradient norm. Parameters and gradients are f32 or bf16; the moments m, v are always f32.
// sum_squares is deterministic: the grid is a function of n alone, each thread sums its grid-stride
// elements in order, blocks reduce in a fixed tree, and one block adds the per-block partials in order
// (no atomics). It is the one kernel here that synchronizes: its result is a host double.
#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"
#include "runtime/math/adamw.h"

namespace weft::cuda {

namespace {

// ---- AdamW. With V > 1 every pointer is aligned to a pack of V elements (16 bytes for m and v).
constexpr int kAdamVec = 4;

template <class T, int V>
__global__ void adamw_kernel(T* param, float* m, float* v, const T* grad, int64_t n, AdamWHyper h) {
  vec_for<V>(n, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    float p[W], mv[W], vv[W], g[W];
    load_vec<W>(p, param, i);
    load_vec<W>(mv, m, i);
    load_vec<W>(vv, v, i);
    load_vec<W>(g, grad, i);
#pragma unroll
    for (int k = 0; k < W; ++k) adamw_element<float, float>(p[k], mv[k], vv[k], g[k], h);
    store_vec<W>(param, i, p);
    store_vec<W>(m, i, mv);
    store_vec<W>(v, i, vv);
  });
}

// ---- multi-tensor AdamW: one launch over the flat range; each element's decay comes from the range
// table (a binary search per pack, then a forward walk: a pack may straddle a range boundary).
template <class T, int V>
__global__ void adamw_ranges_kernel(T* param, float* m, float* v, const T* grad, int64_t n, const int64_t* ranges,
                                    int64_t R, AdamWHyper h) {
  vec_for<V>(n, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    float p[W], mv[W], vv[W], g[W];
    load_vec<W>(p, param, i);
    load_vec<W>(mv, m, i);
    load_vec<W>(vv, v, i);
    load_vec<W>(g, grad, i);
    int64_t r = adamw_range_after(ranges, R, i);
#pragma unroll
    for (int k = 0; k < W; ++k) {
      while (r < R && ranges[2 * r + 1] <= i + k) ++r;
      AdamWHyper hk = h;
      if (!(r < R && ranges[2 * r] <= i + k)) hk.weight_decay = 0.0f;
      adamw_element<float, float>(p[k], mv[k], vv[k], g[k], hk);
    }
    store_vec<W>(param, i, p);
    store_vec<W>(m, i, mv);
    store_vec<W>(v, i, vv);
  });
}

// ---- sum of squares. Squares of f32 (and bf16) values are exact in double (24 + 24 < 53 mantissa bits)
// and the sums are kept in double, as on the CPU, so CPU and GPU differ only in the order of the
// additions (relative difference about n * 2^-53).
constexpr int kSumThreads = 256;
constexpr int kMaxSumBlocks = 1024;  // partials per call; workspace: kMaxSumBlocks + 1 doubles

// Sum of v over the block, in a fixed order: warp shuffles, then warp 0 adds the warp sums.
__device__ __forceinline__ double block_sum(double v) {
  __shared__ double warp_sums[kSumThreads / 32];
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = 0.0;
  if (warp == 0) {
    v = lane < kSumThreads / 32 ? warp_sums[lane] : 0.0;
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  }
  return v;  // valid in thread 0
}

template <class T>
__global__ void __launch_bounds__(kSumThreads) sum_squares_partial_kernel(double* partial, const T* x, int64_t n) {
  double s = 0.0;
  WEFT_CUDA_FOR(i, n) {
    const double xi = static_cast<double>(load(x, i));
    s += xi * xi;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// One block: total = the sum of partial[0, count) (each thread sums a strided slice in order).
__global__ void __launch_bounds__(kSumThreads) sum_partials_kernel(double* total, const double* partial, int count) {
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += kSumThreads) s += partial[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *total = s;
}

}  // namespace

void adamw_update(Exec& ex, DType dt, void* param, void* m, void* v, const void* grad, int64_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, float bias_correction1, float bias_correction2,
                  float grad_scale) {
  if (n == 0) return;
  const AdamWHyper h{lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2, grad_scale};
  dispatch_float(dt, "adamw_update", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(param);
    const T* g = static_cast<const T*>(grad);
    float *mp = static_cast<float*>(m), *vp = static_cast<float*>(v);
    constexpr int V = kAdamVec;
    if (all_aligned(V * sizeof(T), p, g) && all_aligned(V * sizeof(float), mp, vp))
      adamw_kernel<T, V><<<blocks_for(n / V), kThreads, 0, stream_of(ex)>>>(p, mp, vp, g, n, h);
    else
      adamw_kernel<T, 1><<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(p, mp, vp, g, n, h);
  });
  CUDA_CHECK_LAUNCH("adamw_update");
}

void adamw_update_ranges(Exec& ex, DType dt, void* param, void* m, void* v, const void* grad, int64_t n,
                         const int64_t* decay_ranges, int64_t R, float lr, float beta1, float beta2, float eps,
                         float weight_decay, float bias_correction1, float bias_correction2, float grad_scale) {
  if (n == 0) return;
  WEFT_CHECK(R == 0 || decay_ranges, "[cuda::adamw_update_ranges] ", R, " decay ranges but no table");
  const AdamWHyper h{lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2, grad_scale};
  dispatch_float(dt, "adamw_update_ranges", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(param);
    const T* g = static_cast<const T*>(grad);
    float *mp = static_cast<float*>(m), *vp = static_cast<float*>(v);
    constexpr int V = kAdamVec;
    if (all_aligned(V * sizeof(T), p, g) && all_aligned(V * sizeof(float), mp, vp))
      adamw_ranges_kernel<T, V><<<blocks_for(n / V), kThreads, 0, stream_of(ex)>>>(p, mp, vp, g, n, decay_ranges, R, h);
    else
      adamw_ranges_kernel<T, 1><<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(p, mp, vp, g, n, decay_ranges, R, h);
  });
  CUDA_CHECK_LAUNCH("adamw_update_ranges");
}

void sum_squares(Exec& ex, DType dt, double* out, const void* x, int64_t n) {
  if (n == 0) {
    *out = 0.0;
    return;
  }
  // Scratch: the partials and the total in the Exec's workspace (shared with cuBLASLt; every user runs
  // on ex.stream, so each finds the previous one finished). cudaMalloc'd, so aligned for doubles.
  WEFT_CHECK(ex.workspace && ex.workspace_bytes >= (kMaxSumBlocks + 1) * sizeof(double),
             "[cuda::sum_squares] the Exec's workspace is missing or too small");
  double* partial = static_cast<double*>(ex.workspace);
  double* total = partial + kMaxSumBlocks;
  const int64_t want = (n + kSumThreads - 1) / kSumThreads;
  const int blocks = static_cast<int>(want < kMaxSumBlocks ? want : kMaxSumBlocks);  // a function of n only
  dispatch_float(dt, "sum_squares", [&](auto tag) {
    using T = decltype(tag);
    sum_squares_partial_kernel<T><<<blocks, kSumThreads, 0, stream_of(ex)>>>(partial, static_cast<const T*>(x), n);
  });
  CUDA_CHECK_LAUNCH("sum_squares");
  sum_partials_kernel<<<1, kSumThreads, 0, stream_of(ex)>>>(total, partial, blocks);
  CUDA_CHECK_LAUNCH("sum_squares");
  CUDA_CHECK(cudaMemcpyAsync(out, total, sizeof(double), cudaMemcpyDeviceToHost, stream_of(ex)));
  CUDA_CHECK(cudaStreamSynchronize(stream_of(ex)));
}

}  // namespace weft::cuda
