// The measured GEMM peak of a backend: the best FLOP/s of a few large square GEMMs through our own
// gemm kernel (on the CPU the f32 library --cpu-gemm selects, runtime/cpu_gemm.h; cuBLASLt on CUDA). Benchmarks report model FLOP/s as a fraction
// of it next to the theoretical peak, so "MFU" means the same thing on every machine.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "runtime/exec.h"

namespace weft {

// FLOP/s (2 n^3 per call) of the fastest of `reps` timed calls at each size, after one untimed call.
double measured_gemm_peak(Exec& ex, DType dt, std::initializer_list<int64_t> sizes, int reps = 3);

}  // namespace weft
