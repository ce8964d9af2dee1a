// The moe family's cases (ops::route_by_expert + ops::grouped_matmul: y[m] = x[m] @ w[expert of m], x (M, C),
// w (E, C, O)). Expert ids by pattern: random (repeated experts, some empty by chance), one expert for every row,
// only even experts (the odd ones empty), descending (every expert, in reverse row order: the sort must move
// every row). Sizes: M = 1, more experts than rows, odd widths, C = 82 (MoEUT's head size, not a multiple of 4
// or 8), expert segments longer than a warp. The ids of a case come from case_experts(), a fixed LCG, so every
// runner routes the same rows the same way.
#pragma once

#include <vector>

#include "tests/cases/case_table.h"

namespace weft::cases {

enum class ExpertIds { random, one, even, descending };

inline const char* expert_ids_name(ExpertIds p) {
  switch (p) {
    case ExpertIds::random: return "random";
    case ExpertIds::one: return "one expert";
    case ExpertIds::even: return "even experts";
    default: return "descending";
  }
}

struct MoeCase {
  int64_t M, C, O, E;  // x (M, C), w (E, C, O), ids (M) in [0, E)
  ExpertIds ids = ExpertIds::random;
  unsigned runners = kAll;
};

// grouped_matmul composes gather_rows, one gemm per expert (cuBLASLt on CUDA, which the emulator does not run)
// and moe_scatter_rows; the emulator takes the route and the scatter of every case (kernel level, check_moe.cpp)
// and gather_rows through the index family's table. kMoeRoute: only the route and scatter kernels (sizes too
// large for fp64 finite differences of the whole op).
inline constexpr unsigned kMoeRoute = kParity | kEmu;

inline constexpr MoeCase kMoeCases[] = {
    {1, 3, 2, 1},  // M = 1, one expert
    {1, 4, 5, 6},  // M = 1, five experts empty
    {7, 5, 3, 3},
    {5, 3, 4, 9},  // more experts than rows
    {16, 6, 4, 4, ExpertIds::one},
    {20, 9, 7, 6, ExpertIds::even},
    {12, 4, 3, 5, ExpertIds::descending},
    {33, 82, 17, 5},  // C = 82
    {40, 12, 82, 8, ExpertIds::even},
    {70, 16, 24, 3},  // segments longer than a warp
    {3000, 1, 1, 64, ExpertIds::random, kMoeRoute},
    {2500, 1, 1, 1000, ExpertIds::descending, kMoeRoute},
};

inline std::string describe(const MoeCase& c) {
  return format("M%ld C%ld O%ld E%ld ", c.M, c.C, c.O, c.E) + expert_ids_name(c.ids);
}

// The expert id of every row of a case (M).
inline std::vector<int32_t> case_experts(const MoeCase& c, uint32_t seed = 1) {
  std::vector<int32_t> ids(static_cast<size_t>(c.M));
  uint64_t s = 0x9e3779b97f4a7c15ull * (seed + 1);
  for (int64_t m = 0; m < c.M; ++m) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const int64_t r = static_cast<int64_t>(s >> 33) % c.E;
    switch (c.ids) {
      case ExpertIds::random: ids[m] = static_cast<int32_t>(r); break;
      case ExpertIds::one: ids[m] = static_cast<int32_t>(c.E / 2); break;
      case ExpertIds::even: ids[m] = static_cast<int32_t>(r - r % 2); break;
      case ExpertIds::descending: ids[m] = static_cast<int32_t>((c.M - 1 - m) * c.E / c.M); break;
    }
  }
  return ids;
}

}  // namespace weft::cases
