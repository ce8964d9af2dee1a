// Helpers shared by the CPU kernels: dtype dispatch and OpenMP conventions.
// CPU kernels run in f32 (training) or f64 (gradient checks); bf16 exists on CPU only through cast().
#pragma once

#include <cstdint>

#include "runtime/check.h"
#include "runtime/exec.h"

namespace weft::cpu {

// Calls f(T{}) with T = float or double according to dt.
template <class F>
void dispatch_float(DType dt, const char* kernel, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    default: WEFT_FAIL("[cpu::", kernel, "] unsupported dtype ", dtype_name(dt), " (CPU kernels take f32 or f64)");
  }
}

// Loops shorter than this run on one thread (thread start-up costs more than it saves).
constexpr int64_t kParallelGrain = 1 << 14;

inline int threads_for(const Exec& ex, int64_t work) { return work < kParallelGrain ? 1 : ex.threads; }

}  // namespace weft::cpu
