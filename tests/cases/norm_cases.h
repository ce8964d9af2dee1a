// The norm family's cases (layernorm, rmsnorm over the last dim): row counts that leave a block of warp
// teams partly empty, one element, odd lengths (scalar loads), multiples of 8 (16-byte vectors), warp
// teams (C <= 1024) and block teams (C > 1024), many rows (long column sums for dweight / dbias), and
// misaligned buffers. Every shape runs with every affine option (rmsnorm has no bias).
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

struct NormCase {
  int64_t lead, N, C;  // x is (lead, N, C), or (N, C) when lead == 1; N * lead rows in the kernels
  int shift = 0;       // elements off 16-byte alignment (emu only)
  unsigned runners = kAll;
};

enum class Affine { none, weight, bias, weight_bias };
inline constexpr Affine kAffines[] = {Affine::none, Affine::weight, Affine::bias, Affine::weight_bias};
inline bool has_weight(Affine a) { return a == Affine::weight || a == Affine::weight_bias; }
inline bool has_bias(Affine a) { return a == Affine::bias || a == Affine::weight_bias; }
inline const char* affine_name(Affine a) {
  return has_weight(a) ? (has_bias(a) ? "wb" : "w-") : (has_bias(a) ? "-b" : "--");
}

inline constexpr NormCase kNormCases[] = {
    {1, 1, 1},    {1, 3, 7},     {1, 7, 3},     {2, 3, 33},    {1, 5, 32},    {1, 9, 40},   {1, 9, 40, 1},
    {1, 100, 7},  {1, 17, 1000}, {1, 3, 1024},  {1, 2, 1025},  {1, 3, 2056},  {1, 3, 2056, 1},
    {1, 70, 33},  {1, 2, 4099},  {1, 17, 1},    {1, 17, 37},   {1, 17, 64},   {1, 17, 769}, {1, 3, 1032},
    {1, 3, 5000}, {1, 3, 5001},  {4, 16, 37},   {4, 16, 1032},
};

inline std::string describe(const NormCase& c) {
  return (c.lead > 1 ? format("(%ld, %ld, %ld)", c.lead, c.N, c.C) : format("(%ld, %ld)", c.N, c.C)) +
         misaligned_tag(c.shift);
}

}  // namespace weft::cases
