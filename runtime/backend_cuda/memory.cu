// CUDA memory and execution contexts: allocation, zeroing and copies that are ordered with the work
// queued on non-default streams, and the Exec of a GPU (stream, cuBLASLt handle, 32 MiB workspace).
// memory.h promises synchronous copies, so each one waits for the whole device before and after.
#include "runtime/backend_cuda/cudnn_ops.h"
#include "runtime/backend_cuda/cuda_common.cuh"

namespace weft {

namespace cuda_mem {

void* alloc(size_t bytes) {
  void* p = nullptr;
  cudaError_t st = cudaMalloc(&p, bytes);
  if (st != cudaSuccess) {
    cudaGetLastError();  // out-of-memory is not sticky; clear it so later calls do not report it
    WEFT_FAIL("[cuda] cudaMalloc of ", bytes, " bytes failed: ", cudaGetErrorString(st));
  }
  return p;
}

// Called from destructors: never throws (cudaFree waits for the device itself).
void free(void* p) { cudaFree(p); }

// cudaMemset and cudaMemcpy run on the legacy default stream, which does not order itself with our
// non-blocking streams, and return before device-side work is done (memset, device-to-device and
// pageable host-to-device copies). Synchronizing before and after makes both sides see each other.
void zero(void* p, size_t bytes) {
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemset(p, 0, bytes));
  CUDA_CHECK(cudaDeviceSynchronize());
}

void copy(void* dst, bool dst_cuda, const void* src, bool src_cuda, size_t bytes) {
  CUDA_CHECK(cudaDeviceSynchronize());
  cudaMemcpyKind kind = dst_cuda ? (src_cuda ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                 : (src_cuda ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
  CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace cuda_mem

namespace cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {  // no driver, no device, driver too old
    cudaGetLastError();
    return 0;
  }
  return n;
}

Exec exec_create(int ordinal) {
  int n = device_count();
  WEFT_CHECK(ordinal >= 0 && ordinal < n, "[cuda::exec_create] device ", ordinal, " requested but ", n,
             " CUDA device(s) visible");
  CUDA_CHECK(cudaSetDevice(ordinal));
  Exec ex;
  ex.device = Device::cuda;
  ex.cuda_device = ordinal;
  cudaStream_t s = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  ex.stream = s;
  cublasLtHandle_t h = nullptr;
  CUBLAS_CHECK(cublasLtCreate(&h));
  ex.blaslt = h;
  ex.workspace_bytes = size_t(32) << 20;
  ex.workspace = cuda_mem::alloc(ex.workspace_bytes);
  return ex;
}

void exec_destroy(Exec& ex) {
  if (ex.device != Device::cuda) return;
  if (ex.stream) cudaStreamSynchronize(stream_of(ex));
  cudnn_release(ex);
  if (ex.blaslt) {
    release_gemm_plans(blaslt_of(ex));
    cublasLtDestroy(blaslt_of(ex));
  }
  if (ex.workspace) cudaFree(ex.workspace);
  if (ex.stream) cudaStreamDestroy(stream_of(ex));
  ex = Exec{};
}

void synchronize(Exec& ex) {
  if (ex.device == Device::cuda) CUDA_CHECK(cudaStreamSynchronize(stream_of(ex)));
}

}  // namespace cuda

namespace cuda {
void fill_zero(Exec& ex, void* p, int64_t bytes) {
  if (bytes > 0) CUDA_CHECK(cudaMemsetAsync(p, 0, static_cast<size_t>(bytes), stream_of(ex)));
}
}  // namespace cuda

}  // namespace weft
