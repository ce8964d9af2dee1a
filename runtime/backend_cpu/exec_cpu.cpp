// The CPU execution context.
#include <omp.h>

#include "runtime/exec.h"

extern "C" void openblas_set_num_threads(int);

namespace weft {

Exec cpu_exec(int threads) {
  Exec ex;
  ex.device = Device::cpu;
  ex.threads = threads > 0 ? threads : omp_get_max_threads();
  openblas_set_num_threads(ex.threads);  // BLAS uses as many threads as our own kernels
  return ex;
}

}  // namespace weft
