// Case tables: the shapes, dtypes and options of an op family's tests, written once in
// tests/cases/<family>_cases.h and run by three runners (ggml's test-backend-ops: one list, several modes):
//   gradcheck  tests/ops/test_<family>.cpp            fp64 central differences on the CPU (label gradcheck)
//   parity     tests/parity/test_parity_<family>.cpp  CPU f32 vs CUDA f32 / bf16 (label parity; SKIPPED
//                                                     without a GPU)
//   emu        tools/cuda-emu/check_<family>.cpp      the CUDA kernel sources on the host emulator vs the
//                                                     CPU twins (run.sh; smoke in CTest, label emu)
// A case runs in every runner unless its `runners` mask leaves one out, with the reason beside it (for
// example a shape too large for fp64 finite differences). Tolerances and input generation belong to the
// runners; a table holds only plain data, so the emulator includes it without GoogleTest or the graph.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace weft::cases {

enum Runner : unsigned { kGradcheck = 1u, kParity = 2u, kEmu = 4u, kAll = 7u };

inline bool runs_in(unsigned runners, Runner r) { return (runners & r) != 0; }

// The dtypes the parity and emu runners sweep for every case (the gradient check runs f64).
enum class Precision { f32, bf16 };
inline constexpr Precision kPrecisions[] = {Precision::f32, Precision::bf16};
inline const char* precision_name(Precision p) { return p == Precision::f32 ? "f32" : "bf16"; }

// " misaligned" for kernel-level cases whose buffers sit one element off 16-byte alignment (the scalar
// fallbacks of vectorised kernels). Only the emulator places buffers itself: the op-level runners get
// 64-byte aligned arena tensors, so they skip such a case (its aligned twin is in the same table).
inline const char* misaligned_tag(int shift) { return shift ? " misaligned" : ""; }

// A shape of up to 4 dims as plain data ({2, {3, 7}} is (3, 7)); op-level runners turn it into a Shape with
// Shape::from(d.d, d.d + d.rank).
struct Dims {
  int rank = 0;
  int64_t d[4] = {};
  constexpr int64_t operator[](int i) const { return d[i < 0 ? rank + i : i]; }
  constexpr int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= d[i];
    return n;
  }
};

inline std::string format(const char* fmt, long a, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, fmt, a, b, c, d, e, f);
  return buf;
}

inline std::string dims_str(const Dims& d) {
  std::string s = "(";
  for (int i = 0; i < d.rank; ++i) s += (i ? ", " : "") + std::to_string(d.d[i]);
  return s + ")";
}

}  // namespace weft::cases
