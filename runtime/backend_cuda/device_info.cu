// GPU facts for benchmarks and launch reports: the architecture's peak rates computed from SM count
// and clock, the version of the cuDNN library loaded (when built with it, cmake/cudnn.cmake), and the
// device memory in use.
#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/cudnn_info.h"

#ifdef WEFT_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace weft::cuda {

namespace {

// Dense FLOPs per SM per clock (2 per FMA). Tensor cores, bf16 inputs with fp32 accumulation:
// sm_80 1024 FMA/clk/SM, sm_90 2048; sm_86/sm_89 parts run fp32-accumulate at half the rate of the
// datacenter parts of their generation. CUDA-core fp32: 64 FMA/clk/SM on sm_80, 128 from sm_86 on.
struct PerSmRates {
  double bf16, fp32;
};
PerSmRates per_sm_rates(int major, int minor) {
  if (major == 8 && minor == 0) return {2048, 128};
  if (major == 8) return {1024, 256};
  if (major == 9) return {4096, 256};
  if (major == 10) return {8192, 256};
  return {0, 0};  // unknown: MFU is not reported rather than guessed
}

}  // namespace

bool built() { return true; }

DeviceInfo device_info(int ordinal) {
  int n = device_count();
  WEFT_CHECK(ordinal >= 0 && ordinal < n, "[cuda::device_info] device ", ordinal, " requested but ", n, " visible");
  DeviceInfo d;
  d.ordinal = ordinal;
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
  d.name = prop.name;
  d.memory_bytes = prop.totalGlobalMem;
  CUDA_CHECK(cudaDeviceGetAttribute(&d.cc_major, cudaDevAttrComputeCapabilityMajor, ordinal));
  CUDA_CHECK(cudaDeviceGetAttribute(&d.cc_minor, cudaDevAttrComputeCapabilityMinor, ordinal));
  CUDA_CHECK(cudaDeviceGetAttribute(&d.sm_count, cudaDevAttrMultiProcessorCount, ordinal));
  int clock_khz = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, ordinal));
  d.clock_hz = clock_khz * 1e3;
  const PerSmRates r = per_sm_rates(d.cc_major, d.cc_minor);
  d.peak_bf16_flops = r.bf16 * d.sm_count * d.clock_hz;
  d.peak_fp32_flops = r.fp32 * d.sm_count * d.clock_hz;
  return d;
}

int cudnn_version() {
#ifdef WEFT_HAVE_CUDNN
  return static_cast<int>(cudnnGetVersion());
#else
  return 0;
#endif
}

// Device memory in use now on the current device: total - free, which includes the CUDA context and
// other processes' allocations. Callers sample it where memory peaks (after a backward).
size_t memory_in_use_bytes() {
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return total_bytes - free_bytes;
}

}  // namespace weft::cuda
