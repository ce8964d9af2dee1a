// The optim family's cases: adamw_update (f32 moments; f32 or bf16 parameters and gradients) with and
// without weight decay, scaled (clipped) gradients, one element, lengths around the 4- / 8-wide packs, a
// length past a block, a million elements, aligned and misaligned; sum_squares (the gradient norm) of
// nothing, one element, lengths around a block of 256, lengths past one sweep of the capped grid.
#pragma once

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
