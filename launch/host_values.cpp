// host_doubles (launch/host_values.h): one device copy in the tensor's own dtype, widened on the host.
#include "launch/host_values.h"

#include <algorithm>

#include "runtime/check.h"
#include "runtime/dtype.h"
#include "runtime/memory.h"

namespace weft::launch {

std::vector<double> host_doubles(const Tensor& t, const char* who) {
  const size_t n = static_cast<size_t>(t.numel());
  std::vector<double> out(n);
  if (t.dtype == DType::f64) {
    device_copy(Device::cpu, out.data(), t.device, t.data, t.nbytes());
  } else if (t.dtype == DType::f32) {
    std::vector<float> f(n);
    device_copy(Device::cpu, f.data(), t.device, t.data, t.nbytes());
    std::copy(f.begin(), f.end(), out.begin());
  } else {
    WEFT_CHECK(t.dtype == DType::bf16, "[", who, "] needs f32, f64 or bf16 values, got ", t.str());
    std::vector<bf16> h(n);
    device_copy(Device::cpu, h.data(), t.device, t.data, t.nbytes());
    for (size_t i = 0; i < n; ++i) out[i] = h[i].to_float();
  }
  return out;
}

}  // namespace weft::launch
