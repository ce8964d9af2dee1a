// CUDA indexing kernels: embedding lookup and its scatter-add, row gather / scatter-add (MoE token
// routing), top-k along the last dim.
//
// Determinism. A scatter-add must not let timing pick the order in which rows that hit the same
// destination are added (float atomics would). scatter_add_rows (and embedding_backward, which is the
// same operation) therefore builds the inverse mapping first: a stable radix sort (CUB) of the indices
// with their positions as payload, so each destination's sources sit together in position order; then
// one thread block per destination row adds its sources to it in that order, starting from the old
// value, exactly the order of the CPU twin (f32 results are bit-identical to it).
// Scratch: the sort needs 4 int arrays of the rows it sorts plus CUB's temporary storage. They come from
// the Exec's workspace (as bcast_reduce.cuh does; it is shared with cuBLASLt, and every user runs on
// ex.stream, so each finds the previous one finished). No allocation happens here. When M rows do not
// fit, they are sorted and added in consecutive chunks of positions, which keeps the position order.
//
// Indices are checked on the device: an index outside [0, rows) stops the kernel with __trap() (like a
// device-side assert, the error surfaces at the next synchronizing call and the CUDA context is lost);
// the CPU twin throws a WEFT_CHECK instead. Nothing outside the tensors is ever touched.
#include <cub/device/device_radix_sort.cuh>

#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

__device__ __forceinline__ int64_t checked_index(const int32_t* idx, int64_t i, int64_t rows) {
  const int32_t r = idx[i];
  if (r < 0 || r >= rows) __trap();  // contract violation: ids must be in [0, rows)
  return r;
}

// ---- gather: out (M, C) = x[idx] (or +=), V elements at a time (C % V == 0 when V > 1).
template <class T, int V>
__global__ void gather_rows_kernel(T* out, const T* x, const int32_t* idx, int64_t M, int64_t N, int64_t C,
                                   bool accumulate) {
  const int64_t packs_per_row = C / V;
  WEFT_CUDA_FOR(p, M * packs_per_row) {
    const int64_t i = p / packs_per_row, c = (p - i * packs_per_row) * V;
    const int64_t src = checked_index(idx, i, N) * C + c, dst = i * C + c;
    float v[V];
    load_vec<V>(v, x, src);
    if (accumulate) {
      float o[V];
      load_vec<V>(o, out, dst);
#pragma unroll
      for (int k = 0; k < V; ++k) v[k] += o[k];
    }
    store_vec<V>(out, dst, v);
  }
}

// ---- scatter-add through a sorted inverse mapping
// keys[j] = idx[m0 + j] (checked), pos[j] = m0 + j: the input of the stable sort.
__global__ void sort_input_kernel(uint32_t* keys, int32_t* pos, const int32_t* idx, int64_t m0, int64_t count,
                                  int64_t N) {
  WEFT_CUDA_FOR(j, count) {
    keys[j] = static_cast<uint32_t>(checked_index(idx, m0 + j, N));
    pos[j] = static_cast<int32_t>(m0 + j);
  }
}

// Block x = sorted slot j. The block whose slot starts a run of equal keys owns destination row
// keys[j]: dst[row] += src[pos[j]] + src[pos[j + 1]] + ... over the run, in sorted (= position) order.
// Blocks in y split the C columns. Other blocks return at once.
template <class T>
__global__ void scatter_sorted_kernel(T* dst, const T* src, const uint32_t* keys, const int32_t* pos, int64_t count,
                                      int64_t C) {
  const int64_t j = blockIdx.x;
  const uint32_t row = keys[j];
  if (j > 0 && keys[j - 1] == row) return;
  int64_t end = j + 1;
  while (end < count && keys[end] == row) ++end;
  for (int64_t c = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.y) * blockDim.x) {
    float acc = load(dst, row * C + c);
    for (int64_t k = j; k < end; ++k) acc += load(src, pos[k] * C + c);
    store(dst, row * C + c, acc);
  }
}

// Sort scratch carved from the workspace for `rows` rows: keys/positions in and out, then CUB's storage.
struct SortScratch {
  uint32_t *keys_in, *keys_out;
  int32_t *pos_in, *pos_out;
  void* temp;
  size_t temp_bytes;
};

size_t cub_sort_bytes(int64_t rows, int end_bit) {
  size_t bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const uint32_t*>(nullptr),
                                             static_cast<uint32_t*>(nullptr), static_cast<const int32_t*>(nullptr),
                                             static_cast<int32_t*>(nullptr), static_cast<int>(rows), 0, end_bit));
  return bytes;
}

