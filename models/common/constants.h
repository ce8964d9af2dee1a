// Model constants computed on the host in double precision (position tables, mixing masks, slopes) and
// placed on the model's device in the dtype it computes in.
#pragma once

#include <vector>

#include "runtime/memory.h"

namespace weft::models {

// values (shape.numel(), row-major) as a tensor of dtype dt on dev: i32 and f64 exactly, f32 rounded,
// bf16 rounded through f32 (as the mixed-precision cast does).
OwnedTensor device_constant(const std::vector<double>& values, Shape shape, DType dt, Device dev);

}  // namespace weft::models
