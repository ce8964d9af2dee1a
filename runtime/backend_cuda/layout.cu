// CUDA layout kernel: the (0, 2, 1, 3) permutation out (A, C, B, D) = in (A, B, C, D) (heads <-> time),
// or += when accumulate. Each (a, b, c) row of D elements is contiguous on both sides, so rows of at
// least kTileD elements are copied row by row with consecutive threads on consecutive elements of the
// output (16-byte vectors when D and the pointers allow). Shorter rows would read scattered bytes: they
// go through a shared-memory tile of 32 x 32 rows (a (B, C) -> (C, B) transpose of D-element items),
// read and written along the contiguous side. Pure data movement: results equal the CPU twin exactly.
#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

constexpr int kTileD = 4;  // rows with D <= kTileD take the tiled path
constexpr int kTile = 32;  // rows per tile side

// out (A, C, B, D) (+)= in (A, B, C, D), V output elements per step (D % V == 0 when V > 1).
template <class T, int V>
__global__ void permute_rows_kernel(T* out, const T* in, int64_t A, int64_t B, int64_t C, int64_t D,
                                    bool accumulate) {
  const int64_t packs_per_row = D / V;
  WEFT_CUDA_FOR(p, A * C * B * packs_per_row) {
    const int64_t row = p / packs_per_row, d = (p - row * packs_per_row) * V;
    const int64_t b = row % B, ac = row / B, c = ac % C, a = ac / C;  // row = (a, c, b) of the output
    const int64_t src = ((a * B + b) * C + c) * D + d, dst = row * D + d;
    float v[V];
    load_vec<V>(v, in, src);
    if (accumulate) {
      float o[V];
      load_vec<V>(o, out, dst);
#pragma unroll
      for (int k = 0; k < V; ++k) v[k] += o[k];
    }
    store_vec<V>(out, dst, v);
  }
}

// Tiled path: tile (a, b0, c0) holds in[a, b0 : b0 + 32, c0 : c0 + 32, :] as tile[b - b0][(c - c0) * D + d].
// Loads walk the input's contiguous (c, d) run of each b; stores walk the output's (b, d) run of each c.
template <class T>
__global__ void permute_tiled_kernel(T* out, const T* in, int64_t A, int64_t B, int64_t C, int64_t D,
                                     bool accumulate) {
  __shared__ float tile[kTile][kTile * kTileD + 1];
  const int64_t tiles_b = (B + kTile - 1) / kTile, tiles_c = (C + kTile - 1) / kTile;
  const int run = kTile * static_cast<int>(D);  // elements of one tile row
  for (int64_t t = blockIdx.x; t < A * tiles_b * tiles_c; t += gridDim.x) {
    const int64_t a = t / (tiles_b * tiles_c), rest = t % (tiles_b * tiles_c);
    const int64_t b0 = rest / tiles_c * kTile, c0 = rest % tiles_c * kTile;
    for (int e = threadIdx.x; e < kTile * run; e += blockDim.x) {
      const int bl = e / run, r = e % run;  // r = (c - c0) * D + d
      if (b0 + bl < B && c0 * D + r < C * D) tile[bl][r] = load(in, ((a * B + b0 + bl) * C) * D + c0 * D + r);
    }
    __syncthreads();
    for (int e = threadIdx.x; e < kTile * run; e += blockDim.x) {
      const int cl = e / run, r = e % run;  // r = (b - b0) * D + d
      if (c0 + cl < C && b0 * D + r < B * D) {
        const int64_t dst = ((a * C + c0 + cl) * B) * D + b0 * D + r;
        const float v = tile[r / D][cl * D + r % D];
        store(out, dst, accumulate ? load(out, dst) + v : v);
      }
    }
    __syncthreads();  // the next tile overwrites the shared memory
  }
}

}  // namespace

void permute_0213(Exec& ex, DType dt, void* out, const void* in, int64_t A, int64_t B, int64_t C, int64_t D,
                  bool accumulate) {
  const int64_t n = A * B * C * D;
  if (n == 0) return;
  dispatch_float(dt, "permute_0213", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* x = static_cast<const T*>(in);
    cudaStream_t st = stream_of(ex);
    if (D <= kTileD) {
      const int64_t tiles = A * ((B + kTile - 1) / kTile) * ((C + kTile - 1) / kTile);
      permute_tiled_kernel<T><<<static_cast<unsigned>(tiles < kMaxBlocks ? tiles : kMaxBlocks), kThreads, 0, st>>>(
          o, x, A, B, C, D, accumulate);
    } else if (D % kVec<T> == 0 && all_aligned(16, o, x)) {
      permute_rows_kernel<T, kVec<T>><<<blocks_for(n / kVec<T>), kThreads, 0, st>>>(o, x, A, B, C, D, accumulate);
    } else {
      permute_rows_kernel<T, 1><<<blocks_for(n), kThreads, 0, st>>>(o, x, A, B, C, D, accumulate);
    }
  });
  CUDA_CHECK_LAUNCH("permute_0213");
}

}  // namespace weft::cuda
