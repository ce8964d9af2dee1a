// The attention family's cases (q, k, v (B, T, NH, HS); a causal or full mask; no positional bias, ALiBi
// slopes 2^-(h+1) or a Sandwich-like table -2 log(1 + d) over T + 3 distances). Small shapes (one element,
// odd T, NH, HS, more than one 64-row query block); the CUDA grid: every tile width of the kernels (32, 64,
// 96, 128) as the head size at T 1, 17, 70 and 130 (a partial tile, one tile, two and three tiles, the last
// partial), causal and full, every bias, plus every subset of null gradients (only some of dq, dk, dv
// wanted) at HS 64, T 70, ALiBi; and head sizes the CUDA kernels zero-pad to a tile width (1, 6, 24, 40, 41,
// 82 = MoEUT-44M's, 100) at T 17, 70 and 130, with single-gradient cases at HS 82 and windows at 82, 40,
// 24. Memory cases (kAttentionMemoryCases):
// more keys than queries (Tk = T + mem, query i at key position i + mem, Transformer-XL), small ones for the
// gradient check and CUDA-sized ones whose memory ends inside, at and past a 64-key tile. Window cases
// (kAttentionWindowCases, bias.window = W, causal): W 1, W < T, W >= T, with every bias and with memory.
#pragma once

#include <array>

#include "tests/cases/case_table.h"

