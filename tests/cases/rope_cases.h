// The rope family's cases (rotary embedding of (B, T, NH, HS)): whole heads rotated, part of a head (the
// unrotated channels copied), nothing rotated, one position, sequences longer than a block of threads,
// odd head counts and head sizes, and position offsets up to 100000 (angles formed in double).
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

struct RopeCase {
  int64_t B, T, NH, HS, n_rot, pos_offset;
  unsigned runners = kAll;
};

inline constexpr float kRopeBase = 10000.0f;

inline constexpr RopeCase kRopeCases[] = {
    {1, 1, 1, 2, 2, 5},     {2, 7, 3, 8, 8, 5},     {1, 33, 1, 6, 2, 5},       {2, 3, 3, 8, 4, 5},
    {2, 17, 3, 64, 64, 0},  {2, 17, 3, 32, 16, 3},  {1, 130, 3, 96, 32, 0},    {2, 1, 3, 128, 128, 7},
    {2, 9, 5, 10, 4, 0},    {1, 5, 2, 6, 0, 0},     {2, 33, 3, 64, 64, 100000}, {1, 300, 1, 8, 8, 0},
};

inline std::string describe(const RopeCase& c) {
  return format("B%ld T%ld NH%ld HS%ld n_rot %ld offset %ld", c.B, c.T, c.NH, c.HS, c.n_rot, c.pos_offset);
}

}  // namespace weft::cases
