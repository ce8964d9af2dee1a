// SVG plots of token-norm diagnostics (`weft analyze norms --plot-dir DIR`), drawn with launch/svg_plot.h like
// weft plot's charts: norm_vs_position.svg (mean ||h_t|| per layer against position t + 1, log-x, last
// checkpoint), norm_vs_frequency.svg (mean final-layer norm by token and embedding row norm against
// training-frequency rank, log-x) and, with several checkpoints, norms_over_training.svg (mean ||h^(l)|| per
// layer against step). Each gets a PNG next to it where a converter is installed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launch/analyze_norms.h"

namespace weft::launch {

struct NormsSeries {
  int64_t step = 0;
  NormDiagnostics d;
};

// Throws naming the file when one cannot be written or a plot has nothing to draw.
void write_norms_plots(const std::vector<NormsSeries>& series, const std::vector<int64_t>& token_count,
                       const std::string& dir);

}  // namespace weft::launch
