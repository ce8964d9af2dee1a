// measured_gemm_peak: timed square GEMMs on the Exec's device.
#include "runtime/gemm_peak.h"

#include <algorithm>
#include <chrono>

#include "runtime/kernels.h"
#include "runtime/memory.h"

namespace weft {

namespace {

// An (n, n) matrix of values in [-1, 1) on the device (GPU power, hence clocks, depends on the data: no zeros).
OwnedTensor random_matrix(DType dt, int64_t n, Device dev, uint32_t seed) {
  OwnedTensor f(DType::f32, {n, n}), host(dt, {n, n});
  uint32_t state = seed;
  for (int64_t i = 0; i < n * n; ++i) {
    state = state * 1664525u + 1013904223u;
    f.ptr<float>()[i] = static_cast<float>(state >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
  Exec cpu = cpu_exec();
  cpu::cast(cpu, dt, host.tensor().data, DType::f32, f.tensor().data, n * n, false);
  return host.to(dev);
}

}  // namespace

double measured_gemm_peak(Exec& ex, DType dt, std::initializer_list<int64_t> sizes, int reps) {
  double best = 0.0;
  for (int64_t n : sizes) {
    OwnedTensor a = random_matrix(dt, n, ex.device, 1), b = random_matrix(dt, n, ex.device, 2);
    OwnedTensor c(dt, {n, n}, ex.device);
    auto run = [&] {
      WEFT_LAUNCH(ex, gemm, ex, dt, false, false, n, n, n, 1.0f, a.tensor().data, n, 0, b.tensor().data, n, 0, 0.0f,
                  c.tensor().data, n, 0, 1);
      if (ex.device == Device::cuda) cuda::synchronize(ex);
    };
    run();
    for (int rep = 0; rep < reps; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      run();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 2.0 * static_cast<double>(n) * n * n / s);
    }
  }
  return best;
}

}  // namespace weft
