// Linked into every test binary (tests/CMakeLists.txt): WEFT_TEST_CPU_GEMM=onednn|openblas|auto forces the
// CPU f32 GEMM library (runtime/cpu_gemm.h) before any test runs, so the op, gradcheck and model tests can be
// run once per library. Unset: the library weft picks by itself (auto). weft itself reads no such variable:
// the CLI's choice is --cpu-gemm. An unknown or unavailable value ends the binary (exit 2).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "runtime/cpu_gemm.h"

namespace {

struct CpuGemmChoice {
  CpuGemmChoice() {
    const char* value = std::getenv("WEFT_TEST_CPU_GEMM");
    if (!value || !*value) return;
    try {
      weft::set_cpu_gemm(weft::parse_cpu_gemm(value));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "WEFT_TEST_CPU_GEMM=%s: %s\n", value, e.what());
      std::exit(2);
    }
  }
};
const CpuGemmChoice choice;

}  // namespace
