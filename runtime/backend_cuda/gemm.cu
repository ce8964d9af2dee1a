// CUDA GEMM on cuBLASLt: f32 (FP32 compute, no TF32, for parity with the CPU) and bf16 (bf16 in and out,
// FP32 accumulation). Row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T.
// Plans are cached per shape in the Exec's CublasLtContext. Also the bias kernels.
#include "runtime/backend_cuda/cublaslt_context.h"
#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

CublasLtContext::CublasLtContext() { CUBLAS_CHECK(cublasLtCreate(&handle)); }

CublasLtContext::~CublasLtContext() {
  for (auto& [key, p] : plans) {
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatrixLayoutDestroy(p.b);
    cublasLtMatrixLayoutDestroy(p.c);
    cublasLtMatmulDescDestroy(p.desc);
  }
  cublasLtDestroy(handle);
}

namespace {

cublasLtMatrixLayout_t make_layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld, int64_t batch,
                                   int64_t stride) {
  cublasLtMatrixLayout_t l;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, type, rows, cols, ld));
  if (batch > 1) {
    int32_t count = static_cast<int32_t>(batch);
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
    CUBLAS_CHECK(
        cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride));
  }
  return l;
}

const GemmPlan& plan_for(Exec& ex, const GemmKey& k) {
  auto* ctx = static_cast<CublasLtContext*>(ex.blaslt);
  auto it = ctx->plans.find(k);
  if (it != ctx->plans.end()) return it->second;
  const cudaDataType_t type = k.dt == static_cast<int>(DType::bf16) ? CUDA_R_16BF : CUDA_R_32F;
  GemmPlan p;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // Column-major view: A' = B (m = N rows of C^T), B' = A.
  cublasOperation_t opa = k.tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = k.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
  p.a = k.tb ? make_layout(type, k.K, k.N, k.ldb, k.batch, k.stride_b) : make_layout(type, k.N, k.K, k.ldb, k.batch, k.stride_b);
  p.b = k.ta ? make_layout(type, k.M, k.K, k.lda, k.batch, k.stride_a) : make_layout(type, k.K, k.M, k.lda, k.batch, k.stride_a);
  p.c = make_layout(type, k.N, k.M, k.ldc, k.batch, k.stride_c);
  cublasLtMatmulPreference_t pref;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &ex.workspace_bytes, sizeof ex.workspace_bytes));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(ctx->handle, p.desc, p.a, p.b, p.c, p.c, pref, 1, &result, &found));
  cublasLtMatmulPreferenceDestroy(pref);
  WEFT_CHECK(found > 0, "[cuda::gemm] cuBLASLt has no algorithm for M=", k.M, " N=", k.N, " K=", k.K);
  p.algo = result.algo;
  return ctx->plans.emplace(k, p).first->second;
}

}  // namespace

void gemm(Exec& ex, DType dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void* A,
          int64_t lda, int64_t stride_a, const void* B, int64_t ldb, int64_t stride_b, float beta, void* C,
          int64_t ldc, int64_t stride_c, int64_t batch) {
  WEFT_CHECK(dt == DType::f32 || dt == DType::bf16, "[cuda::gemm] unsupported dtype ", dtype_name(dt));
  if (M == 0 || N == 0) return;
  GemmKey key{static_cast<int>(dt), ta, tb, M, N, K, lda, ldb, ldc, stride_a, stride_b, stride_c, batch};
  const GemmPlan& p = plan_for(ex, key);
  auto* ctx = static_cast<CublasLtContext*>(ex.blaslt);
  CUBLAS_CHECK(cublasLtMatmul(ctx->handle, p.desc, &alpha, B, p.a, A, p.b, &beta, C, p.c, C, p.c, &p.algo,
                              ex.workspace, ex.workspace_bytes, stream_of(ex)));
}

namespace {

template <class T>
__global__ void bias_add_kernel(T* out, const T* bias, int64_t N, int64_t C) {
  WEFT_CUDA_FOR(i, N * C) store(out, i, load(out, i) + load(bias, i % C));
}

// One thread per column sums its rows in order: deterministic.
template <class T>
__global__ void bias_backward_kernel(T* dbias, const T* dout, int64_t N, int64_t C) {
  WEFT_CUDA_FOR(c, C) {
    float s = 0.0f;
    for (int64_t r = 0; r < N; ++r) s += load(dout, r * C + c);
    store(dbias, c, load(dbias, c) + s);
  }
}

}  // namespace

void bias_add(Exec& ex, DType dt, void* out, const void* bias, int64_t N, int64_t C) {
  dispatch_float(dt, "bias_add", [&](auto tag) {
    using T = decltype(tag);
    bias_add_kernel<<<blocks_for(N * C), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(out),
                                                                        static_cast<const T*>(bias), N, C);
  });
  CUDA_CHECK_LAUNCH("bias_add");
}

void bias_backward(Exec& ex, DType dt, void* dbias, const void* dout, int64_t N, int64_t C) {
  dispatch_float(dt, "bias_backward", [&](auto tag) {
    using T = decltype(tag);
    bias_backward_kernel<<<blocks_for(C), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(dbias),
                                                                         static_cast<const T*>(dout), N, C);
  });
  CUDA_CHECK_LAUNCH("bias_backward");
}

}  // namespace weft::cuda
