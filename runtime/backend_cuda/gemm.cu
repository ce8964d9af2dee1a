// CUDA GEMM on cuBLASLt: f32 (FP32 compute, no TF32, for parity with the CPU) and bf16 (bf16 in and out,
// FP32 accumulation). Row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T.
// Plans (descriptors, layouts, the heuristic's algorithm) are cached per (cuBLASLt handle, shape,
// pointer alignment): the one process-wide cache of the backend, a handle cache per device that
// exec_destroy empties for its handle. Heuristics therefore run once per shape, not once per call.
// Also the bias kernels of linear layers (bias_add vectorised, bias_backward a deterministic reduction)
// and linear_forward, whose bias rides in the GEMM's epilogue (CUBLASLT_EPILOGUE_BIAS).
#include <map>
#include <mutex>
#include <tuple>

#include "runtime/backend_cuda/bcast_reduce.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

struct GemmKey {
  uintptr_t handle;  // the cublasLtHandle_t, as an integer so keys order totally
  int dt;
  bool ta, tb;
  int64_t M, N, K, lda, ldb, ldc, stride_a, stride_b, stride_c, batch;
  uint32_t align_a, align_b, align_c;  // bytes, power of two <= 256
  bool bias;                           // epilogue adds a bias vector (one value per row of C^T, column of C)
  auto tie() const {
    return std::tie(handle, dt, ta, tb, M, N, K, lda, ldb, ldc, stride_a, stride_b, stride_c, batch, align_a,
                    align_b, align_c, bias);
  }
  bool operator<(const GemmKey& o) const { return tie() < o.tie(); }
};

struct GemmPlan {
  bool found = false;  // false: cuBLASLt has no algorithm for this key
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

struct PlanCache {
  std::mutex mu;
  std::map<GemmKey, GemmPlan> plans;  // node-based: references stay valid while other keys are added
};

PlanCache& plan_cache() {
  static PlanCache* cache = new PlanCache;  // never destroyed: an Exec may be released during exit
  return *cache;
}

void destroy_plan(GemmPlan& p) {
  if (p.a) cublasLtMatrixLayoutDestroy(p.a);
  if (p.b) cublasLtMatrixLayoutDestroy(p.b);
  if (p.c) cublasLtMatrixLayoutDestroy(p.c);
  if (p.desc) cublasLtMatmulDescDestroy(p.desc);
  p = GemmPlan{};
}

// Largest power of two (<= 256) dividing the address and, for a strided batch, the stride in bytes.
uint32_t alignment(const void* p, int64_t stride_bytes) {
  uint64_t v = reinterpret_cast<uintptr_t>(p) | static_cast<uint64_t>(stride_bytes) | 256u;
  return static_cast<uint32_t>(v & (~v + 1));
}

cublasLtMatrixLayout_t make_layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld, int64_t batch,
                                   int64_t stride) {
  cublasLtMatrixLayout_t l = nullptr;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld));
  if (batch > 1) {
    int32_t count = static_cast<int32_t>(batch);
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
    CUBLAS_CHECK(
        cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride));
  }
  return l;
}

GemmPlan build_plan(const GemmKey& k, size_t workspace_bytes) {
  const cudaDataType_t type = k.dt == static_cast<int>(DType::bf16) ? CUDA_R_16BF : CUDA_R_32F;
  GemmPlan p;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // Column-major view: the first operand is B^T (N x K), the second A^T (K x M), the result C^T (N x M).
  cublasOperation_t opa = k.tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = k.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
  if (k.bias) {  // the bias has C's type (the default bias data type); its pointer is set per call
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
  }
  p.a = k.tb ? make_layout(type, k.K, k.N, k.ldb, k.batch, k.stride_b)
             : make_layout(type, k.N, k.K, k.ldb, k.batch, k.stride_b);
  p.b = k.ta ? make_layout(type, k.M, k.K, k.lda, k.batch, k.stride_a)
             : make_layout(type, k.K, k.M, k.lda, k.batch, k.stride_a);
  p.c = make_layout(type, k.N, k.M, k.ldc, k.batch, k.stride_c);

  cublasLtMatmulPreference_t pref = nullptr;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &workspace_bytes, sizeof workspace_bytes));
  // cuBLASLt's first operand is our B and its second our A.
  const uint32_t al[4] = {k.align_b, k.align_a, k.align_c, k.align_c};
  const cublasLtMatmulPreferenceAttributes_t which[4] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (int i = 0; i < 4; ++i) CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, which[i], &al[i], sizeof al[i]));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(reinterpret_cast<cublasLtHandle_t>(k.handle), p.desc, p.a, p.b,
                                                     p.c, p.c, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st == CUBLAS_STATUS_SUCCESS && found > 0) {
    p.found = true;
    p.algo = result.algo;
  } else if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED) {
    destroy_plan(p);
    CUBLAS_CHECK(st);
  }
  return p;
}

