// The decode-attention cases (runtime/ops/decode.h: new queries against cache rows, forward only): one
// query per item (a sampling step) and prefills of several queries, a block boundary (n > 64), items
// extending cache rows out of order with different lengths, every bias kind, windows, head sizes up to 128
// and above one thread block's width. Item b extends cache row R - 1 - b (B <= R) and holds
// base_len + 5 b positions after the call (decode_lengths).
#pragma once

#include <algorithm>
#include <vector>

#include "tests/cases/case_table.h"

namespace weft::cases {

enum class DecodeBias { none, alibi, table };

struct DecodeCase {
  int64_t B, n, R, L, NH, HS, base_len;
  DecodeBias bias;
  int64_t window;
  unsigned runners = kAll;
};

inline constexpr DecodeCase kDecodeCases[] = {
    {1, 1, 1, 8, 1, 4, 5, DecodeBias::none, 0},     {3, 1, 4, 40, 2, 16, 7, DecodeBias::alibi, 0},
    {2, 3, 3, 32, 3, 8, 9, DecodeBias::table, 0},   {2, 1, 3, 300, 2, 64, 260, DecodeBias::none, 0},
    {2, 70, 2, 160, 2, 32, 75, DecodeBias::alibi, 0}, {3, 2, 5, 64, 2, 16, 20, DecodeBias::table, 6},
    {1, 1, 1, 700, 1, 128, 650, DecodeBias::alibi, 100}, {2, 4, 2, 50, 4, 200, 10, DecodeBias::none, 3},
    {4, 1, 4, 200, 3, 24, 130, DecodeBias::table, 0},
};

inline std::vector<int64_t> decode_rows(const DecodeCase& c) {
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < c.B; ++b) rows.push_back(c.R - 1 - b);
  return rows;
}
inline std::vector<int64_t> decode_lengths(const DecodeCase& c) {  // after the call, <= L
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < c.B; ++b) lengths.push_back(std::min(c.base_len + 5 * b, c.L));
  return lengths;
}

inline std::string describe(const DecodeCase& c) {
  static const char* kinds[] = {"none", "alibi", "table"};
  return format("B%ld n%ld R%ld L%ld NH%ld HS%ld", c.B, c.n, c.R, c.L, c.NH, c.HS) +
         format(" len %ld window %ld bias ", c.base_len, c.window) + kinds[static_cast<int>(c.bias)];
}

}  // namespace weft::cases
