// The xent family's cases (fused cross-entropy over (N, V) logits): one row, one class, odd vocabularies
// (scalar loads), multiples of 8 (16-byte vectors), warp teams (V <= 1024) and block teams, a GPT-2-sized
// vocabulary, misaligned buffers. Every shape runs with ignore_index -100 and with an ignore_index inside
// the vocabulary (0), and with the loss divided by the counted rows or by an explicit normaliser.
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

struct XentCase {
  int64_t N, V;
  int shift = 0;  // elements off 16-byte alignment (emu only)
  unsigned runners = kAll;
};

inline constexpr int32_t kXentIgnoreIndices[] = {-100, 0};
inline constexpr float kXentNormalizers[] = {0.0f, 20.0f};  // 0: divide by the counted rows

// The targets of every runner: every 4th row (from row 2) ignored, every 5th (from row 3) the last class,
// the others spread over the vocabulary by a fixed hash.
inline int32_t xent_target(int64_t row, int64_t V, int32_t ignore_index) {
  if (row % 4 == 2) return ignore_index;
  if (row % 5 == 3) return static_cast<int32_t>(V - 1);
  return static_cast<int32_t>((static_cast<uint64_t>(row) * 2654435761u + 12345u) % static_cast<uint64_t>(V));
}

// Vocabularies above ~2000: probabilities ~1 / V make gradients of ~1e-5 whose central differences of an
// O(1) loss carry relative noise above the gradient check's 1e-6, so only parity and emu run them.
inline constexpr unsigned kLargeVocabulary = kParity | kEmu;

inline constexpr XentCase kXentCases[] = {
    {1, 1},     {3, 7},    {7, 33},   {33, 3},   {5, 32},  {9, 40},   {9, 40, 1}, {100, 7},  {17, 1000},
    {3, 1024},  {2, 1025}, {70, 33},  {17, 1},   {17, 37}, {17, 64},  {17, 769},  {3, 1032},
    {3, 2056, 0, kLargeVocabulary}, {3, 2056, 1, kLargeVocabulary}, {2, 4099, 0, kLargeVocabulary},
    {3, 5000, 0, kLargeVocabulary}, {3, 5001, 0, kLargeVocabulary}, {4, 50257, 0, kLargeVocabulary},
};

inline std::string describe(const XentCase& c, int32_t ignore_index, float normalizer) {
  return format("N%ld V%ld", c.N, c.V) + misaligned_tag(c.shift) + format(" ignore %ld", ignore_index) +
         (normalizer > 0 ? format(" normalizer %ld", long(normalizer)) : std::string(" by count"));
}

}  // namespace weft::cases
