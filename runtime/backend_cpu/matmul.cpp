// CPU GEMM and bias kernels: the matrix products on the library runtime/cpu_gemm.h selects (oneDNN or
// OpenBLAS for f32, OpenBLAS for f64; bf16 products of f32 operands under Exec::cpu_bf16_gemm), OpenMP for the bias; the linear layer forwards (linear_forward,
// linear_gelu_forward) composed of them.
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/backend_cpu/gemm_library.h"
#include "runtime/backend_cpu/vec.h"
#include "runtime/kernels.h"

namespace weft::cpu {

void gemm(Exec& ex, DType dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void* A,
          int64_t lda, int64_t stride_a, const void* B, int64_t ldb, int64_t stride_b, float beta, void* C,
          int64_t ldc, int64_t stride_c, int64_t batch) {
  const CpuGemm lib = cpu_gemm();
  dispatch_float(dt, "gemm", [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < batch; ++i) {
      const T* a = static_cast<const T*>(A) + i * stride_a;
      const T* b = static_cast<const T*>(B) + i * stride_b;
      T* c = static_cast<T*>(C) + i * stride_c;
      if constexpr (std::is_same_v<T, float>) {
        if (ex.cpu_bf16_gemm)  // --dtype bf16 on the CPU: operands rounded to bf16, f32 accumulation
          sgemm_row_major_bf16(ex, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
        else
          sgemm_row_major(lib, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
      }
      else
        dgemm_row_major(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    }
  });
}

void bias_add(Exec& ex, DType dt, void* out, const void* bias, int64_t N, int64_t C) {
  dispatch_float(dt, "bias_add", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* b = static_cast<const T*>(bias);
#pragma omp parallel for num_threads(threads_for(ex, N * C))
    for (int64_t i = 0; i < N; ++i)
      for (int64_t c = 0; c < C; ++c) o[i * C + c] += b[c];
  });
}

void bias_backward(Exec& ex, DType dt, void* dbias, const void* dout, int64_t N, int64_t C) {
  dispatch_float(dt, "bias_backward", [&](auto tag) {
    using T = decltype(tag);
    T* db = static_cast<T*>(dbias);
    const T* d = static_cast<const T*>(dout);
    // Each thread owns a range of columns; rows are summed in order, so results do not depend on
    // the thread count.
#pragma omp parallel for num_threads(threads_for(ex, N * C))
    for (int64_t c0 = 0; c0 < C; c0 += 64) {
      int64_t c1 = c0 + 64 < C ? c0 + 64 : C;
      T acc[64] = {};
      for (int64_t i = 0; i < N; ++i)
        for (int64_t c = c0; c < c1; ++c) acc[c - c0] += d[i * C + c];
      for (int64_t c = c0; c < c1; ++c) db[c] += acc[c - c0];
    }
  });
}

// The forward of a linear layer: the GEMM, then the bias on every row (as ops::linear did before the
// CUDA backend fused the bias into the GEMM's epilogue).
void linear_forward(Exec& ex, DType dt, void* out, const void* x, const void* w, const void* bias, int64_t N,
                    int64_t C, int64_t OC) {
  gemm(ex, dt, false, true, N, OC, C, 1.0f, x, C, 0, w, C, 0, 0.0f, out, OC, 0, 1);
  if (bias) bias_add(ex, dt, out, bias, N, OC);
}

// An MLP up-projection: the GEMM into pre, then the bias and gelu_tanh in one pass over it (f32; the same
// roundings as ops::linear followed by ops::gelu_tanh, so fusing the op changes no bit on the CPU).
void linear_gelu_forward(Exec& ex, DType dt, void* out, void* pre, const void* x, const void* w, const void* bias,
                         int64_t N, int64_t C, int64_t OC) {
  if (dt != DType::f32 || bias == nullptr) {
    linear_forward(ex, dt, pre, x, w, bias, N, C, OC);
    unary_forward(ex, dt, UnaryOp::gelu_tanh, out, pre, N * OC);
    return;
  }
  gemm(ex, dt, false, true, N, OC, C, 1.0f, x, C, 0, w, C, 0, 0.0f, pre, OC, 0, 1);
  float *o = static_cast<float*>(out), *p = static_cast<float*>(pre);
  const float* b = static_cast<const float*>(bias);
#pragma omp parallel for num_threads(threads_for(ex, N * OC))
  for (int64_t i = 0; i < N; ++i) bias_gelu_tanh_f32(o + i * OC, p + i * OC, b, OC);
}

}  // namespace weft::cpu
