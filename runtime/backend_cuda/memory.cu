// CUDA memory and execution contexts: allocation, copies that see work queued on non-default streams,
// stream + cuBLASLt handle + workspace per Exec.
#include <cuda_runtime.h>

#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/backend_cuda/cublaslt_context.h"
#include "runtime/memory.h"

namespace weft {

namespace cuda_mem {

void* alloc(size_t bytes) {
  void* p = nullptr;
  cudaError_t st = cudaMalloc(&p, bytes);
  WEFT_CHECK(st == cudaSuccess, "[cuda] out of device memory allocating ", bytes, " bytes: ", cudaGetErrorString(st));
  return p;
}

void free(void* p) { cudaFree(p); }

void zero(void* p, size_t bytes) {
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemset(p, 0, bytes));
}

void copy(void* dst, bool dst_cuda, const void* src, bool src_cuda, size_t bytes) {
  // Kernels run on non-blocking streams: wait for them before a synchronous copy.
  CUDA_CHECK(cudaDeviceSynchronize());
  cudaMemcpyKind kind = dst_cuda ? (src_cuda ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                 : (src_cuda ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

}  // namespace cuda_mem

namespace cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

Exec exec_create(int ordinal) {
  int n = device_count();
  WEFT_CHECK(ordinal >= 0 && ordinal < n, "[cuda] device ", ordinal, " requested but ", n, " visible");
  CUDA_CHECK(cudaSetDevice(ordinal));
  Exec ex;
  ex.device = Device::cuda;
  ex.cuda_device = ordinal;
  cudaStream_t s;
  CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  ex.stream = s;
  ex.blaslt = new CublasLtContext();
  ex.workspace_bytes = size_t(32) << 20;
  CUDA_CHECK(cudaMalloc(&ex.workspace, ex.workspace_bytes));
  return ex;
}

void exec_destroy(Exec& ex) {
  if (ex.device != Device::cuda) return;
  cudaStreamSynchronize(stream_of(ex));
  delete static_cast<CublasLtContext*>(ex.blaslt);
  cudaFree(ex.workspace);
  cudaStreamDestroy(stream_of(ex));
  ex = Exec{};
}

void synchronize(Exec& ex) {
  if (ex.device == Device::cuda) CUDA_CHECK(cudaStreamSynchronize(stream_of(ex)));
}

}  // namespace cuda

}  // namespace weft
