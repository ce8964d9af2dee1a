// The index family's cases. Rows (embedding, gather_rows, scatter_add_rows: a table / source of `rows` rows
// of C, `ids` indices): one of each, odd and vector-friendly widths, one column, few rows with many ids (long
// runs onto one destination row), more rows than ids (rows nobody hits), rank-2 ids for the embedding.
// top-k over the last dim: K = 1, K = C, rows longer than a warp, one column, a long row, ties (lower index
// first).
#pragma once

#include "tests/cases/case_table.h"

namespace weft::cases {

struct RowsCase {
  int64_t lead, rows, ids, C;  // ids (lead, ids) for the embedding (gather / scatter: lead * ids in a row)
  unsigned runners = kAll;
};

inline constexpr RowsCase kRowsCases[] = {
    {1, 1, 1, 1},     {1, 3, 7, 5},     {1, 7, 33, 3},    {1, 3, 33, 7},    {1, 7, 3, 33},    {1, 33, 7, 3},
    {1, 3, 7, 33},    {1, 33, 3, 7},    {1, 7, 5, 3},     {1, 4, 9, 16},    {1, 10, 3, 40},   {1, 6, 40, 130},
    {1, 5, 20, 3},    {1, 7, 50, 130},  {1, 300, 9, 16},  {1, 2, 33, 1},    {1, 5, 111, 33},  {1, 3, 1000, 7},
    {1, 7, 40, 16},   {1, 50, 37, 1},   {1, 1, 1, 5},     {1, 300, 64, 24}, {3, 5, 7, 33},    {3, 9, 37, 20},
};

inline std::string describe(const RowsCase& c) {
  return format("rows %ld ids ", c.rows) + (c.lead > 1 ? format("(%ld, %ld)", c.lead, c.ids) : format("%ld", c.ids)) +
         format(" C %ld", c.C);
}

struct TopkCase {
  int64_t lead, N, C, K;  // x (lead, N, C), or (N, C) when lead == 1
  bool ties;              // inputs with many equal values (parity, emu; the gradient check draws distinct ones:
                          // a tie is not differentiable)
  unsigned runners = kAll;
};

inline constexpr TopkCase kTopkCases[] = {
    {1, 1, 1, 1, false},   {1, 3, 7, 2, false},  {1, 7, 33, 7, false},  {1, 33, 3, 3, false},  {2, 3, 7, 3, false},
    {1, 6, 37, 1, true},   {1, 6, 37, 3, true},  {1, 6, 37, 37, true},  {2, 3, 65, 8, true},   {1, 5, 1, 1, true},
    {1, 1, 1000, 16, true}, {1, 40, 8, 2, true}, {1, 9, 300, 5, false}, {1, 3, 7, 3, false},   {1, 2, 40, 5, false},
    {1, 5, 33, 33, true},  {1, 4, 100, 10, true}, {1, 9, 64, 2, true},  {1, 2, 5, 5, false},
};

inline std::string describe(const TopkCase& c) {
  return (c.lead > 1 ? format("(%ld, %ld, %ld)", c.lead, c.N, c.C) : format("(%ld, %ld)", c.N, c.C)) +
         format(" K %ld", c.K) + (c.ties ? " ties" : "");
}

}  // namespace weft::cases
