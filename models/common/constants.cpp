// Host-computed constants on the model's device.
#include "models/common/constants.h"

#include "runtime/check.h"
#include "runtime/kernels.h"

namespace weft::models {

OwnedTensor device_constant(const std::vector<double>& values, Shape shape, DType dt, Device dev) {
  WEFT_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "[device_constant] ", values.size(),
             " values for shape ", shape.str());
  const DType host_dt = dt == DType::bf16 ? DType::f32 : dt;
  OwnedTensor host(host_dt, shape);
  for (int64_t i = 0; i < host.numel(); ++i) {
    if (host_dt == DType::f64) host.ptr<double>()[i] = values[i];
    else if (host_dt == DType::i32) host.ptr<int32_t>()[i] = static_cast<int32_t>(values[i]);
    else host.ptr<float>()[i] = static_cast<float>(values[i]);
  }
  if (dt == DType::bf16) {
    OwnedTensor narrow(dt, shape);
    Exec ex = host_exec();
    cpu::cast(ex, dt, narrow.tensor().data, host_dt, host.tensor().data, host.numel(), false);
    return narrow.to(dev);
  }
  return host.to(dev);
}

}  // namespace weft::models
