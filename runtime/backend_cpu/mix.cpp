// CPU kernel of the causal token mixing (masked mixer): the lower triangle of a square block, copied
// (masking the mixing matrix) or accumulated (its weight gradient). The products run through gemm
// (backend_cpu/matmul.cpp).
#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/kernels.h"

namespace weft::cpu {

void tril_copy(Exec& ex, DType dt, void* dst, int64_t ld_dst, const void* src, int64_t ld_src, int64_t T,
               bool accumulate) {
  dispatch_float(dt, "tril_copy", [&](auto tag) {
    using V = decltype(tag);
    V* d = static_cast<V*>(dst);
    const V* s = static_cast<const V*>(src);
#pragma omp parallel for num_threads(threads_for(ex, T * T))
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < T; ++j) {
        if (j <= i) d[i * ld_dst + j] = accumulate ? d[i * ld_dst + j] + s[i * ld_src + j] : s[i * ld_src + j];
        else if (!accumulate) d[i * ld_dst + j] = V(0);
      }
  });
}

}  // namespace weft::cpu
