// CUDA kernel of the causal token mixing (masked mixer): the lower triangle of a square block, copied
// (masking the mixing matrix) or accumulated (its weight gradient); one thread per element of the block,
// grid-stride. The products run through gemm (matmul.cu).
#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

template <class V>
__global__ void tril_copy_kernel(V* dst, int64_t ld_dst, const V* src, int64_t ld_src, int64_t T, bool accumulate) {
  WEFT_CUDA_FOR(k, T * T) {
    const int64_t i = k / T, j = k % T;
    if (j <= i) {
      const float v = load(src, i * ld_src + j);
      store(dst, i * ld_dst + j, accumulate ? load(dst, i * ld_dst + j) + v : v);
    } else if (!accumulate) {
      store(dst, i * ld_dst + j, 0.0f);
    }
  }
}

}  // namespace

void tril_copy(Exec& ex, DType dt, void* dst, int64_t ld_dst, const void* src, int64_t ld_src, int64_t T,
               bool accumulate) {
  if (T <= 0) return;
  dispatch_float(dt, "tril_copy", [&](auto tag) {
    using V = decltype(tag);
    tril_copy_kernel<<<blocks_for(T * T), kThreads, 0, stream_of(ex)>>>(static_cast<V*>(dst), ld_dst,
                                                                        static_cast<const V*>(src), ld_src, T,
                                                                        accumulate);
    CUDA_CHECK_LAUNCH("tril_copy");
  });
}

}  // namespace weft::cuda
