// The library behind the CPU backend's f32 GEMMs (cpu::gemm): oneDNN, whose JIT kernels follow the CPU's
// features (AVX-512 where present) whatever OPENBLAS_CORETYPE or ONEDNN_MAX_CPU_ISA say, or OpenBLAS, whose
// kernels follow OPENBLAS_CORETYPE and its own CPU table (0.3.21 knows neither Zen 5 nor Emerald Rapids by
// name). f64 GEMMs (the gradient checks) always run on OpenBLAS; oneDNN has none. docs/cpu-blas.md.
// The choice is process-wide, like the BLAS thread count cpu_exec() sets: Execs are copied and made ad hoc
// (sampling's one-thread Exec, host_exec()), and one run must not mix libraries (their f32 roundings differ).
// Both libraries run on weft's OpenMP pool with the thread count cpu_exec() set (--threads).
#pragma once

#include <string>

namespace weft {

enum class CpuGemm {
  auto_select,  // oneDNN where this build has it and it JITs AVX2 or wider kernels on this CPU, else OpenBLAS
  onednn,
  openblas,
};

CpuGemm parse_cpu_gemm(const std::string& name);  // auto | onednn | openblas; anything else: weft::Error
const char* cpu_gemm_name(CpuGemm lib);          // the flag spelling
bool cpu_gemm_available(CpuGemm lib);            // onednn: this build has it (WEFT_ONEDNN); the others: true

// Sets the f32 GEMM library for the rest of the process; auto_select resolves by the rule above (no timing,
// no environment). onednn in a build without it throws weft::Error naming --cpu-gemm.
void set_cpu_gemm(CpuGemm lib);
CpuGemm cpu_gemm();  // the library in use, never auto_select (auto_select until set_cpu_gemm is called)

// For reports: "onednn 2.6.3 (avx512_core_bf16 kernels)" or "openblas 0.3.21 (Haswell kernels)".
std::string cpu_gemm_description(CpuGemm lib);

// bf16 GEMMs on the CPU (Exec::cpu_bf16_gemm, --dtype bf16 on the CPU): this build has oneDNN and oneDNN finds
// bf16 instructions on this CPU (AVX512-BF16 or AMX; without them it would emulate bf16 more slowly than f32).
// When not, *why (if given) says what is missing, e.g. "oneDNN sees avx2 on this CPU".
bool cpu_bf16_gemm_available(std::string* why = nullptr);

}  // namespace weft
