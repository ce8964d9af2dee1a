// SVG plots of token-norm diagnostics (`weft analyze norms --plot-dir DIR`), in the style of launch/metrics.h's
// loss plots: norm_vs_position.svg (mean ||h_t|| per layer against position t + 1, log-x, last checkpoint),
// norm_vs_frequency.svg (mean final-layer norm by token and embedding row norm against training-frequency
// rank, log-x) and, with several checkpoints, norms_over_training.svg (mean ||h^(l)|| per layer against step).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "launch/analyze_norms.h"

namespace weft::launch {

struct NormsSeries {
  int64_t step = 0;
  NormDiagnostics d;
};

// One plot: named polylines (x, y); log_x draws x on a log10 axis (x must be > 0). Throws naming the file.
struct PlotLine {
  std::string name;
  std::vector<std::pair<double, double>> points;
};
void write_line_svg(const std::vector<PlotLine>& lines, const std::string& title, const std::string& x_label,
                    const std::string& y_label, bool log_x, const std::string& svg_path);

void write_norms_plots(const std::vector<NormsSeries>& series, const std::vector<int64_t>& token_count,
                       const std::string& dir);

}  // namespace weft::launch
