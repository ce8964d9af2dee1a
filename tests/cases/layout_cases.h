// The layout family's cases. concat (of a, b, a: b has `b_len` along the axis) and split along every axis,
// uneven parts; transpose12 ((A, B, C[, D]) -> (A, C, B[, D]), permute_0213 on the GPU): D <= 4 takes the
// shared-memory tile path (several tiles, partial ones), larger D the row path, vectorised when D is a
// multiple of 4 (f32) / 8 (bf16); rank 3 (D = 1), one element, size-1 dims.
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

// concat and split are strided block copies (copy2d), which the emulator does not check yet (tools/cuda-emu/
// README.md): those cases are the gradient check's and the parity test's.
inline constexpr unsigned kCopy2d = kGradcheck | kParity;

struct ConcatCase {
  Dims a;  // rank 3
  int axis;
  int64_t b_len;
  unsigned runners = kCopy2d;
};

inline constexpr ConcatCase kConcatCases[] = {
    {{3, {3, 7, 5}}, 0, 1}, {{3, {3, 7, 5}}, 1, 1}, {{3, {3, 7, 5}}, 2, 1}, {{3, {3, 7, 5}}, -1, 1},
    {{3, {3, 5, 7}}, 0, 4}, {{3, {3, 5, 7}}, 1, 4}, {{3, {3, 5, 7}}, 2, 4},
};

inline std::string describe(const ConcatCase& c) {
  return dims_str(c.a) + format(" axis %ld with %ld", c.axis, c.b_len);
}

struct SplitCase {
  Dims x;
  int axis;
  int64_t sizes[3];  // 0: fewer parts
  unsigned runners = kCopy2d;
};

inline constexpr SplitCase kSplitCases[] = {
    {{3, {7, 9, 33}}, 0, {1, 3, 3}}, {{3, {7, 9, 33}}, 1, {2, 7, 0}}, {{3, {7, 9, 33}}, 2, {1, 32, 0}},
    {{3, {3, 5, 7}}, 1, {2, 3, 0}},
};

inline std::string describe(const SplitCase& c) {
  std::string s = dims_str(c.x) + format(" axis %ld into", c.axis);
  for (int64_t n : c.sizes)
    if (n) s += format(" %ld", n);
  return s;
}

// transpose12 of (A, B, C) (rank 3) or (A, B, C, D).
inline constexpr Dims kTransposeCases[] = {
    {3, {3, 7, 5}},       {4, {2, 3, 7, 4}},  {4, {1, 1, 3, 1}},  {4, {2, 5, 7, 1}},  {4, {2, 5, 7, 3}},
    {4, {1, 70, 45, 1}},  {3, {33, 40, 2}},   {4, {2, 5, 7, 4}},  {4, {2, 5, 7, 5}},  {4, {2, 3, 9, 8}},
    {4, {3, 4, 5, 16}},   {4, {2, 9, 3, 33}}, {4, {1, 1, 1, 1}},  {4, {2, 33, 40, 1}}, {4, {1, 70, 3, 3}},
    {4, {1, 32, 64, 2}},  {4, {2, 3, 5, 8}},  {4, {1, 4, 6, 13}}, {4, {3, 1, 1, 5}},  {4, {2, 9, 4, 16}},
};

}  // namespace weft::cases
