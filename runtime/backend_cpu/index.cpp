// CPU indexing kernels: embedding gather and its scatter-add, row gather / scatter-add (MoE token
// routing), top-k. Scatter-adds parallelise over column blocks and visit rows in order, so they are
// race-free and deterministic. Indices are bounds-checked (an out-of-range id is an error naming it).
#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/kernels.h"

namespace weft::cpu {

namespace {
void check_indices(const char* op, const int32_t* idx, int64_t M, int64_t N) {
  for (int64_t i = 0; i < M; ++i)
    WEFT_CHECK(idx[i] >= 0 && idx[i] < N, "[", op, "] index ", idx[i], " at position ", i, " is outside [0, ", N, ")");
}

template <class T>
void scatter_rows(Exec& ex, T* dst, const T* src, const int32_t* idx, int64_t M, int64_t C) {
#pragma omp parallel for num_threads(threads_for(ex, M * C))
  for (int64_t c0 = 0; c0 < C; c0 += 64) {
    int64_t c1 = std::min(C, c0 + 64);
    for (int64_t i = 0; i < M; ++i) {
      T* d = dst + static_cast<int64_t>(idx[i]) * C;
      const T* s = src + i * C;
      for (int64_t c = c0; c < c1; ++c) d[c] += s[c];
    }
  }
}
}  // namespace

void embedding_forward(Exec& ex, DType dt, void* out, const int32_t* ids, const void* table, int64_t N, int64_t V,
                       int64_t C) {
  check_indices("embedding", ids, N, V);
  gather_rows(ex, dt, out, table, ids, N, V, C, false);
}

void embedding_backward(Exec& ex, DType dt, void* dtable, const void* dout, const int32_t* ids, int64_t N, int64_t V,
                        int64_t C) {
  scatter_add_rows(ex, dt, dtable, dout, ids, N, V, C);
}

void gather_rows(Exec& ex, DType dt, void* out, const void* x, const int32_t* idx, int64_t M, int64_t N, int64_t C,
                 bool accumulate) {
  check_indices("gather_rows", idx, M, N);
  dispatch_float(dt, "gather_rows", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* xp = static_cast<const T*>(x);
#pragma omp parallel for num_threads(threads_for(ex, M * C))
    for (int64_t i = 0; i < M; ++i) {
      const T* s = xp + static_cast<int64_t>(idx[i]) * C;
      if (accumulate)
        for (int64_t c = 0; c < C; ++c) o[i * C + c] += s[c];
      else
        std::memcpy(o + i * C, s, C * sizeof(T));
    }
  });
}

void scatter_add_rows(Exec& ex, DType dt, void* dst, const void* src, const int32_t* idx, int64_t M, int64_t N,
                      int64_t C) {
  check_indices("scatter_add_rows", idx, M, N);
  dispatch_float(dt, "scatter_add_rows", [&](auto tag) {
    using T = decltype(tag);
    scatter_rows(ex, static_cast<T*>(dst), static_cast<const T*>(src), idx, M, C);
  });
}

void topk_forward(Exec& ex, DType dt, void* values, int32_t* indices, const void* x, int64_t N, int64_t C, int64_t K) {
  dispatch_float(dt, "topk_forward", [&](auto tag) {
    using T = decltype(tag);
    T* vals = static_cast<T*>(values);
    const T* xp = static_cast<const T*>(x);
#pragma omp parallel for num_threads(threads_for(ex, N * C))
    for (int64_t r = 0; r < N; ++r) {
      const T* row = xp + r * C;
      std::vector<int32_t> order(C);
      std::iota(order.begin(), order.end(), 0);
      // Largest first; ties keep the lower index first.
      std::partial_sort(order.begin(), order.begin() + K, order.end(),
                        [row](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
      for (int64_t k = 0; k < K; ++k) {
        indices[r * K + k] = order[k];
        vals[r * K + k] = row[order[k]];
      }
    }
  });
}

void topk_backward(Exec& ex, DType dt, void* dx, const void* dvalues, const int32_t* indices, int64_t N, int64_t C,
                   int64_t K) {
  dispatch_float(dt, "topk_backward", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dx);
    const T* dv = static_cast<const T*>(dvalues);
#pragma omp parallel for num_threads(threads_for(ex, N * K))
    for (int64_t r = 0; r < N; ++r)
      for (int64_t k = 0; k < K; ++k) d[r * C + indices[r * K + k]] += dv[r * K + k];
  });
}

}  // namespace weft::cpu
