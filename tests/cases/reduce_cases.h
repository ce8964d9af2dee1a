// The reduce family's cases: sum and mean over one axis of a rank-1 to rank-3 tensor (on the GPU reduce_sum
// of (outer, len, inner) forward, broadcast_axis backward): every axis with and without keepdim; inner > 1
// (one chunk, and many chunks for few outputs with a long axis), inner == 1 (a warp per row, a block per row
// for len >= 4096), one element, size-1 dims, inner a multiple of the vector width. sum_all: one element, odd
// shapes, a long vector (a tree of partial sums on the GPU).
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

struct ReduceCase {
  Dims x;
  int axis;
  bool keepdim;
  unsigned runners = kAll;
};

// keepdim changes only the output's shape, not the kernel call: the emulator runs the keepdim = false twin.
inline constexpr unsigned kKeepdim = kGradcheck | kParity;
// An empty axis (len 0: the output is alpha * 0, or unchanged when accumulating) exists only at kernel level.
inline constexpr unsigned kEmptyAxis = kEmu;

inline constexpr ReduceCase kReduceCases[] = {
    {{3, {3, 7, 33}}, 0, false},           {{3, {3, 7, 33}}, 1, false},           {{3, {3, 7, 33}}, 2, false},
    {{3, {3, 7, 33}}, -1, false},          {{3, {3, 7, 33}}, 0, true, kKeepdim},  {{3, {3, 7, 33}}, 1, true, kKeepdim},
    {{3, {3, 7, 33}}, 2, true, kKeepdim},  {{3, {3, 7, 33}}, -1, true, kKeepdim}, {{3, {3, 37, 5}}, 0, false},
    {{3, {3, 37, 5}}, 1, true, kKeepdim},  {{3, {3, 37, 5}}, 1, false},           {{3, {3, 37, 5}}, 2, false},
    {{2, {5000, 3}}, 0, false},            {{2, {2, 5000}}, 1, false},            {{3, {1, 9, 7000}}, 1, true, kKeepdim},
    {{3, {1, 9, 7000}}, 1, false},         {{1, {1}}, 0, false},                  {{3, {4, 1, 6}}, 1, false},
    // (outer, len, inner)
    {{3, {1, 1, 1}}, 1, false},   {{3, {3, 7, 1}}, 1, false},    {{3, {5, 100, 1}}, 1, false}, {{3, {9, 33, 1}}, 1, false},
    {{3, {2, 4096, 1}}, 1, false}, {{3, {3, 5000, 1}}, 1, false}, {{3, {4, 37, 3}}, 1, false},  {{3, {2, 300, 5}}, 1, false},
    {{3, {1, 2000, 2}}, 1, false}, {{3, {3, 0, 4}}, 1, false, kEmptyAxis},                     {{3, {2, 64, 8}}, 1, false},
    {{3, {2, 5, 8}}, 1, false},   {{3, {2, 3, 16}}, 1, false},   {{3, {1, 4, 33}}, 1, false},  {{3, {2, 1, 4}}, 1, false},
    {{3, {3, 2, 12}}, 1, false},
};

// (outer, len, inner) of a case: the dims before, at and after the axis.
struct ReduceDims {
  int64_t outer, len, inner;
};
inline ReduceDims reduce_dims(const ReduceCase& c) {
  const int ax = c.axis < 0 ? c.x.rank + c.axis : c.axis;
  ReduceDims r{1, c.x.d[ax], 1};
  for (int i = 0; i < ax; ++i) r.outer *= c.x.d[i];
  for (int i = ax + 1; i < c.x.rank; ++i) r.inner *= c.x.d[i];
  return r;
}

inline std::string describe(const ReduceCase& c) {
  return dims_str(c.x) + format(" axis %ld", c.axis) + (c.keepdim ? " keepdim" : "");
}

// sum_all: reduce_sum of the flattened tensor as one row (outer 1, inner 1).
inline constexpr Dims kSumAllCases[] = {{1, {1}}, {2, {3, 7}}, {3, {33, 1, 3}}, {1, {70001}}};

}  // namespace weft::cases
