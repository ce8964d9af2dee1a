// The CPU execution context.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "runtime/exec.h"
#include "runtime/kernels.h"

extern "C" void openblas_set_num_threads(int);

namespace weft {

Exec cpu_exec(int threads) {
  Exec ex;
  ex.device = Device::cpu;
  ex.threads = threads > 0 ? threads : omp_get_max_threads();
  openblas_set_num_threads(ex.threads);  // BLAS uses as many threads as our own kernels
  omp_set_num_threads(ex.threads);       // and so does oneDNN (its OpenMP build reads omp_get_max_threads())
  return ex;
}

Exec host_exec() {
  Exec ex;
  ex.device = Device::cpu;
  ex.threads = 1;
  return ex;
}

namespace cpu {
// Gradient buffers of several MB are zeroed before the first accumulation: split across the run's threads
// (one memset leaves the other threads spinning at the next barrier), below 1 MB one call.
void fill_zero(Exec& ex, void* p, int64_t bytes) {
  const int64_t min_parallel_bytes = int64_t(1) << 20;
  const int threads = ex.threads > 1 && bytes >= min_parallel_bytes ? ex.threads : 1;
  if (threads == 1) return (void)std::memset(p, 0, static_cast<size_t>(bytes));
  const int64_t per = (bytes / threads + 63) / 64 * 64;  // cache-line multiples
#pragma omp parallel for num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    const int64_t begin = std::min(bytes, t * per), end = std::min(bytes, begin + per);
    std::memset(static_cast<char*>(p) + begin, 0, static_cast<size_t>(end - begin));
  }
}
}  // namespace cpu

}  // namespace weft
