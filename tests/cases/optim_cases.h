// The optim family's cases: adamw_update (f32 moments; f32 or bf16 parameters and gradients) with and
// without weight decay, scaled (clipped) gradients, one element, lengths around the 4- / 8-wide packs, a
// length past a block, a million elements, aligned and misaligned; sum_squares (the gradient norm) of
// nothing, one element, lengths around a block of 256, lengths past one sweep of the capped grid. The
// AdamW cases also run adamw_update_ranges (multi-tensor AdamW) with the table of decay_ranges_for(n).
#pragma once

#include <algorithm>
#include <vector>

#include "tests/cases/case_table.h"

namespace weft::cases {

// An optimizer step and a norm have no gradient: the family has no gradient check.
inline constexpr unsigned kNoGradient = kParity | kEmu;
// A million elements take minutes on the emulator (one fiber per thread); 300000 already wraps the grid.
inline constexpr unsigned kHuge = kParity;

struct AdamCase {
  int64_t n;
  float weight_decay, grad_scale;
  int shift;  // 0: vectorised path; 1: scalar fallback
  unsigned runners = kNoGradient;
};

inline constexpr AdamCase kAdamCases[] = {
    {1, 0.0f, 1.0f, 0},     {37, 0.1f, 0.5f, 0},    {37, 0.0f, 0.25f, 1},   {4099, 0.1f, 1.0f, 1},
    {(1 << 20) + 3, 0.1f, 0.7f, 0, kHuge},
    {1, 0.1f, 0.5f, 0},     {1, 0.1f, 0.5f, 1},     {3, 0.1f, 0.5f, 0},     {3, 0.1f, 0.5f, 1},
    {4, 0.1f, 0.5f, 0},     {4, 0.1f, 0.5f, 1},     {7, 0.1f, 0.5f, 0},     {7, 0.1f, 0.5f, 1},
    {8, 0.1f, 0.5f, 0},     {8, 0.1f, 0.5f, 1},     {1000, 0.1f, 0.5f, 0},  {1000, 0.1f, 0.5f, 1},
    {1029, 0.1f, 0.5f, 0},  {1029, 0.1f, 0.5f, 1},
};

inline std::string describe(const AdamCase& c) {
  return format("n %ld wd %ld%% grad scale %ld%%", c.n, long(c.weight_decay * 100 + 0.5f),
                long(c.grad_scale * 100 + 0.5f)) +
         misaligned_tag(c.shift);
}

// Multi-tensor AdamW's decay table for a case of length n: runs that decay and gaps that do not, their
// lengths growing threefold ([1, 6), [9, 24), [33, 78), ...; the last one clipped to n), so boundaries fall
// inside 4- and 8-wide packs and long ranges cross blocks. Element 0 never decays.
inline std::vector<int64_t> decay_ranges_for(int64_t n) {
  std::vector<int64_t> r;
  for (int64_t begin = 1, len = 5; begin < n; len *= 3) {
    r.push_back(begin);
    r.push_back(std::min(n, begin + len));
    begin += len + (len * 3) / 5;
  }
  return r;
}

struct SumSquaresCase {
  int64_t n;
  int shift;
  unsigned runners = kNoGradient;
};

inline constexpr SumSquaresCase kSumSquaresCases[] = {
    {0, 0},       {0, 1},       {1, 0},        {1, 1},        {37, 0},      {37, 1},        {255, 0},
    {255, 1},     {256, 0},     {256, 1},      {257, 0},      {257, 1},     {5000, 0},      {5000, 1},
    {300000, 0},  {300000, 1},  {1000000, 0, kHuge},  {1000000, 1, kHuge},  {1000003, 0, kHuge},  {1000003, 1, kHuge},
};

inline std::string describe(const SumSquaresCase& c) { return format("n %ld", c.n) + misaligned_tag(c.shift); }

}  // namespace weft::cases
