// The f32 GEMM library of the CPU backend (runtime/cpu_gemm.h) and the row-major GEMM calls on it
// (gemm_library.h). oneDNN is optional (WEFT_ONEDNN, set by CMake when libdnnl-dev is found); without it every
// f32 GEMM runs on OpenBLAS. oneDNN's ISA ceiling is set to "all" before its first use, so an inherited
// ONEDNN_MAX_CPU_ISA cannot downgrade the kernels, just as OPENBLAS_CORETYPE cannot reach oneDNN.
#include "runtime/backend_cpu/gemm_library.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "runtime/check.h"

#ifdef WEFT_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

extern "C" char* openblas_get_corename();
extern "C" char* openblas_get_config();

namespace weft {

namespace {

std::atomic<CpuGemm> g_selected{CpuGemm::auto_select};  // the process-wide choice (cpu_gemm.h says why)

#ifdef WEFT_ONEDNN
// The highest ISA oneDNN dispatches to on this CPU, with the environment's ceiling lifted (once, before any
// other oneDNN call; later calls of dnnl_set_max_cpu_isa fail, which is harmless here).
dnnl_cpu_isa_t onednn_isa() {
  static const dnnl_cpu_isa_t isa = [] {
    dnnl_set_max_cpu_isa(dnnl_cpu_isa_all);
    return dnnl_get_effective_cpu_isa();
  }();
  return isa;
}

const char* onednn_isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

// AVX2 or wider: below that oneDNN's f32 GEMM has no JIT kernels worth preferring to OpenBLAS.
bool onednn_has_wide_kernels() {
  return (static_cast<unsigned>(onednn_isa()) & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2;
}
#endif

CpuGemm resolve_auto() {
#ifdef WEFT_ONEDNN
  if (onednn_has_wide_kernels()) return CpuGemm::onednn;
#endif
  return CpuGemm::openblas;
}

}  // namespace

CpuGemm parse_cpu_gemm(const std::string& name) {
  if (name == "auto") return CpuGemm::auto_select;
  if (name == "onednn") return CpuGemm::onednn;
  if (name == "openblas") return CpuGemm::openblas;
  WEFT_FAIL("[--cpu-gemm] must be auto, onednn or openblas, got '", name, "'");
}

const char* cpu_gemm_name(CpuGemm lib) {
  switch (lib) {
    case CpuGemm::auto_select: return "auto";
    case CpuGemm::onednn: return "onednn";
    case CpuGemm::openblas: return "openblas";
  }
  return "?";
}

bool cpu_gemm_available(CpuGemm lib) {
#ifndef WEFT_ONEDNN
  if (lib == CpuGemm::onednn) return false;
#endif
  (void)lib;
  return true;
}

void set_cpu_gemm(CpuGemm lib) {
  WEFT_CHECK(cpu_gemm_available(lib), "[--cpu-gemm] onednn: this weft was built without oneDNN (install "
             "libdnnl-dev and re-run cmake; WEFT_ONEDNN); use auto or openblas");
  g_selected = lib == CpuGemm::auto_select ? resolve_auto() : lib;
}

CpuGemm cpu_gemm() {
  CpuGemm lib = g_selected.load(std::memory_order_relaxed);
  if (lib == CpuGemm::auto_select) {
    lib = resolve_auto();
    g_selected = lib;
  }
  return lib;
}

std::string cpu_gemm_description(CpuGemm lib) {
  if (lib == CpuGemm::auto_select) lib = resolve_auto();
  if (lib == CpuGemm::onednn) {
#ifdef WEFT_ONEDNN
    const dnnl_version_t* v = dnnl_version();
    return "onednn " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
           " (" + onednn_isa_name(onednn_isa()) + " kernels)";
#endif
  }
  std::string config = openblas_get_config();  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
  std::string version = config.rfind("OpenBLAS ", 0) == 0 ? config.substr(9, config.find(' ', 9) - 9) : "";
  return "openblas " + version + " (" + openblas_get_corename() + " kernels)";
}

namespace cpu {

namespace {

#ifdef WEFT_ONEDNN
// oneDNN 2.6's f32 kernels for C = A^T B run at half the square peak when C is tall and narrow (a weight
// gradient dW (OC, C) of a layer with C <= 256 inputs over thousands of rows: the LM head's 4096 x 256 at
// 48-53%), while the same product transposed, C^T (C, OC) = B^T A, runs at 76-82% (bench_step_gemms; at C =
// 768 the transposed form is slower). Such products are computed transposed into scratch and added back.
bool onednn_prefers_transposed(bool ta, bool tb, int64_t M, int64_t N, int64_t K) {
  return ta && !tb && N <= 256 && M >= 2 * N && K >= 1024;
}

// C (M, N) = S^T + beta C for a dense S (N, M), in 32 x 32 tiles; beta 0 does not read C.
void add_transposed(const float* S, int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  constexpr int64_t kTile = 32;
#pragma omp parallel for schedule(static)
  for (int64_t i0 = 0; i0 < M; i0 += kTile)
    for (int64_t j0 = 0; j0 < N; j0 += kTile) {
      const int64_t i1 = std::min(M, i0 + kTile), j1 = std::min(N, j0 + kTile);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j)
          C[i * ldc + j] = beta == 0.0f ? S[j * M + i] : S[j * M + i] + beta * C[i * ldc + j];
    }
}
#endif

// K = 0: C = beta C (beta = 0 overwrites), without asking a library to accept lda = 0.
template <class T>
void scale_only(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

}  // namespace

void sgemm_row_major(CpuGemm lib, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) return scale_only(M, N, beta, C, ldc);
#ifdef WEFT_ONEDNN
  if (lib == CpuGemm::onednn) {
    // oneDNN's OpenMP build takes omp_get_max_threads(), which cpu_exec() set to --threads; inside a parallel
    // region it runs on the calling thread.
    if (onednn_prefers_transposed(ta, tb, M, N, K)) {
      thread_local std::vector<float> scratch;
      scratch.resize(static_cast<size_t>(M * N));
      sgemm_row_major(lib, true, false, N, M, K, alpha, B, ldb, A, lda, 0.0f, scratch.data(), M);  // B^T A
      return add_transposed(scratch.data(), M, N, beta, C, ldc);
    }
    const dnnl_status_t st =
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    WEFT_CHECK(st == dnnl_success, "[cpu::gemm] dnnl_sgemm failed (status ", static_cast<int>(st), ") for ",
               ta ? 'T' : 'N', tb ? 'T' : 'N', " M=", M, " N=", N, " K=", K, " lda=", lda, " ldb=", ldb,
               " ldc=", ldc);
    return;
  }
#endif
  (void)lib;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
              B, ldb, beta, C, ldc);
}

void dgemm_row_major(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                     const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) return scale_only(M, N, beta, C, ldc);
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
              B, ldb, beta, C, ldc);
}

}  // namespace cpu

}  // namespace weft
