// CUDA GEMM on cuBLASLt: f32 (FP32 compute, no TF32, for parity with the CPU) and bf16 (bf16 in and out,
// FP32 accumulation). Row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T.
// Plans (descriptors, layouts, the heuristic's algorithm) are cached per (cuBLASLt handle, shape,
// pointer alignment): the one process-wide cache of the backend, a handle cache per device that
// exec_destroy empties for its handle. Heuristics therefore run once per shape, not once per call.
// Also the bias kernels of linear layers (bias_add vectorised, bias_backward a deterministic reduction),
// linear_forward, whose bias rides in the GEMM's epilogue (CUBLASLT_EPILOGUE_BIAS), and linear_gelu_forward,
// whose bias and GELU ride there too for bf16 (CUBLASLT_EPILOGUE_GELU_AUX[_BIAS], the pre-activation written
// through the epilogue's aux matrix).
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
  // CUBLASLT_EPILOGUE_DEFAULT, or an epilogue on C^T: *_BIAS adds a bias vector (one value per row of C^T,
  // column of C); GELU_AUX* also writes the GELU's input to an aux matrix laid out as C (ld ldc).
  cublasLtEpilogue_t epilogue;
  uint32_t align_aux;  // bytes, of the aux matrix; 0 without one
  auto tie() const {
    return std::tie(handle, dt, ta, tb, M, N, K, lda, ldb, ldc, stride_a, stride_b, stride_c, batch, align_a,
                    align_b, align_c, epilogue, align_aux);
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

bool has_aux(cublasLtEpilogue_t e) { return e == CUBLASLT_EPILOGUE_GELU_AUX || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS; }

// `aux`: an aux matrix of the key's alignment, for the heuristic (it reads the pointer's alignment, never
// the memory); calls set their own.
GemmPlan build_plan(const GemmKey& k, size_t workspace_bytes, void* aux) {
  const cudaDataType_t type = k.dt == static_cast<int>(DType::bf16) ? CUDA_R_16BF : CUDA_R_32F;
  GemmPlan p;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // Column-major view: the first operand is B^T (N x K), the second A^T (K x M), the result C^T (N x M).
  cublasOperation_t opa = k.tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = k.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
  if (k.epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
    // A bias has C's type (the default bias data type); its pointer is set per call.
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &k.epilogue, sizeof k.epilogue));
  }
  if (has_aux(k.epilogue)) {
    // The aux matrix has C's type (CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE left unset) and C's shape;
    // its leading dimension must be a multiple of 8 and at least C^T's row count (the caller checks).
    const int64_t aux_ld = k.ldc;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &aux_ld, sizeof aux_ld));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
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
  // An aux epilogue the library rejects as a combination (INVALID_VALUE) only means: take the fallback.
  const bool unsupported =
      st == CUBLAS_STATUS_NOT_SUPPORTED || (has_aux(k.epilogue) && st == CUBLAS_STATUS_INVALID_VALUE);
  if (st == CUBLAS_STATUS_SUCCESS && found > 0) {
    p.found = true;
    p.algo = result.algo;
  } else if (st != CUBLAS_STATUS_SUCCESS && !unsupported) {
    destroy_plan(p);
    CUBLAS_CHECK(st);
  }
  return p;
}

const GemmPlan& plan_for(const GemmKey& k, size_t workspace_bytes, void* aux = nullptr) {
  PlanCache& cache = plan_cache();
  std::lock_guard<std::mutex> lock(cache.mu);
  auto it = cache.plans.find(k);
  if (it == cache.plans.end()) it = cache.plans.emplace(k, build_plan(k, workspace_bytes, aux)).first;
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
                   sa, sb, sc, nb, alignment(a, sa * es), alignment(b, sb * es), alignment(c, sc * es),
                   CUBLASLT_EPILOGUE_DEFAULT, 0};
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
                    0, 0, 0, 1, alignment(x, 0), alignment(w, 0), alignment(out, 0), CUBLASLT_EPILOGUE_BIAS, 0};
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

