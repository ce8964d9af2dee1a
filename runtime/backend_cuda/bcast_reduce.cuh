// Deterministic reduction of a broadcast operand's gradient (binary ops, bias): element j of the small
// operand receives the sum of term(offsets) over every output element that read it. The broadcast
// range is cut into chunks fixed by the shapes alone; each thread sums its chunk in order and a second
// pass adds the chunk partials in order, so results never depend on timing (no atomics).
#pragma once

#include "runtime/backend_cuda/cuda_common.cuh"

namespace weft::cuda {

// Up to three tensors are walked together (slot 0: the output / its gradient, 1 and 2: the operands).
// Kept dims index the small operand (row-major, so j is its linear index); reduced dims are summed.
struct ReduceGeom {
  static constexpr int kDims = 6, kSlots = 3;
  int n_kept = 0, n_red = 0;
  int64_t kept_size[kDims] = {}, red_size[kDims] = {};
  int64_t kept_stride[kDims][kSlots] = {}, red_stride[kDims][kSlots] = {};
  int64_t count = 1;      // elements of the small operand
  int64_t red_count = 1;  // terms per element
};

// dims (rank <= 6) with, per slot, the element stride of each dim; `reduced[d]` marks summed dims.
inline ReduceGeom make_reduce_geom(int rank, const int64_t* dims, const int64_t (*strides)[ReduceGeom::kSlots],
                                   const bool* reduced) {
  ReduceGeom g;
  for (int d = 0; d < rank; ++d) {
    if (dims[d] == 1) continue;
    int64_t* st = reduced[d] ? g.red_stride[g.n_red] : g.kept_stride[g.n_kept];
    for (int s = 0; s < ReduceGeom::kSlots; ++s) st[s] = strides[d][s];
    if (reduced[d]) {
      g.red_size[g.n_red++] = dims[d];
      g.red_count *= dims[d];
    } else {
      g.kept_size[g.n_kept++] = dims[d];
      g.count *= dims[d];
    }
  }
  return g;
}

// The sum of term(offsets) over reduced coordinates [r0, r1) for element j of the small operand, in
// coordinate order. Term: a copyable struct with `float operator()(const int64_t (&off)[3]) const`.
template <class Term>
__host__ __device__ __forceinline__ float reduce_one(const Term& term, const ReduceGeom& g, int64_t j, int64_t r0,
                                                     int64_t r1) {
  int64_t off[3] = {0, 0, 0}, rem = j;
  for (int k = g.n_kept - 1; k >= 0; --k) {
    const int64_t c = rem % g.kept_size[k];
    rem /= g.kept_size[k];
    for (int s = 0; s < 3; ++s) off[s] += c * g.kept_stride[k][s];
  }
  int64_t coord[ReduceGeom::kDims];
  rem = r0;
  for (int k = g.n_red - 1; k >= 0; --k) {
    coord[k] = rem % g.red_size[k];
    rem /= g.red_size[k];
    for (int s = 0; s < 3; ++s) off[s] += coord[k] * g.red_stride[k][s];
  }
  float acc = 0.0f;
  for (int64_t r = r0; r < r1; ++r) {
    acc += term(off);
    // Step to the next reduced coordinate, carrying into outer dims (odometer order = r order).
    for (int k = g.n_red - 1; k >= 0; --k) {
      for (int s = 0; s < 3; ++s) off[s] += g.red_stride[k][s];
      if (++coord[k] < g.red_size[k]) break;
      for (int s = 0; s < 3; ++s) off[s] -= g.red_size[k] * g.red_stride[k][s];
      coord[k] = 0;
    }
  }
  return acc;
}

template <class T, class Term>
__global__ void bcast_reduce_kernel(T* dst, float* partial, Term term, ReduceGeom g, int64_t chunk_len) {
  const int64_t r0 = blockIdx.y * chunk_len;
  const int64_t r1 = r0 + chunk_len < g.red_count ? r0 + chunk_len : g.red_count;
  WEFT_CUDA_FOR(j, g.count) {
    const float acc = reduce_one(term, g, j, r0, r1);
    if (partial)
      partial[blockIdx.y * g.count + j] = acc;
    else
      store(dst, j, load(dst, j) + acc);
  }
}

template <class T>
__global__ void bcast_reduce_finish_kernel(T* dst, const float* partial, int64_t count, int chunks) {
  WEFT_CUDA_FOR(j, count) {
    float acc = 0.0f;
    for (int c = 0; c < chunks; ++c) acc += partial[c * count + j];
    store(dst, j, load(dst, j) + acc);
  }
}

// How the reduced range is cut: `chunks` pieces of `len` terms (the last may be shorter). About 2^17
// threads share the work, each piece has at least 32 terms, and the partials must fit in `scratch`
// floats (else one piece). A function of the shapes alone, so sums are reproducible.
struct ReduceChunks {
  int64_t chunks, len;
};
inline ReduceChunks plan_chunks(const ReduceGeom& g, int64_t scratch_floats) {
  constexpr int64_t kTargetThreads = int64_t(1) << 17, kMinChunk = 32, kMaxChunks = 1024;
  int64_t chunks = (kTargetThreads + g.count - 1) / g.count;
  const int64_t by_len = (g.red_count + kMinChunk - 1) / kMinChunk;
  chunks = chunks < by_len ? chunks : by_len;
  chunks = chunks < kMaxChunks ? chunks : kMaxChunks;
  if (chunks < 1 || chunks * g.count > scratch_floats) chunks = 1;
  const int64_t len = chunks > 1 ? (g.red_count + chunks - 1) / chunks : (g.red_count > 0 ? g.red_count : 1);
  return {chunks > 1 ? (g.red_count + len - 1) / len : 1, len};
}

// dst (g.count) += the reduction, without atomics: chunk partials go to the Exec's workspace and a
// second pass adds them in chunk order. The workspace is shared with cuBLASLt; every user runs on
// ex.stream, so each one finds the previous one finished.
template <class T, class Term>
void bcast_reduce(Exec& ex, const char* kernel, T* dst, const Term& term, const ReduceGeom& g) {
  // Nothing to add when no element was read (a reduced dim of size 0, e.g. bias_backward with N == 0):
  // returning also keeps reduce_one from taking `% 0` over an empty reduced dim.
  if (g.count == 0 || g.red_count == 0) return;
  const ReduceChunks c = plan_chunks(g, static_cast<int64_t>(ex.workspace_bytes / sizeof(float)));
  float* partial = c.chunks > 1 ? static_cast<float*>(ex.workspace) : nullptr;
  dim3 grid(blocks_for(g.count), static_cast<unsigned>(c.chunks));
  bcast_reduce_kernel<<<grid, kThreads, 0, stream_of(ex)>>>(dst, partial, term, g, c.len);
  CUDA_CHECK_LAUNCH(kernel);
  if (partial) {
    bcast_reduce_finish_kernel<<<blocks_for(g.count), kThreads, 0, stream_of(ex)>>>(dst, partial, g.count,
                                                                                    static_cast<int>(c.chunks));
    CUDA_CHECK_LAUNCH(kernel);
  }
}

}  // namespace weft::cuda
