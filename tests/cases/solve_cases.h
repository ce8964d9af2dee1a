// The solve family's cases (spd_solve: X = A^-1 B by Cholesky, A (n, n) = M M^T + n I, B (n, m)): one element,
// odd sizes, more right-hand sides than rows and fewer, one column, sizes past a 64-wide tile.
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

// solve.cu is not wired into the emulator yet (tools/cuda-emu/README.md): no emulator check.
inline constexpr unsigned kNoEmu = kGradcheck | kParity;

struct SolveCase {
  int64_t n, m;
  unsigned runners = kNoEmu;
};

// n >= 70: dA (~1 / n^2 per element, A ~ n) sinks into the central differences' noise of the O(1) objective
// (relative error ~1.3e-6 against the gradient check's 1e-6), and each case takes seconds: parity only.
inline constexpr unsigned kLargeSystem = kParity;

inline constexpr SolveCase kSolveCases[] = {
    {1, 1},  {3, 7},  {7, 3}, {33, 2}, {3, 3},                 {7, 1},                  {33, 7},
    {5, 7},  {33, 1}, {3, 2}, {17, 9}, {70, 300, kLargeSystem}, {130, 65, kLargeSystem},
};

inline std::string describe(const SolveCase& c) { return format("n %ld m %ld", c.n, c.m); }

}  // namespace weft::cases
