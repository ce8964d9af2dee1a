// Tensor values read back to the host as doubles: what the analyses (weft analyze norms, receptive-field,
// represent) compute their statistics from after a forward or backward on any device. A synchronous copy;
// the tensor is left as it is.
#pragma once

#include <vector>

#include "runtime/tensor.h"

namespace weft::launch {

// Every element of t (f64, f32 or bf16, on the CPU or a GPU) in row-major order. Throws naming `who`
// ("[norms] ...") for another dtype.
std::vector<double> host_doubles(const Tensor& t, const char* who);

}  // namespace weft::launch
