// SVG plots of token-norm diagnostics (launch/norms_plots.h): the three figures of `weft analyze norms
// --plot-dir`, as launch/svg_plot.h charts (round 1-2-5 ticks, log10 axes, legend, PNG where possible).
#include "launch/norms_plots.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "launch/metrics.h"
#include "launch/svg_plot.h"
#include "runtime/check.h"

namespace weft::launch {

namespace {

// A curve of the i-th colour; non-finite values are left out (a token never seen as the current token has no
// mean), and point markers on short curves as in weft plot.
Series curve(std::string name, size_t i, std::vector<std::pair<double, double>> points) {
  points.erase(std::remove_if(points.begin(), points.end(), [](auto p) { return !std::isfinite(p.second); }),
               points.end());
  Series s{std::move(name), series_color(i), std::move(points)};
  s.markers = s.points.size() < kMarkerPoints;
  return s;
}

}  // namespace

void write_norms_plots(const std::vector<NormsSeries>& series, const std::vector<int64_t>& count, const std::string& dir) {
  WEFT_CHECK(!series.empty(), "[plot] no checkpoint measured");
  const NormsSeries& last = series.back();
  const NormDiagnostics& d = last.d;
  SvgChart pos("mean ||h_t|| by position, step " + std::to_string(last.step), Axis{Scale::log10, "position t + 1", {}},
               Axis{Scale::linear, "norm", {}});
  for (size_t l = 0; l < d.h_norm_pos.size(); ++l) {
    std::vector<std::pair<double, double>> points;
    for (int64_t t = 0; t < d.T; ++t) points.emplace_back(static_cast<double>(t + 1), d.h_norm_pos[l][t * 4]);
    pos.add_series(curve("layer " + std::to_string(l), l, std::move(points)));
  }
  write_svg_with_png(pos.render(), dir + "/norm_vs_position.svg", true);

  // Tokens by training frequency, most frequent first (rank 1).
  std::vector<size_t> order(count.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return count[a] > count[b]; });
  std::vector<std::pair<double, double>> tok, emb;
  for (size_t r = 0; r < order.size(); ++r) {
    const size_t v = order[r];
    if (d.h_norm_tok[v * 2 + 1] > 0) tok.emplace_back(static_cast<double>(r + 1), d.h_norm_tok[v * 2]);
    emb.emplace_back(static_cast<double>(r + 1), d.emb_row_norm[v]);
  }
  SvgChart freq("norm by training-frequency rank, step " + std::to_string(last.step),
                Axis{Scale::log10, "frequency rank", {}}, Axis{Scale::linear, "norm", {}});
  freq.add_series(curve("final layer, by current token", 0, std::move(tok)));
  freq.add_series(curve("embedding row", 1, std::move(emb)));
  write_svg_with_png(freq.render(), dir + "/norm_vs_frequency.svg", true);

  if (series.size() < 2) return;
  SvgChart over("mean ||h^(l)|| over training", Axis{Scale::linear, "step", {}}, Axis{Scale::linear, "norm", {}});
  for (size_t l = 0; l < d.h_norm_pos.size(); ++l) {
    std::vector<std::pair<double, double>> points;
    for (const NormsSeries& s : series) {
      double sum = 0.0;
      for (int64_t t = 0; t < s.d.T; ++t) sum += s.d.h_norm_pos[l][t * 4];
      points.emplace_back(static_cast<double>(s.step), sum / static_cast<double>(s.d.T));
    }
    over.add_series(curve("layer " + std::to_string(l), l, std::move(points)));
  }
  write_svg_with_png(over.render(), dir + "/norms_over_training.svg", true);
}

}  // namespace weft::launch
