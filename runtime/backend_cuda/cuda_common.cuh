// Shared helpers of the CUDA backend: status checks (CUDA_CHECK, CUBLAS_CHECK, CUDA_CHECK_LAUNCH), the
// stream of an Exec, weft::bf16 <-> __nv_bfloat16, element loads/stores that compute in float (double
// for f64, which only cast() accepts), 16-byte vector loads with a scalar tail, dtype dispatch and
// launch geometry (grid-stride loops over a capped grid).
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "runtime/check.h"
#include "runtime/exec.h"

#define CUDA_CHECK(call)                                                        \
  do {                                                                          \
    cudaError_t weft_cuda_status_ = (call);                                     \
    if (weft_cuda_status_ != cudaSuccess)                                       \
      WEFT_FAIL("[cuda] ", #call, " failed at ", __FILE__, ":", __LINE__, ": ", \
                cudaGetErrorString(weft_cuda_status_));                         \
  } while (0)

#define CUBLAS_CHECK(call)                                                        \
  do {                                                                            \
    cublasStatus_t weft_cublas_status_ = (call);                                  \
    if (weft_cublas_status_ != CUBLAS_STATUS_SUCCESS)                             \
      WEFT_FAIL("[cublas] ", #call, " failed at ", __FILE__, ":", __LINE__, ": ", \
                cublasLtGetStatusString(weft_cublas_status_));                    \
  } while (0)

// After a kernel launch: report launch errors (bad configuration, no kernel image) with the kernel's
// name. Never synchronizes: errors inside a running kernel surface at the next synchronizing call.
#define CUDA_CHECK_LAUNCH(name)                                                        \
  do {                                                                                 \
    cudaError_t weft_cuda_status_ = cudaGetLastError();                                \
    if (weft_cuda_status_ != cudaSuccess)                                              \
      WEFT_FAIL("[cuda::", name, "] launch failed at ", __FILE__, ":", __LINE__, ": ", \
                cudaGetErrorString(weft_cuda_status_));                                \
  } while (0)

namespace weft::cuda {

inline cudaStream_t stream_of(const Exec& ex) { return static_cast<cudaStream_t>(ex.stream); }
inline cublasLtHandle_t blaslt_of(const Exec& ex) { return static_cast<cublasLtHandle_t>(ex.blaslt); }

// Drops the cached GEMM plans of a cuBLASLt handle (matmul.cu); exec_destroy calls it.
void release_gemm_plans(cublasLtHandle_t handle);

// ---- bf16: weft::bf16 and __nv_bfloat16 are both the upper 16 bits of an IEEE float.
static_assert(sizeof(bf16) == sizeof(__nv_bfloat16) && alignof(bf16) == alignof(__nv_bfloat16),
              "weft::bf16 must be layout-compatible with __nv_bfloat16");
__host__ __device__ __forceinline__ __nv_bfloat16 to_nv(bf16 v) {
  __nv_bfloat16_raw r;
  r.x = v.bits;
  return __nv_bfloat16(r);
}
__host__ __device__ __forceinline__ bf16 from_nv(__nv_bfloat16 v) {
  bf16 r;
  r.bits = static_cast<__nv_bfloat16_raw>(v).x;
  return r;
}

// ---- scalar element access, computing in float (f32, bf16) or double (f64); host-callable for tests
__host__ __device__ __forceinline__ float to_compute(float v) { return v; }
__host__ __device__ __forceinline__ float to_compute(__nv_bfloat16 v) { return __bfloat162float(v); }
__host__ __device__ __forceinline__ double to_compute(double v) { return v; }
template <class T, class C>
__host__ __device__ __forceinline__ T from_compute(C v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __float2bfloat16(static_cast<float>(v));  // round to nearest even, as bf16::from_float
  else
    return static_cast<T>(v);
}
template <class T>
__host__ __device__ __forceinline__ auto load(const T* p, int64_t i) {
  return to_compute(p[i]);
}
template <class T, class C>
__host__ __device__ __forceinline__ void store(T* p, int64_t i, C v) {
  p[i] = from_compute<T>(v);
}

// ---- vector access: V consecutive elements with one aligned load/store (16 bytes for V = 16/sizeof(T))
template <class T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};
template <int V, class T, class C>
__device__ __forceinline__ void load_vec(C (&out)[V], const T* p, int64_t i) {
  const Vec<T, V> x = *reinterpret_cast<const Vec<T, V>*>(p + i);
#pragma unroll
  for (int k = 0; k < V; ++k) out[k] = to_compute(x.v[k]);
}
template <int V, class T, class C>
__device__ __forceinline__ void store_vec(T* p, int64_t i, const C (&in)[V]) {
  Vec<T, V> x;
#pragma unroll
  for (int k = 0; k < V; ++k) x.v[k] = from_compute<T>(in[k]);
  *reinterpret_cast<Vec<T, V>*>(p + i) = x;
}

// Elements per 16-byte vector of T.
template <class T>
constexpr int kVec = 16 / static_cast<int>(sizeof(T));

// True when every pointer is aligned to `bytes` (null pointers count as aligned).
template <class... P>
bool all_aligned(size_t bytes, const P*... ptrs) {
  return ((reinterpret_cast<uintptr_t>(ptrs) % bytes == 0) && ...);
}

// ---- dtype dispatch: f(T{}) with T = float or __nv_bfloat16; any other dtype is an error.
template <class F>
void dispatch_float(DType dt, const char* kernel, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); break;
    case DType::bf16: f(__nv_bfloat16{}); break;
    default:
      WEFT_FAIL("[cuda::", kernel, "] unsupported dtype ", dtype_name(dt),
                " (CUDA kernels take f32 or bf16; f64 runs on the CPU backend only)");
  }
}

// ---- launch geometry. Grid-stride loops run on at most kMaxBlocks blocks (about four waves of
// resident threads on an H100), so huge tensors reuse threads instead of launching millions of blocks.
constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : b > kMaxBlocks ? kMaxBlocks : b);
}

// Grid-stride loop over [0, n) on the x dimension of the grid.
#define WEFT_CUDA_FOR(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(blockDim.x) * gridDim.x)

// Runs body(i, std::integral_constant<int, W>) over [0, n): first on packs of V elements starting at
// i = 0, V, 2V, ... (W = V), then on the n % V tail one element at a time (W = 1).
template <int V, class Body>
__device__ __forceinline__ void vec_for(int64_t n, Body&& body) {
  const int64_t packs = n / V;
  WEFT_CUDA_FOR(p, packs) body(p * V, std::integral_constant<int, V>{});
  if constexpr (V > 1) {
    WEFT_CUDA_FOR(t, n - packs * V) body(packs * V + t, std::integral_constant<int, 1>{});
  }
}

}  // namespace weft::cuda
