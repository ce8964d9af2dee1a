// The CPU execution context.
#include <omp.h>

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
void fill_zero(Exec&, void* p, int64_t bytes) { std::memset(p, 0, static_cast<size_t>(bytes)); }
}  // namespace cpu

}  // namespace weft
