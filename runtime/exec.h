// Exec: where and how kernels run. Every kernel, CPU or CUDA, takes an Exec& first, so kernels in
// namespace cpu and namespace cuda have identical signatures. CUDA handles are kept as void* so this
// header needs no CUDA include; backend_cuda/ casts them back.
#pragma once

#include <cstddef>

#include "runtime/dtype.h"

namespace weft {

struct Exec {
  Device device = Device::cpu;
  int threads = 1;                // OpenMP threads used by CPU kernels
  int cuda_device = -1;           // ordinal of the GPU (cuda only)
  void* stream = nullptr;         // cudaStream_t
  void* blaslt = nullptr;         // cublasLtHandle_t
  void* workspace = nullptr;      // cuBLASLt workspace (device memory)
  size_t workspace_bytes = 0;
};

// A CPU execution context; threads <= 0 means "all cores OpenMP sees".
Exec cpu_exec(int threads = 0);

namespace cuda {
int device_count();                      // 0 when built without CUDA or when no GPU is visible
Exec exec_create(int device_ordinal);    // stream + cuBLASLt handle + workspace
void exec_destroy(Exec& ex);
void synchronize(Exec& ex);
}  // namespace cuda

}  // namespace weft