// pre (N, OC) = x (N, C) @ w (OC, C)^T + bias, out = gelu_tanh(pre).
//
// cuBLASLt's GELU: the cuBLAS documentation (cublasLtEpilogue_t, and cublasLt.h of CUDA 13) says only
// "apply GELU point-wise transform to the results (x:=GELU(x))", with no formula and no error bound.
// It does NOT say it differs from the tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) of our
// UnaryOp::gelu_tanh, and users treat it as that form (PyTorch's addmm with a GELU activation,
// aten/src/ATen/native/cuda/Blas.cpp, applies gelu(x, "tanh") where it cannot use the epilogue). So the
// fused output is used for bf16, where the output's rounding (2^-9 relative) dominates whatever tanh the
// library evaluates. f32 keeps its CPU parity at 1e-4 relative, which an undocumented (possibly
// hardware-approximate) tanh cannot be relied on to meet: for f32 only the bias is fused (linear_forward),
// then our unary kernel, until a GPU run shows the epilogue meets the f32 tolerance (then set kFuseGeluF32).
//
// Fused path (bf16, or f32 with kFuseGeluF32): one cuBLASLt call with CUBLASLT_EPILOGUE_GELU_AUX_BIAS
// (GELU_AUX without a bias): pre, the GELU's input after the bias, goes to the aux matrix (C's type), and
// out = GELU(pre); both come from the float accumulator, each rounded once. The unfused path rounds pre first,
// then applies the GELU: bf16 results may differ by one rounding, within bf16 tolerance; the backward
// always differentiates our gelu_tanh at the stored pre. Requirements (cublasLt.h): the aux leading
// dimension, OC here, a multiple of 8 and >= OC; pre 16-byte aligned (the heuristic checks the pointer's
// alignment); a bias 16-byte aligned as in linear_forward. Otherwise, with C == 0, or with no algorithm
// for the epilogue: linear_forward into pre, then unary_forward(gelu_tanh) into out.
void linear_gelu_forward(Exec& ex, DType dt, void* out, void* pre, const void* x, const void* w, const void* bias,
                         int64_t N, int64_t C, int64_t OC) {
  WEFT_CHECK(dt == DType::f32 || dt == DType::bf16, "[cuda::linear_gelu_forward] unsupported dtype ",
             dtype_name(dt), " (f32 or bf16 on CUDA)");
  if (N == 0 || OC == 0) return;
  constexpr bool kFuseGeluF32 = false;
  const bool fuse = (dt == DType::bf16 || kFuseGeluF32) && C > 0 && OC % 8 == 0 && alignment(pre, 0) >= 16 &&
                    (!bias || alignment(bias, 0) >= 16);
  if (fuse) {
    // Column-major view as in linear_forward: C^T (OC x N), ld OC; the aux matrix pre^T has the same layout.
    const cublasLtEpilogue_t epilogue = bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
    const GemmKey k{reinterpret_cast<uintptr_t>(blaslt_of(ex)), static_cast<int>(dt), false, true, N, OC, C, C, C, OC,
                    0, 0, 0, 1, alignment(x, 0), alignment(w, 0), alignment(out, 0), epilogue, alignment(pre, 0)};
    const GemmPlan& p = plan_for(k, ex.workspace_bytes, pre);
    if (p.found) {
      const float alpha = 1.0f, beta = 0.0f;
      // The bias and aux pointers live in the cached descriptor: set them and enqueue under the cache's
      // lock, as linear_forward does.
      PlanCache& cache = plan_cache();
      std::lock_guard<std::mutex> lock(cache.mu);
      if (bias)
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
      CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &pre, sizeof pre));
      CUBLAS_CHECK(cublasLtMatmul(blaslt_of(ex), p.desc, &alpha, w, p.a, x, p.b, &beta, out, p.c, out, p.c, &p.algo,
                                  ex.workspace, ex.workspace_bytes, stream_of(ex)));
      return;
    }
  }
  linear_forward(ex, dt, pre, x, w, bias, N, C, OC);
  unary_forward(ex, dt, UnaryOp::gelu_tanh, out, pre, N * OC);
}

}  // namespace weft::cuda