namespace weft::cases {

enum class AttnBias { none, alibi, table };  // the order of PositionBias::Kind
inline const char* attn_bias_name(AttnBias b) {
  return b == AttnBias::none ? "none" : b == AttnBias::alibi ? "alibi" : "table";
}

struct AttentionCase {
  int64_t B, T, NH, HS;
  AttnBias bias;
  bool causal;
  int grads = 7;  // bit 0: dq, bit 1: dk, bit 2: dv (the others are null / not differentiable)
  unsigned runners = kAll;
  int64_t mem = 0;  // keys before the queries: k, v are (B, T + mem, NH, HS)
  int64_t window = 0;  // bias.window: keys at distance >= window are masked (0: none)
  int64_t keys() const { return T + mem; }
};

// The small cases run everywhere (CUDA pads their head sizes 1 to 8 to a 32-wide tile).
inline constexpr unsigned kSmallHeads = kAll;
// Central differences of T >= 70 with HS >= 32 take minutes in fp64 (2 x 400 x 3 forward passes per case):
// the gradient check takes the grid's T 1 and 17.
inline constexpr unsigned kLongRows = kParity | kEmu;

inline constexpr AttentionCase kAttentionSmallCases[] = {
    {1, 1, 1, 1, AttnBias::none, true, 7, kSmallHeads},   {2, 3, 3, 4, AttnBias::none, true, 7, kSmallHeads},
    {1, 7, 1, 8, AttnBias::none, false, 7, kSmallHeads},  {2, 33, 1, 1, AttnBias::none, true, 7, kSmallHeads},
    {2, 7, 3, 4, AttnBias::alibi, true, 7, kSmallHeads},  {1, 3, 3, 1, AttnBias::alibi, false, 7, kSmallHeads},
    {1, 33, 1, 4, AttnBias::alibi, true, 7, kSmallHeads}, {1, 1, 3, 4, AttnBias::table, true, 7, kSmallHeads},
    {1, 7, 3, 8, AttnBias::table, true, 7, kSmallHeads},  {2, 3, 1, 1, AttnBias::table, false, 7, kSmallHeads},
    {1, 33, 3, 8, AttnBias::table, false, 7, kSmallHeads},
    // more than one 64-row query block: the blocked causal path and the full key range
    {1, 70, 1, 2, AttnBias::alibi, true, 7, kSmallHeads}, {1, 70, 1, 2, AttnBias::table, false, 7, kSmallHeads},
};

inline constexpr int64_t kAttentionHeadSizes[] = {32, 64, 96, 128};  // the kernels' tile widths
inline constexpr int64_t kAttentionLengths[] = {1, 17, 70, 130};

// The CUDA grid (B 2, NH 3), in the emulator's order: head size, length, mask (full first), bias, and after
// each all-gradient case of HS 64, T 70, ALiBi its six null-gradient subsets.
inline constexpr std::array<AttentionCase, 4 * 4 * 2 * 3 + 2 * 6> attention_grid() {
  std::array<AttentionCase, 4 * 4 * 2 * 3 + 2 * 6> g{};
  size_t n = 0;
  for (int64_t HS : kAttentionHeadSizes)
    for (int64_t T : kAttentionLengths)
      for (bool causal : {false, true})
        for (AttnBias bias : {AttnBias::none, AttnBias::alibi, AttnBias::table}) {
          const unsigned runners = T <= 17 ? kAll : kLongRows;
          g[n++] = {2, T, 3, HS, bias, causal, 7, runners};
          if (HS == 64 && T == 70 && bias == AttnBias::alibi)
            for (int grads = 6; grads >= 1; --grads) g[n++] = {2, T, 3, HS, bias, causal, grads, runners};
        }
  return g;
}
inline constexpr auto kAttentionGridCases = attention_grid();

// Head sizes between and below the tile widths (B 2, NH 3): the CUDA kernels read channels past HS as 0 and
// skip them on stores; 1, 6 and 24 pad to 32, 40 and 41 to 64, 82 to 96, 100 to 128. Each at one tile (T 17)
// and three (T 130, the last partial), causal and full, the biases in rotation; at HS 82 (MoEUT-44M) also T 70
// and each single gradient, so each kernel's padded stores are checked alone; windows (with and without
// memory) at HS 82, 40 and 24.
inline constexpr AttentionCase kAttentionOddHeadCases[] = {
    {2, 17, 3, 1, AttnBias::alibi, true},   {2, 130, 3, 1, AttnBias::table, false, 7, kLongRows},
    {2, 17, 3, 6, AttnBias::table, false},  {2, 130, 3, 6, AttnBias::none, true, 7, kLongRows},
    {2, 17, 3, 41, AttnBias::none, true},   {2, 130, 3, 41, AttnBias::alibi, false, 7, kLongRows},
    {2, 17, 3, 82, AttnBias::alibi, false}, {2, 17, 3, 82, AttnBias::table, true},
    {2, 70, 3, 82, AttnBias::none, true, 7, kLongRows}, {2, 130, 3, 82, AttnBias::alibi, true, 7, kLongRows},
    {2, 70, 3, 82, AttnBias::alibi, true, 1, kLongRows}, {2, 70, 3, 82, AttnBias::alibi, true, 2, kLongRows},
    {2, 70, 3, 82, AttnBias::alibi, true, 4, kLongRows},
    {2, 17, 3, 100, AttnBias::table, true}, {2, 130, 3, 100, AttnBias::none, false, 7, kLongRows},
    // 24 (on 32) and 40 (on 64, 24 zero channels): each bias, causal and full, one tile and three
    {2, 17, 3, 24, AttnBias::table, true},  {2, 130, 3, 24, AttnBias::alibi, true, 7, kLongRows},
    {2, 70, 3, 24, AttnBias::none, false, 7, kLongRows},
    {2, 17, 3, 40, AttnBias::alibi, true},  {2, 130, 3, 40, AttnBias::table, true, 7, kLongRows},
    {2, 70, 3, 40, AttnBias::none, false, 7, kLongRows},
    // windows at padded head sizes (causal): inside a key tile, past one, with memory; ALiBi and the table
    {2, 130, 3, 82, AttnBias::alibi, true, 7, kLongRows, 0, 17},  {2, 130, 3, 82, AttnBias::table, true, 7, kLongRows, 0, 100},
    {2, 70, 3, 82, AttnBias::table, true, 7, kLongRows, 30, 40},  {2, 130, 3, 40, AttnBias::alibi, true, 7, kLongRows, 0, 30},
    {2, 70, 3, 40, AttnBias::table, true, 7, kLongRows, 64, 20},  {2, 130, 3, 24, AttnBias::table, true, 7, kLongRows, 0, 64},
    {2, 70, 3, 24, AttnBias::alibi, true, 7, kLongRows, 5, 9},
};

// Keys before the queries (Tk = T + mem). Gradient-check sizes first (every bias, causal and full, one query,
// one key of memory, a memory longer than the queries, two 64-row query blocks), then the CUDA tiles: head sizes
// 32, 64, 96 and a padded 41; queries 1, 17, 70, 130; memories 5 (inside a key tile), 64 (a tile exactly), 100
// (past one), so a query tile's last key and a key tile's first query straddle tile boundaries; null gradients.
inline constexpr AttentionCase kAttentionMemoryCases[] = {
    {1, 3, 1, 4, AttnBias::none, true, 7, kAll, 2},     {2, 5, 2, 3, AttnBias::alibi, true, 7, kAll, 4},
    {1, 4, 3, 8, AttnBias::table, true, 7, kAll, 5},    {1, 2, 1, 4, AttnBias::none, false, 7, kAll, 3},
    {2, 1, 1, 2, AttnBias::alibi, true, 7, kAll, 6},    {1, 6, 2, 2, AttnBias::table, false, 7, kAll, 1},
    {1, 3, 1, 2, AttnBias::alibi, true, 7, kAll, 70},   {1, 70, 1, 2, AttnBias::table, true, 7, kAll, 9},
    {2, 17, 3, 64, AttnBias::alibi, true, 7, kLongRows, 5},   {2, 17, 3, 64, AttnBias::table, false, 7, kLongRows, 100},
    {2, 70, 3, 64, AttnBias::none, true, 7, kLongRows, 64},   {2, 70, 3, 64, AttnBias::alibi, true, 7, kLongRows, 100},
    {2, 130, 3, 64, AttnBias::table, true, 7, kLongRows, 5},  {2, 1, 3, 64, AttnBias::alibi, true, 7, kLongRows, 130},
    {2, 70, 3, 64, AttnBias::alibi, true, 1, kLongRows, 100}, {2, 70, 3, 64, AttnBias::alibi, true, 2, kLongRows, 100},
    {2, 70, 3, 64, AttnBias::alibi, true, 4, kLongRows, 100}, {2, 17, 3, 32, AttnBias::none, true, 7, kLongRows, 70},
    {2, 130, 3, 96, AttnBias::alibi, true, 7, kLongRows, 30}, {2, 70, 3, 41, AttnBias::table, true, 7, kLongRows, 60},
};

// Windowed attention (PositionBias::window, causal). Gradient-check sizes first: W 1 (each query sees only
// itself), W < T with each bias, W == T and W > T (the same as no window), memories longer and shorter
// than W, two 64-row query blocks (the second block's keys start past 0). Then the CUDA tiles: windows
// inside a 64-key tile (1, 17, 30), exactly one (64) and past one (100), so query tiles skip whole key
// tiles at the start and key tiles skip query tiles at the end; T 200 (four query tiles); memory with a
// window shorter than the memory (key tiles no query sees); a padded head size; null gradients.
inline constexpr AttentionCase kAttentionWindowCases[] = {
    {1, 5, 2, 4, AttnBias::none, true, 7, kAll, 0, 1},    {2, 7, 3, 4, AttnBias::alibi, true, 7, kAll, 0, 3},
    {1, 6, 2, 3, AttnBias::table, true, 7, kAll, 0, 2},   {1, 5, 1, 4, AttnBias::alibi, true, 7, kAll, 0, 5},
    {1, 5, 1, 4, AttnBias::none, true, 7, kAll, 0, 9},    {2, 4, 2, 4, AttnBias::alibi, true, 7, kAll, 3, 2},
    {1, 3, 1, 2, AttnBias::table, true, 7, kAll, 5, 4},   {2, 1, 1, 2, AttnBias::alibi, true, 7, kAll, 6, 3},
    {1, 70, 1, 2, AttnBias::alibi, true, 7, kAll, 0, 10}, {1, 70, 1, 2, AttnBias::none, true, 7, kAll, 9, 66},
    {2, 130, 3, 64, AttnBias::alibi, true, 7, kLongRows, 0, 1},    {2, 130, 3, 64, AttnBias::table, true, 7, kLongRows, 0, 17},
    {2, 200, 3, 32, AttnBias::none, true, 7, kLongRows, 0, 64},    {2, 200, 3, 96, AttnBias::alibi, true, 7, kLongRows, 0, 100},
    {2, 70, 3, 64, AttnBias::table, true, 7, kLongRows, 0, 70},    {2, 70, 3, 64, AttnBias::alibi, true, 7, kLongRows, 100, 30},
    {2, 17, 3, 41, AttnBias::table, true, 7, kLongRows, 64, 20},   {2, 1, 3, 64, AttnBias::alibi, true, 7, kLongRows, 130, 5},
    {2, 130, 3, 64, AttnBias::alibi, true, 1, kLongRows, 0, 17},   {2, 130, 3, 64, AttnBias::alibi, true, 2, kLongRows, 0, 17},
    {2, 130, 3, 64, AttnBias::alibi, true, 4, kLongRows, 0, 17},
};

inline std::string describe(const AttentionCase& c) {
  std::string s = format("B%ld T%ld NH%ld HS%ld ", c.B, c.T, c.NH, c.HS) + attn_bias_name(c.bias) +
                  (c.causal ? " causal" : " full");
  if (c.mem) s += format(" mem%ld", c.mem);
  if (c.window) s += format(" window%ld", c.window);
  const char* names[3] = {"dq", "dk", "dv"};
  if (c.grads != 7)
    for (int i = 0; i < 3; ++i)
      if (c.grads >> i & 1) s += std::string(" ") + names[i];
  return s;
}

}  // namespace weft::cases