constexpr size_t kAlign = 256;
size_t round_up(size_t b) { return (b + kAlign - 1) / kAlign * kAlign; }

// The largest chunk of rows (at most M, halving from there) whose sort scratch fits the workspace: a
// function of M, N and the workspace size only, so the summation order is reproducible.
int64_t sort_chunk_rows(const Exec& ex, int64_t M, int end_bit) {
  constexpr int64_t kMaxSortRows = int64_t(1) << 30;  // CUB counts items in int
  for (int64_t rows = M < kMaxSortRows ? M : kMaxSortRows; rows > 0; rows = (rows + 1) / 2) {
    if (4 * round_up(sizeof(int32_t) * rows) + cub_sort_bytes(rows, end_bit) <= ex.workspace_bytes) return rows;
    if (rows == 1) break;
  }
  WEFT_FAIL("[cuda::scatter_add_rows] the Exec workspace (", ex.workspace_bytes,
            " bytes) cannot hold the index sort of even one row");
}

// temp_bytes: all the workspace left after the four arrays (at least what `rows` rows need).
SortScratch carve(const Exec& ex, int64_t rows) {
  char* p = static_cast<char*>(ex.workspace);
  const size_t arr = round_up(sizeof(int32_t) * rows);
  return {reinterpret_cast<uint32_t*>(p), reinterpret_cast<uint32_t*>(p + arr), reinterpret_cast<int32_t*>(p + 2 * arr),
          reinterpret_cast<int32_t*>(p + 3 * arr), p + 4 * arr, ex.workspace_bytes - 4 * arr};
}

template <class T>
void scatter_add_sorted(Exec& ex, T* dst, const T* src, const int32_t* idx, int64_t M, int64_t N, int64_t C) {
  WEFT_CHECK(M <= INT32_MAX, "[cuda::scatter_add_rows] ", M, " source rows: positions must fit in int32");
  int end_bit = 1;  // bits that hold any index in [0, N)
  while (end_bit < 32 && (int64_t(1) << end_bit) < N) ++end_bit;
  const int64_t chunk = sort_chunk_rows(ex, M, end_bit);
  const SortScratch s = carve(ex, chunk);
  cudaStream_t st = stream_of(ex);
  constexpr int kColThreads = 128;
  const int64_t col_blocks = (C + kColThreads - 1) / kColThreads;
  for (int64_t m0 = 0; m0 < M; m0 += chunk) {  // chunks in position order keep the per-row order
    const int64_t count = M - m0 < chunk ? M - m0 : chunk;
    sort_input_kernel<<<blocks_for(count), kThreads, 0, st>>>(s.keys_in, s.pos_in, idx, m0, count, N);
    CUDA_CHECK_LAUNCH("scatter_add_rows");
    size_t bytes = s.temp_bytes;  // CUB reads the room it has and checks its own need for `count` rows
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(s.temp, bytes, s.keys_in, s.keys_out, s.pos_in, s.pos_out,
                                               static_cast<int>(count), 0, end_bit, st));
    dim3 grid(static_cast<unsigned>(count), static_cast<unsigned>(col_blocks < 65535 ? col_blocks : 65535));
    scatter_sorted_kernel<<<grid, kColThreads, 0, st>>>(dst, src, s.keys_out, s.pos_out, count, C);
    CUDA_CHECK_LAUNCH("scatter_add_rows");
  }
}

// ---- top-k: one warp per row. Rows are ordered by (value desc, index asc), a total order; pick k is
// the first element of that order strictly after pick k - 1, found by a warp-wide arg-max.
struct Pick {
  float v;
  int32_t i;  // -1: none
};
__device__ __forceinline__ bool before(const Pick& a, const Pick& b) {  // a comes first in the order
  if (a.i < 0) return false;
  if (b.i < 0) return true;
  return a.v > b.v || (a.v == b.v && a.i < b.i);
}

