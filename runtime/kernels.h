// Kernel declarations for both backends, expanded from runtime/kernel_decls.inc.
// Op front-ends (runtime/ops/) call cpu::foo or cuda::foo by the device of their tensors.
#pragma once

#include <cstdint>

#include "runtime/exec.h"
#include "runtime/math/philox.h"
#include "runtime/math/pointwise.h"
#include "runtime/math/position_bias.h"

namespace weft {

#define WEFT_KERNEL(ready, name, ...) void name(__VA_ARGS__);
namespace cpu {
#include "runtime/kernel_decls.inc"
}  // namespace cpu
namespace cuda {
#include "runtime/kernel_decls.inc"
}  // namespace cuda
#undef WEFT_KERNEL

// Call kernel `name` on the backend of `ex`: WEFT_LAUNCH(ex, layernorm_forward, ex, dt, ...).
#define WEFT_LAUNCH(ex, name, ...) \
  ((ex).device == ::weft::Device::cpu ? ::weft::cpu::name(__VA_ARGS__) : ::weft::cuda::name(__VA_ARGS__))

}  // namespace weft
