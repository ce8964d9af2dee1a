// The pointwise family's cases. Unary activations (every UnaryOp): one element, odd lengths with a tail
// after packs of 4 / 8, a long vector, 2-D shapes, misaligned buffers. Broadcasting add / sub / mul: equal
// shapes, a bias row, a per-row gate, both operands broadcast (outer sums), leading and middle size-1 dims,
// a one-element operand on either side, a reduction long enough to be split in chunks (the gradient of a
// broadcast operand). scale (axpby), swiglu (the scalar path for odd F, 16-byte vectors for F % 8 == 0) and
// dropout (the same Philox mask on every backend; a tail of 3 after packs of 4) on a few shapes each.
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

struct UnaryCase {
  Dims x;
  int shift = 0;  // elements off 16-byte alignment (emu only)
  unsigned runners = kAll;
};

inline constexpr UnaryCase kUnaryCases[] = {
    {{1, {1}}},     {{1, {33}}},       {{1, {37}}},       {{1, {1000}}},    {{2, {3, 7}}}, {{2, {7, 33}}},
    {{2, {9, 40}}}, {{1, {1}}, 1},     {{1, {37}}, 1},    {{1, {1000}}, 1},
};

inline std::string describe(const UnaryCase& c) { return dims_str(c.x) + misaligned_tag(c.shift); }

struct BinaryCase {
  Dims a, b;
  unsigned runners = kAll;
};

inline constexpr BinaryCase kBinaryCases[] = {
    {{2, {3, 7}}, {2, {3, 7}}},          {{1, {1}}, {1, {1}}},                {{2, {3, 7}}, {1, {7}}},
    {{2, {3, 7}}, {2, {3, 1}}},          {{2, {3, 1}}, {2, {1, 7}}},          {{3, {2, 3, 33}}, {3, {1, 3, 1}}},
    {{1, {7}}, {3, {2, 3, 7}}},          {{2, {7, 33}}, {2, {7, 33}}},        {{2, {7, 33}}, {1, {33}}},
    {{2, {7, 33}}, {2, {7, 1}}},         {{3, {3, 1, 5}}, {3, {1, 4, 5}}},    {{4, {2, 3, 4, 5}}, {3, {3, 1, 5}}},
    {{1, {1}}, {2, {7, 33}}},            {{2, {512, 64}}, {1, {64}}},         {{3, {33, 2, 7}}, {3, {33, 1, 1}}},
    {{3, {2, 3, 5}}, {3, {2, 3, 5}}},    {{3, {2, 3, 5}}, {3, {1, 3, 1}}},    {{3, {4, 1, 7}}, {3, {1, 9, 7}}},
    {{3, {3, 70, 33}}, {3, {1, 1, 1}}},  {{3, {1, 1, 1}}, {3, {5, 40, 9}}},   {{3, {200, 3, 1}}, {3, {200, 1, 8}}},
    {{3, {1, 1, 16}}, {3, {3, 1, 16}}},
};

inline std::string describe(const BinaryCase& c) { return dims_str(c.a) + " with " + dims_str(c.b); }

// scale (y = alpha x: axpby with beta 0; its backward accumulates with beta 1).
inline constexpr Dims kScaleCases[] = {{2, {3, 7}}, {2, {5, 37}}, {1, {1}}, {1, {1029}}};

// swiglu: x (..., 2F) -> (..., F).
inline constexpr Dims kSwigluCases[] = {{2, {1, 2}}, {2, {3, 14}}, {3, {2, 3, 66}}, {2, {7, 66}}, {3, {4, 3, 32}}};

struct DropoutCase {
  Dims x;
  float p;
  unsigned runners = kAll;
};

inline constexpr DropoutCase kDropoutCases[] = {
    {{2, {7, 33}}, 0.1f}, {{2, {7, 33}}, 0.3f}, {{2, {7, 33}}, 0.5f},
    {{2, {64, 48}}, 0.1f}, {{2, {64, 48}}, 0.3f}, {{2, {64, 48}}, 0.5f},
};

inline std::string describe(const DropoutCase& c) { return dims_str(c.x) + format(" p %ld%%", long(c.p * 100 + 0.5f)); }

}  // namespace weft::cases