const GemmPlan& plan_for(const GemmKey& k, size_t workspace_bytes) {
  PlanCache& cache = plan_cache();
  std::lock_guard<std::mutex> lock(cache.mu);
  auto it = cache.plans.find(k);
  if (it == cache.plans.end()) it = cache.plans.emplace(k, build_plan(k, workspace_bytes)).first;
  return it->second;
}

// C = beta * C for every batch (the K == 0 case, which cuBLASLt does not take).
template <class T>
__global__ void scale_matrix_kernel(T* C, int64_t M, int64_t N, int64_t ldc, int64_t stride_c, int64_t batch,
                                    float beta) {
  WEFT_CUDA_FOR(i, batch * M * N) {
    int64_t bi = i / (M * N), r = (i / N) % M, col = i % N;
    int64_t off = bi * stride_c + r * ldc + col;
    store(C, off, beta == 0.0f ? 0.0f : beta * load(C, off));
  }
}

}  // namespace

void release_gemm_plans(cublasLtHandle_t handle) {
  PlanCache& cache = plan_cache();
  std::lock_guard<std::mutex> lock(cache.mu);
  for (auto it = cache.plans.begin(); it != cache.plans.end();) {
    if (it->first.handle == reinterpret_cast<uintptr_t>(handle)) {
      destroy_plan(it->second);
      it = cache.plans.erase(it);
    } else {
      ++it;
    }
  }
}

void gemm(Exec& ex, DType dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void* A,
          int64_t lda, int64_t stride_a, const void* B, int64_t ldb, int64_t stride_b, float beta, void* C,
          int64_t ldc, int64_t stride_c, int64_t batch) {
  WEFT_CHECK(dt == DType::f32 || dt == DType::bf16, "[cuda::gemm] unsupported dtype ", dtype_name(dt),
             " (f32 or bf16 on CUDA)");
  if (M == 0 || N == 0 || batch == 0) return;
  if (K == 0) {  // C = beta * C
    dispatch_float(dt, "gemm", [&](auto tag) {
      using T = decltype(tag);
      scale_matrix_kernel<<<blocks_for(batch * M * N), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(C), M, N, ldc,
                                                                                     stride_c, batch, beta);
    });
    CUDA_CHECK_LAUNCH("gemm");
    return;
  }
  const int64_t es = static_cast<int64_t>(dtype_size(dt));
  auto key_for = [&](int64_t nb, const void* a, const void* b, const void* c) {
    int64_t sa = nb > 1 ? stride_a : 0, sb = nb > 1 ? stride_b : 0, sc = nb > 1 ? stride_c : 0;
    return GemmKey{reinterpret_cast<uintptr_t>(blaslt_of(ex)), static_cast<int>(dt), ta, tb, M, N, K, lda, ldb, ldc,
                   sa, sb, sc, nb, alignment(a, sa * es), alignment(b, sb * es), alignment(c, sc * es), false};
  };
  const GemmPlan* p = &plan_for(key_for(batch, A, B, C), ex.workspace_bytes);
  if (p->found) {
    CUBLAS_CHECK(cublasLtMatmul(blaslt_of(ex), p->desc, &alpha, B, p->a, A, p->b, &beta, C, p->c, C, p->c, &p->algo,
                                ex.workspace, ex.workspace_bytes, stream_of(ex)));
    return;
  }
  // No batched algorithm (e.g. a zero stride it does not take): one GEMM per batch, same stream.
  WEFT_CHECK(batch > 1, "[cuda::gemm] cuBLASLt has no algorithm for ", dtype_name(dt), " M=", M, " N=", N, " K=", K,
             " lda=", lda, " ldb=", ldb, " ldc=", ldc, (ta ? " A^T" : ""), (tb ? " B^T" : ""));
  // Every batch has the alignment of the batched key, so one plan serves them all.
  GemmKey k1 = key_for(1, A, B, C);
  k1.align_a = alignment(A, stride_a * es);
  k1.align_b = alignment(B, stride_b * es);
  k1.align_c = alignment(C, stride_c * es);
  p = &plan_for(k1, ex.workspace_bytes);
  WEFT_CHECK(p->found, "[cuda::gemm] cuBLASLt has no algorithm for ", dtype_name(dt), " M=", M, " N=", N, " K=", K);
  for (int64_t i = 0; i < batch; ++i) {
    const char* a = static_cast<const char*>(A) + i * stride_a * es;
    const char* b = static_cast<const char*>(B) + i * stride_b * es;
    char* c = static_cast<char*>(C) + i * stride_c * es;
    CUBLAS_CHECK(cublasLtMatmul(blaslt_of(ex), p->desc, &alpha, b, p->a, a, p->b, &beta, c, p->c, c, p->c, &p->algo,
                                ex.workspace, ex.workspace_bytes, stream_of(ex)));
  }
}

