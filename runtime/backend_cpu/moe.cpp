// CPU kernels of the mixture-of-experts family (ops/moe.cpp): the route (a stable counting sort of the
// rows by expert id, checking every id) and the scatter of expert-ordered rows back to their rows. The
// per-expert products run through gemm (backend_cpu/matmul.cpp, OpenBLAS threads each one) and the
// gather through gather_rows (backend_cpu/index.cpp).
#include <algorithm>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/kernels.h"

namespace weft::cpu {

// offsets (n_experts + 1): counts shifted by one, then their prefix sums; order by a cursor per expert, in
// ascending row order (stable).
void moe_route(Exec&, int32_t* order, int64_t* offsets, const int32_t* expert, int64_t M, int64_t n_experts) {
  std::fill(offsets, offsets + n_experts + 1, int64_t(0));
  for (int64_t m = 0; m < M; ++m) {
    const int32_t e = expert[m];
    WEFT_CHECK(e >= 0 && e < n_experts, "[route_by_expert] expert id ", e, " of row ", m, " is out of [0, ", n_experts,
               ")");
    ++offsets[e + 1];
  }
  for (int64_t e = 0; e < n_experts; ++e) offsets[e + 1] += offsets[e];
  std::vector<int64_t> next(offsets, offsets + n_experts);  // (n_experts) the next free slot of each expert
  for (int64_t m = 0; m < M; ++m) order[next[expert[m]]++] = static_cast<int32_t>(m);
}

void moe_scatter_rows(Exec& ex, DType dt, void* dst, const void* src, const int32_t* idx, int64_t M, int64_t N,
                      int64_t C, bool accumulate) {
  for (int64_t r = 0; r < M; ++r)
    WEFT_CHECK(idx[r] >= 0 && idx[r] < N, "[cpu::moe_scatter_rows] index ", idx[r], " of row ", r, " is out of [0, ", N,
               ")");
  dispatch_float(dt, "moe_scatter_rows", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dst);
    const T* s = static_cast<const T*>(src);
    // Distinct destinations: rows are independent, so the thread count changes no result.
#pragma omp parallel for num_threads(threads_for(ex, M* C))
    for (int64_t r = 0; r < M; ++r) {
      T* out = d + idx[r] * C;
      const T* in = s + r * C;
      if (accumulate)
        for (int64_t c = 0; c < C; ++c) out[c] += in[c];
      else std::copy(in, in + C, out);
    }
  });
}

}  // namespace weft::cpu
