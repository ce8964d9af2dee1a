// Row-major f32 and f64 GEMMs on the library runtime/cpu_gemm.h selects: the single place in the CPU backend
// that calls cblas_sgemm / dnnl_sgemm for cpu::gemm. C = alpha op(A) op(B) + beta C, with op(A) (M, K),
// op(B) (K, N), C (M, N); beta = 0 overwrites C (NaNs in it do not propagate) with either library.
#pragma once

#include <cstdint>

#include "runtime/cpu_gemm.h"
#include "runtime/exec.h"

namespace weft::cpu {

// lib: onednn or openblas (not auto_select). Threads: the process's OpenMP / BLAS count (cpu_exec); inside an
// OpenMP parallel region both libraries run on the calling thread alone.
void sgemm_row_major(CpuGemm lib, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// The same product with A and B rounded to bf16 (round to nearest even) and multiplied by oneDNN's bf16 kernels
// (AMX or AVX512-BF16) with f32 accumulation; C stays f32 (alpha, beta as above). Needs cpu_bf16_gemm_available();
// the rounding passes use ex's threads (gemm_bf16.cpp).
void sgemm_row_major_bf16(Exec& ex, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// Always OpenBLAS.
void dgemm_row_major(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                     const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

}  // namespace weft::cpu