// ---- bias

namespace {

template <class T, int V>
__global__ void bias_add_kernel(T* out, const T* bias, int64_t N, int64_t C) {
  // With V > 1, C % V == 0, so a pack never crosses a row and its bias slice is contiguous.
  vec_for<V>(N * C, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    float o[W], b[W];
    load_vec<W>(o, out, i);
    load_vec<W>(b, bias, i % C);
#pragma unroll
    for (int k = 0; k < W; ++k) o[k] += b[k];
    store_vec<W>(out, i, o);
  });
}

template <class T>
struct ColumnTerm {
  const T* dout;
  __host__ __device__ float operator()(const int64_t (&off)[3]) const { return load(dout, off[0]); }
};

}  // namespace

void bias_add(Exec& ex, DType dt, void* out, const void* bias, int64_t N, int64_t C) {
  if (N * C == 0) return;
  dispatch_float(dt, "bias_add", [&](auto tag) {
    using T = decltype(tag);
    constexpr int V = kVec<T>;
    T* o = static_cast<T*>(out);
    const T* b = static_cast<const T*>(bias);
    if (C % V == 0 && all_aligned(16, o, b))
      bias_add_kernel<T, V><<<blocks_for(N * C / V), kThreads, 0, stream_of(ex)>>>(o, b, N, C);
    else
      bias_add_kernel<T, 1><<<blocks_for(N * C), kThreads, 0, stream_of(ex)>>>(o, b, N, C);
  });
  CUDA_CHECK_LAUNCH("bias_add");
}

void bias_backward(Exec& ex, DType dt, void* dbias, const void* dout, int64_t N, int64_t C) {
  if (C == 0) return;
  dispatch_float(dt, "bias_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t dims[2] = {N, C};
    const int64_t strides[2][ReduceGeom::kSlots] = {{C, 0, 0}, {1, 0, 0}};
    const bool reduced[2] = {true, false};
    ReduceGeom g = make_reduce_geom(2, dims, strides, reduced);
    bcast_reduce(ex, "bias_backward", static_cast<T*>(dbias), ColumnTerm<T>{static_cast<const T*>(dout)}, g);
  });
}

// out (N, OC) = x (N, C) @ w (OC, C)^T + bias: one cuBLASLt call with the bias in the epilogue (added to
// the float accumulator, rounded once). Without a bias, with C == 0, a bias not 16-byte aligned, or no
// algorithm for the epilogue: gemm, then bias_add.
void linear_forward(Exec& ex, DType dt, void* out, const void* x, const void* w, const void* bias, int64_t N,
                    int64_t C, int64_t OC) {
  WEFT_CHECK(dt == DType::f32 || dt == DType::bf16, "[cuda::linear_forward] unsupported dtype ", dtype_name(dt),
             " (f32 or bf16 on CUDA)");
  if (N == 0 || OC == 0) return;
  if (bias && C > 0 && alignment(bias, 0) >= 16) {
    // Column-major view as in gemm: C^T (OC x N) = w (OC x C, stored (C x OC) transposed) x^T; the bias has
    // one value per row of C^T.
    const GemmKey k{reinterpret_cast<uintptr_t>(blaslt_of(ex)), static_cast<int>(dt), false, true, N, OC, C, C, C, OC,
                    0, 0, 0, 1, alignment(x, 0), alignment(w, 0), alignment(out, 0), true};
    const GemmPlan& p = plan_for(k, ex.workspace_bytes);
    if (p.found) {
      const float alpha = 1.0f, beta = 0.0f;
      // The bias pointer lives in the cached descriptor: set it and enqueue under the cache's lock, so
      // two threads sharing a handle cannot interleave (cublasLtMatmul reads it while enqueueing).
      PlanCache& cache = plan_cache();
      std::lock_guard<std::mutex> lock(cache.mu);
      CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
      CUBLAS_CHECK(cublasLtMatmul(blaslt_of(ex), p.desc, &alpha, w, p.a, x, p.b, &beta, out, p.c, out, p.c, &p.algo,
                                  ex.workspace, ex.workspace_bytes, stream_of(ex)));
      return;
    }
  }
  gemm(ex, dt, false, true, N, OC, C, 1.0f, x, C, 0, w, C, 0, 0.0f, out, OC, 0, 1);
  if (bias) bias_add(ex, dt, out, bias, N, OC);
}

}  // namespace weft::cuda
