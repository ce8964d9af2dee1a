// The mix family's cases (ops::causal_mix: y_b = tril(W_T) x_b + bias, W (L, L) shared by every sequence).
// Op level: one position, odd sizes, T = L and T < L (the top-left T x T block of W, leading dimension L),
// sequences longer than a 64-row tile, every case with and without the per-position bias. Kernel level,
// tril_copy: the lower triangle of a T x T block copied (upper triangle zeroed) or accumulated, with leading
// dimensions above T on either side (the columns past T must stay untouched), an empty block.
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

struct MixCase {
  int64_t B, T, C, L;  // x (B, T, C), w (L, L), bias (L)
  unsigned runners = kAll;
};

inline constexpr bool kMixBias[] = {true, false};

// causal_mix composes gemm (cuBLASLt on CUDA, which the emulator does not run) with tril_copy, broadcast_axis
// and reduce_sum: the emulator takes its tril_copy through kTrilCases below, the other kernels through the
// reduce family's table.
inline constexpr unsigned kMixOp = kGradcheck | kParity;

inline constexpr MixCase kMixCases[] = {
    {1, 1, 1, 1, kMixOp},     {2, 5, 3, 5, kMixOp},     {3, 7, 4, 7, kMixOp},    {2, 4, 6, 9, kMixOp},  // T < L
    {1, 13, 2, 13, kMixOp},   {2, 64, 48, 64, kMixOp},  {2, 37, 33, 130, kMixOp},                       // T < L
    {3, 130, 16, 130, kMixOp}, {1, 100, 8, 129, kMixOp},                                              // T < L
};

inline std::string describe(const MixCase& c, bool bias) {
  return format("B%ld T%ld C%ld L%ld", c.B, c.T, c.C, c.L) + (bias ? " bias" : " no bias");
}

// tril_copy(dst, ld_dst, src, ld_src, T, accumulate): every case copies and accumulates, f32 and bf16.
struct TrilCase {
  int64_t T, ld_src, ld_dst;
  unsigned runners = kAll;
};

inline constexpr bool kTrilAccumulate[] = {false, true};

// A kernel without an op of its own: the gradient check reaches it through causal_mix (kMixCases).
inline constexpr unsigned kTrilKernel = kParity | kEmu;

inline constexpr TrilCase kTrilCases[] = {
    {0, 1, 1, kTrilKernel},      {1, 1, 1, kTrilKernel},       {5, 5, 5, kTrilKernel},
    {7, 9, 7, kTrilKernel},      {13, 13, 20, kTrilKernel},    {33, 40, 35, kTrilKernel},
    {64, 64, 64, kTrilKernel},   {100, 129, 130, kTrilKernel}, {130, 130, 130, kTrilKernel},
    {300, 301, 300, kTrilKernel},
};

inline std::string describe(const TrilCase& c, bool accumulate) {
  return format("T%ld ld_src %ld ld_dst %ld", c.T, c.ld_src, c.ld_dst) + (accumulate ? " accumulate" : " copy");
}

}  // namespace weft::cases
