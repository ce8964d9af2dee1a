// Exec: where and how kernels run. Every kernel, CPU or CUDA, takes an Exec& first, so kernels in
// namespace cpu and namespace cuda have identical signatures. CUDA handles are kept as void* so this
// header needs no CUDA include; backend_cuda/ casts them back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/dtype.h"

namespace weft {

// Whose kernels run an op family on a GPU: `cudnn` only cuDNN's (a call it does not support is an error), `weft`
// only ours, `automatic` the family's default: cuDNN's fused attention where it supports the call
// (--attention-backend; backend_cuda/attention_cudnn.cpp), our norms (--norm-backend: cuDNN's LayerNorm and RMSNorm,
// backend_cuda/norm_cudnn.cpp, become the default only once measured faster). The CPU backend ignores it.
enum class KernelBackend : uint8_t { automatic, cudnn, weft };
KernelBackend parse_kernel_backend(const std::string& name);  // "auto" | "cudnn" | "weft"; throws otherwise
const char* kernel_backend_name(KernelBackend b);

struct Exec {
  Device device = Device::cpu;
  int threads = 1;                // OpenMP threads used by CPU kernels
  int cuda_device = -1;           // ordinal of the GPU (cuda only)
  void* stream = nullptr;         // cudaStream_t
  void* blaslt = nullptr;         // cublasLtHandle_t
  void* workspace = nullptr;      // cuBLASLt workspace (device memory)
  size_t workspace_bytes = 0;
  KernelBackend attention = KernelBackend::automatic;
  KernelBackend norm = KernelBackend::automatic;
  void* cudnn = nullptr;          // cuDNN handle, graphs and scratch, made on first use (backend_cuda/cudnn_graphs.h)
  // CPU only (--dtype bf16 on the CPU): cpu::gemm rounds its f32 operands to bf16 and multiplies them on the CPU's
  // bf16 units (AMX or AVX512-BF16, through oneDNN) with f32 accumulation and an f32 result; every tensor, every
  // other kernel (attention's blocks included) and the optimizer stay f32. runtime/cpu_gemm.h.
  bool cpu_bf16_gemm = false;
};

// A CPU execution context; threads <= 0 means "all cores OpenMP sees". It also sets the process's BLAS thread count.
Exec cpu_exec(int threads = 0);
// One thread for small host-side work (casting a row, building constants) that leaves the BLAS thread count as
// the run set it: a cpu_exec(1) there would make every later GEMM of the run single-threaded.
Exec host_exec();

namespace cuda {
// What a GPU can do, from its attributes (not from a table of product names): dense peak rates are
// SM count x max clock x FLOPs per SM per clock of the architecture (bf16 tensor cores with fp32
// accumulation; fp32 on CUDA cores, which is what our fp32 GEMMs use since TF32 is off).
struct DeviceInfo {
  std::string name;
  int ordinal = -1, cc_major = 0, cc_minor = 0, sm_count = 0;
  double clock_hz = 0;                 // max SM clock (cudaDevAttrClockRate)
  size_t memory_bytes = 0;
  double peak_bf16_flops = 0;          // 0: architecture not in our per-SM table
  double peak_fp32_flops = 0;
};
bool built();                            // this weft was built with the CUDA backend
bool cudnn_attention_built();            // ... and with cuDNN's graphs: fused attention and norms (cudnn-frontend found)
int device_count();                      // 0 when built without CUDA or when no GPU is visible
Exec exec_create(int device_ordinal);    // stream + cuBLASLt handle + workspace
void exec_destroy(Exec& ex);
void synchronize(Exec& ex);
DeviceInfo device_info(int device_ordinal);
size_t memory_in_use_bytes();  // on the current device: total - free (context and other processes included)
}  // namespace cuda

// An Exec that cleans up after itself: a CPU context (nothing to release) or a CUDA one (stream,
// cuBLASLt handle, workspace, destroyed with it). Owners put it before anything that queues work on it.
class ExecContext {
 public:
  ExecContext(Device dev, int gpu, int threads)
      : ex_(dev == Device::cuda ? cuda::exec_create(gpu) : cpu_exec(threads)) {}
  ~ExecContext() {
    if (ex_.device == Device::cuda) cuda::exec_destroy(ex_);
  }
  ExecContext(const ExecContext&) = delete;
  ExecContext& operator=(const ExecContext&) = delete;
  Exec& get() { return ex_; }
  Device device() const { return ex_.device; }

 private:
  Exec ex_;
};

}  // namespace weft
