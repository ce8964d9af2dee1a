// The softmax family's cases (softmax over the last dim): one element, size-1 dims in front and behind,
// odd lengths (scalar loads), multiples of 8 (16-byte vectors), warp teams (C <= 1024) and block teams
// (C > 1024), row counts that leave a block partly empty, misaligned buffers. Every shape runs with plain
// inputs and with masked ones (large logits, -inf entries as for masked positions, never a whole row).
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

struct SoftmaxCase {
  int64_t lead, N, C;  // x is (lead, N, C), or (N, C) when lead == 1
  int shift = 0;       // elements off 16-byte alignment (emu only)
  unsigned runners = kAll;
};

inline constexpr bool kSoftmaxMasked[] = {false, true};

// Masked inputs: logits in [-40, 40) with every third entry after the first of a row set to -inf.
inline bool softmax_masked_out(int64_t i, int64_t C) { return i % C != 0 && i % 3 == 1; }

inline constexpr SoftmaxCase kSoftmaxCases[] = {
    {1, 1, 1},     {1, 3, 7},      {1, 7, 33},    {2, 3, 1},     {3, 1, 7},     {1, 5, 32},   {1, 9, 40},
    {1, 9, 40, 1}, {1, 100, 7},    {1, 17, 1000}, {1, 3, 1024},  {1, 2, 1025},  {1, 3, 2056}, {1, 3, 2056, 1},
    {1, 70, 33},   {1, 2, 4099},   {1, 17, 1},    {1, 17, 37},   {1, 17, 64},   {1, 17, 769}, {1, 3, 1032},
    {1, 3, 5000},  {1, 3, 5001},
};

inline std::string describe(const SoftmaxCase& c, bool masked) {
  return (c.lead > 1 ? format("(%ld, %ld, %ld)", c.lead, c.N, c.C) : format("(%ld, %ld)", c.N, c.C)) +
         misaligned_tag(c.shift) + (masked ? " masked" : "");
}

}  // namespace weft::cases
