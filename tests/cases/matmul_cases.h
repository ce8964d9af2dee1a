// The matmul family's cases. matmul: every transpose combination, batched (both operands with a batch),
// shared B (a 2-D B for a batched A; with A transposed a strided batch with a zero stride), one row against
// a long B, odd sizes that put batch matrices at addresses only 4-byte (f32) or 2-byte (bf16) aligned, and
// a larger product (K = 130). linear and linear_gelu (x (N, C) or (lead, N, C), weight (OC, C)): one
// element, odd widths, OC a multiple of 8 (cuBLASLt's GELU_AUX[_BIAS] epilogue for bf16) and not, many rows
// (a long bias reduction), a 3-D input; every case with and without bias.
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

// gemm, bias and the fused epilogues run on cuBLASLt, which the emulator does not run (tools/cuda-emu/
// README.md, "What it cannot show"): the family has no emulator check.
inline constexpr unsigned kCublas = kGradcheck | kParity;

struct MatmulCase {
  Dims a, b;
  bool ta, tb;
  unsigned runners = kCublas;
};

inline constexpr MatmulCase kMatmulCases[] = {
    {{2, {3, 7}}, {2, {7, 5}}, false, false},         {{2, {7, 3}}, {2, {7, 5}}, true, false},
    {{2, {3, 7}}, {2, {5, 7}}, false, true},          {{2, {7, 3}}, {2, {5, 7}}, true, true},
    {{2, {1, 1}}, {2, {1, 33}}, false, false},        {{3, {2, 3, 7}}, {3, {2, 7, 5}}, false, false},   // batched
    {{3, {2, 7, 3}}, {3, {2, 5, 7}}, true, true},     {{3, {2, 33, 17}}, {3, {2, 17, 9}}, false, false},  // batched
    {{4, {2, 3, 3, 7}}, {2, {7, 5}}, false, false},   {{4, {2, 3, 3, 7}}, {2, {5, 7}}, false, true},     // shared B
    {{3, {3, 7, 3}}, {2, {7, 5}}, true, false},       {{3, {3, 7, 3}}, {2, {5, 7}}, true, true},         // shared B
    {{2, {65, 130}}, {2, {130, 72}}, false, false},
};

inline std::string describe(const MatmulCase& c) {
  return dims_str(c.a) + (c.ta ? "^T" : "") + " @ " + dims_str(c.b) + (c.tb ? "^T" : "");
}

struct LinearCase {
  int64_t lead, N, C, OC;  // x (lead, N, C), or (N, C) when lead == 1
  unsigned runners = kCublas;
};

inline constexpr bool kLinearBias[] = {true, false};

inline constexpr LinearCase kLinearCases[] = {
    {1, 1, 1, 1},   {1, 3, 7, 5},    {1, 33, 3, 7},   {1, 5, 4, 8},    {1, 1, 5, 8},     {2, 3, 7, 5},
    {1, 37, 33, 65}, {1, 37, 33, 64}, {1, 64, 96, 80}, {1, 130, 7, 3}, {1, 131, 96, 24}, {1, 300, 40, 24},
};

inline std::string describe(const LinearCase& c, bool bias) {
  return (c.lead > 1 ? format("x (%ld, %ld, %ld)", c.lead, c.N, c.C) : format("x (%ld, %ld)", c.N, c.C)) +
         format(" OC %ld", c.OC) + (bias ? " bias" : " no bias");
}

}  // namespace weft::cases
