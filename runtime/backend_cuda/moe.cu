// CUDA kernels of the mixture-of-experts family (ops/moe.cpp): the route of rows to experts and the scatter
// of expert-ordered rows back to their rows. The gather is gather_rows (index.cu) and the products are one
// cuBLASLt gemm per expert with rows (matmul.cu), launched by the op in ascending expert order; the weight
// gradient is that gemm accumulating (beta = 1) into each expert's own slice, so no float atomics anywhere
// and every run sums in the same order.
//
// The route sorts on the device and copies only the offsets down. Choice: the op needs the offsets on the
// host (they size the per-expert GEMMs), so one stream synchronization is unavoidable; sorting on the device
// keeps the M ids and the M-long order off the PCIe bus (a host counting sort would copy both ways).
//   route_keys     keys[m] = expert[m], or n_experts for an id out of range (a last bucket); pos[m] = m
//   CUB            stable radix sort of (key, pos) on the bits that hold [0, n_experts]: pos out = order
//   route_offsets  offsets[e] = first sorted slot with key >= e (binary search), e in [0, n_experts]; and the
//                  first out-of-range row (the stable sort puts the lowest such row first in the last bucket)
//   copy down      offsets and the bad row / id to the host, synchronize, then the same error as the CPU twin
// Scratch (keys in and out, positions in, the device offsets, CUB's storage) comes from the Exec's workspace
// in stream order, as index.cu's sort does; a route too large for it is an error naming the sizes.
#include <cub/device/device_radix_sort.cuh>

#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

__global__ void route_keys_kernel(uint32_t* keys, int32_t* pos, const int32_t* expert, int64_t M, int64_t E) {
  WEFT_CUDA_FOR(m, M) {
    const int32_t e = expert[m];
    keys[m] = (e >= 0 && e < E) ? static_cast<uint32_t>(e) : static_cast<uint32_t>(E);
    pos[m] = static_cast<int32_t>(m);
  }
}

// offsets (E + 1) and bad (2): row and id of the first out-of-range row, or -1, -1.
__global__ void route_offsets_kernel(int64_t* offsets, int64_t* bad, const uint32_t* keys, const int32_t* order,
                                     const int32_t* expert, int64_t M, int64_t E) {
  WEFT_CUDA_FOR(e, E + 1) {
    int64_t lo = 0, hi = M;  // first slot in [0, M] whose key >= e
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (keys[mid] < static_cast<uint32_t>(e)) lo = mid + 1;
      else hi = mid;
    }
    offsets[e] = lo;
    if (e == E) {
      bad[0] = lo < M ? order[lo] : -1;
      bad[1] = lo < M ? expert[order[lo]] : -1;
    }
  }
}

template <class T>
__global__ void scatter_rows_kernel(T* dst, const T* src, const int32_t* idx, int64_t M, int64_t N, int64_t C,
                                    bool accumulate) {
  WEFT_CUDA_FOR(i, M * C) {
    const int64_t r = i / C, c = i - r * C;
    const int32_t row = idx[r];
    if (row < 0 || row >= N) __trap();  // contract violation: idx must be rows in [0, N)
    const float v = load(src, i);
    store(dst, row * C + c, accumulate ? load(dst, row * C + c) + v : v);
  }
}

constexpr size_t kAlign = 256;
size_t round_up(size_t b) { return (b + kAlign - 1) / kAlign * kAlign; }

}  // namespace

void moe_route(Exec& ex, int32_t* order, int64_t* offsets, const int32_t* expert, int64_t M, int64_t n_experts) {
  const int64_t E = n_experts;
  if (M == 0) {
    for (int64_t e = 0; e <= E; ++e) offsets[e] = 0;
    return;
  }
  WEFT_CHECK(M <= INT32_MAX && E < INT32_MAX, "[cuda::moe_route] ", M, " rows, ", E, " experts: must fit in int32");
  int end_bit = 1;  // bits that hold every key in [0, E]
  while (end_bit < 32 && (int64_t(1) << end_bit) <= E) ++end_bit;
  size_t cub_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, cub_bytes, static_cast<const uint32_t*>(nullptr),
                                             static_cast<uint32_t*>(nullptr), static_cast<const int32_t*>(nullptr),
                                             static_cast<int32_t*>(nullptr), static_cast<int>(M), 0, end_bit));
  const size_t arr = round_up(sizeof(int32_t) * M), offs = round_up(sizeof(int64_t) * (E + 3));
  WEFT_CHECK(3 * arr + offs + cub_bytes <= ex.workspace_bytes, "[cuda::moe_route] the Exec workspace (",
             ex.workspace_bytes, " bytes) cannot hold the sort of ", M, " rows into ", E, " experts (",
             3 * arr + offs + cub_bytes, " bytes)");
  char* p = static_cast<char*>(ex.workspace);
  uint32_t* keys_in = reinterpret_cast<uint32_t*>(p);
  uint32_t* keys_out = reinterpret_cast<uint32_t*>(p + arr);
  int32_t* pos_in = reinterpret_cast<int32_t*>(p + 2 * arr);
  int64_t* dev_offsets = reinterpret_cast<int64_t*>(p + 3 * arr);  // (E + 1), then the bad row and id
  void* temp = p + 3 * arr + offs;
  size_t temp_bytes = ex.workspace_bytes - 3 * arr - offs;
  cudaStream_t st = stream_of(ex);
  route_keys_kernel<<<blocks_for(M), kThreads, 0, st>>>(keys_in, pos_in, expert, M, E);
  CUDA_CHECK_LAUNCH("moe_route");
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys_in, keys_out, pos_in, order, static_cast<int>(M), 0,
                                             end_bit, st));
  route_offsets_kernel<<<blocks_for(E + 1), kThreads, 0, st>>>(dev_offsets, dev_offsets + E + 1, keys_out, order,
                                                               expert, M, E);
  CUDA_CHECK_LAUNCH("moe_route");
  int64_t bad[2] = {-1, -1};
  CUDA_CHECK(cudaMemcpyAsync(offsets, dev_offsets, sizeof(int64_t) * (E + 1), cudaMemcpyDeviceToHost, st));
  CUDA_CHECK(cudaMemcpyAsync(bad, dev_offsets + E + 1, sizeof bad, cudaMemcpyDeviceToHost, st));
  CUDA_CHECK(cudaStreamSynchronize(st));
  WEFT_CHECK(bad[0] < 0, "[route_by_expert] expert id ", bad[1], " of row ", bad[0], " is out of [0, ", E, ")");
}

void moe_scatter_rows(Exec& ex, DType dt, void* dst, const void* src, const int32_t* idx, int64_t M, int64_t N,
                      int64_t C, bool accumulate) {
  if (M * C == 0) return;
  dispatch_float(dt, "moe_scatter_rows", [&](auto tag) {
    using T = decltype(tag);
    scatter_rows_kernel<<<blocks_for(M * C), kThreads, 0, stream_of(ex)>>>(
        static_cast<T*>(dst), static_cast<const T*>(src), idx, M, N, C, accumulate);
  });
  CUDA_CHECK_LAUNCH("moe_scatter_rows");
}

}  // namespace weft::cuda
