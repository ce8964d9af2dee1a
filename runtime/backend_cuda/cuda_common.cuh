// Shared helpers of the CUDA backend: status checks, element load/store in float for f32 and bf16,
// dtype dispatch, launch geometry. Kernels compute in float and store in the tensor's dtype.
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "runtime/check.h"
#include "runtime/exec.h"

#define CUDA_CHECK(call)                                                                                 \
  do {                                                                                                   \
    cudaError_t cuda_status_ = (call);                                                                   \
    if (cuda_status_ != cudaSuccess)                                                                     \
      WEFT_FAIL("[cuda] ", #call, " failed at ", __FILE__, ":", __LINE__, ": ", cudaGetErrorString(cuda_status_)); \
  } while (0)

#define CUBLAS_CHECK(call)                                                                                  \
  do {                                                                                                      \
    cublasStatus_t cublas_status_ = (call);                                                                 \
    if (cublas_status_ != CUBLAS_STATUS_SUCCESS)                                                            \
      WEFT_FAIL("[cublas] ", #call, " failed at ", __FILE__, ":", __LINE__, ": ", cublasGetStatusString(cublas_status_)); \
  } while (0)

// After a kernel launch: report launch errors with the kernel's name.
#define CUDA_CHECK_LAUNCH(name)                                                                      \
  do {                                                                                               \
    cudaError_t cuda_status_ = cudaGetLastError();                                                   \
    if (cuda_status_ != cudaSuccess)                                                                 \
      WEFT_FAIL("[cuda::", name, "] launch failed: ", cudaGetErrorString(cuda_status_));             \
  } while (0)

namespace weft::cuda {

inline cudaStream_t stream_of(const Exec& ex) { return static_cast<cudaStream_t>(ex.stream); }

__device__ __forceinline__ float load(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float load(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void store(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, int64_t i, float v) { p[i] = __float2bfloat16(v); }

// Calls f(T{}) with T = float or __nv_bfloat16.
template <class F>
void dispatch_float(DType dt, const char* kernel, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); break;
    case DType::bf16: f(__nv_bfloat16{}); break;
    default: WEFT_FAIL("[cuda::", kernel, "] unsupported dtype ", dtype_name(dt), " (CUDA kernels take f32 or bf16)");
  }
}

constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 * 16 ? (b > 0 ? b : 1) : 65535 * 16);
}

// Grid-stride loop over [0, n).
#define WEFT_CUDA_FOR(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(blockDim.x) * gridDim.x)

}  // namespace weft::cuda
