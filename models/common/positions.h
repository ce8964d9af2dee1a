// Position schemes shared by the models: ALiBi slopes (incl. non-power-of-two head counts), the
// Sandwich bias table, and sinusoidal absolute embeddings. All computed once, in double precision.
// Specs: ../shared/specs/positions-alibi-sandwich.md (B.1 ALiBi, C.1 Sandwich).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::models {

enum class PositionScheme { none, learned, sinusoidal, rope, alibi, sandwich };
PositionScheme parse_position_scheme(const std::string& name);  // throws naming --position
std::string position_scheme_name(PositionScheme p);

// ALiBi head slopes m_h (h = 1..n): 2^(-8h/n) for powers of two; otherwise the closest power of two c
// gives 2^(-8h/c) for its heads and every other slope of the 2c-head list for the remaining n - c.
std::vector<double> alibi_slopes(int n_heads);

// Sandwich: T[d] = sum_{k=1..dbar/2} cos(d * 10000^(-2k/dbar)) - dbar/2 for d = 0..len-1 (T[0] = 0, T <= 0),
// and per-head scales 1/r_h with r_h = 8h/H (h = 1..H); bias_h(i, j) = T[i - j] / r_h.
std::vector<double> sandwich_table(int dbar, int64_t len);
std::vector<double> sandwich_head_scales(int n_heads);

// Sinusoidal embeddings (T, C): PE[t, 2i] = sin(t / 10000^(2i/C)), PE[t, 2i+1] = cos(t / 10000^(2i/C)).
std::vector<double> sinusoidal_table(int64_t T, int64_t C);

}  // namespace weft::models