template <class T>
__global__ void topk_forward_kernel(T* values, int32_t* indices, const T* x, int64_t N, int64_t C, int64_t K) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; r < N; r += warps) {
    const T* row = x + r * C;
    Pick prev{0.0f, -1};
    for (int64_t k = 0; k < K; ++k) {
      Pick best{0.0f, -1};
      for (int64_t c = lane; c < C; c += 32) {
        const Pick cand{load(row, c), static_cast<int32_t>(c)};
        if ((prev.i < 0 || before(prev, cand)) && before(cand, best)) best = cand;
      }
#pragma unroll
      for (int off = 16; off > 0; off /= 2) {
        const Pick other{__shfl_xor_sync(0xffffffffu, best.v, off), __shfl_xor_sync(0xffffffffu, best.i, off)};
        if (before(other, best)) best = other;
      }
      // Every lane holds the same pick. None only when NaNs break the order (unspecified on CPU too):
      // repeat the previous pick so indices stay in range.
      if (best.i < 0) best = prev.i < 0 ? Pick{load(row, 0), 0} : prev;
      if (lane == 0) {
        store(values, r * K + k, best.v);
        indices[r * K + k] = best.i;
      }
      prev = best;
    }
  }
}

// dx (N, C) += dvalues (N, K) at the chosen columns; a row's columns are distinct, so no two threads
// write the same element.
template <class T>
__global__ void topk_backward_kernel(T* dx, const T* dvalues, const int32_t* indices, int64_t N, int64_t C,
                                     int64_t K) {
  WEFT_CUDA_FOR(i, N * K) {
    const int64_t r = i / K, c = checked_index(indices, i, C);
    store(dx, r * C + c, load(dx, r * C + c) + load(dvalues, i));
  }
}

}  // namespace

void gather_rows(Exec& ex, DType dt, void* out, const void* x, const int32_t* idx, int64_t M, int64_t N, int64_t C,
                 bool accumulate) {
  if (M * C == 0) return;
  dispatch_float(dt, "gather_rows", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* xp = static_cast<const T*>(x);
    if (C % kVec<T> == 0 && all_aligned(16, o, xp))
      gather_rows_kernel<T, kVec<T>><<<blocks_for(M * C / kVec<T>), kThreads, 0, stream_of(ex)>>>(o, xp, idx, M, N,
                                                                                               C, accumulate);
    else
      gather_rows_kernel<T, 1><<<blocks_for(M * C), kThreads, 0, stream_of(ex)>>>(o, xp, idx, M, N, C, accumulate);
  });
  CUDA_CHECK_LAUNCH("gather_rows");
}

void scatter_add_rows(Exec& ex, DType dt, void* dst, const void* src, const int32_t* idx, int64_t M, int64_t N,
                      int64_t C) {
  if (M * C == 0) return;
  dispatch_float(dt, "scatter_add_rows", [&](auto tag) {
    using T = decltype(tag);
    scatter_add_sorted(ex, static_cast<T*>(dst), static_cast<const T*>(src), idx, M, N, C);
  });
}

void embedding_forward(Exec& ex, DType dt, void* out, const int32_t* ids, const void* table, int64_t N, int64_t V,
                       int64_t C) {
  gather_rows(ex, dt, out, table, ids, N, V, C, false);
}

void embedding_backward(Exec& ex, DType dt, void* dtable, const void* dout, const int32_t* ids, int64_t N, int64_t V,
                        int64_t C) {
  scatter_add_rows(ex, dt, dtable, dout, ids, N, V, C);
}

void topk_forward(Exec& ex, DType dt, void* values, int32_t* indices, const void* x, int64_t N, int64_t C, int64_t K) {
  if (N * K == 0) return;
  dispatch_float(dt, "topk_forward", [&](auto tag) {
    using T = decltype(tag);
    constexpr int kRowsPerBlock = kThreads / 32;
    const int64_t blocks = (N + kRowsPerBlock - 1) / kRowsPerBlock;
    topk_forward_kernel<<<static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks), kThreads, 0,
                          stream_of(ex)>>>(static_cast<T*>(values), indices, static_cast<const T*>(x), N, C, K);
  });
  CUDA_CHECK_LAUNCH("topk_forward");
}

void topk_backward(Exec& ex, DType dt, void* dx, const void* dvalues, const int32_t* indices, int64_t N, int64_t C,
                   int64_t K) {
  if (N * K == 0) return;
  dispatch_float(dt, "topk_backward", [&](auto tag) {
    using T = decltype(tag);
    topk_backward_kernel<<<blocks_for(N * K), kThreads, 0, stream_of(ex)>>>(
        static_cast<T*>(dx), static_cast<const T*>(dvalues), indices, N, C, K);
  });
  CUDA_CHECK_LAUNCH("topk_backward");
}

}  // namespace weft::cuda
