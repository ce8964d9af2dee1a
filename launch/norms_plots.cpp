// SVG plots of token-norm diagnostics (launch/norms_plots.h): one small line-plot writer (linear or log-x
// axes, labelled ticks, a legend) and the three figures of `weft analyze norms --plot-dir`.
#include "launch/norms_plots.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "launch/metrics.h"
#include "runtime/check.h"

namespace weft::launch {

void write_line_svg(const std::vector<PlotLine>& lines, const std::string& title, const std::string& x_label,
                    const std::string& y_label, bool log_x, const std::string& path) {
  const double W = 800, H = 500, L = 70, R = 20, T = 40, B = 50;
  auto fx = [&](double x) { return log_x ? std::log10(x) : x; };
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const PlotLine& l : lines)
    for (auto [x, y] : l.points) {
      if (!std::isfinite(y) || (log_x && x <= 0)) continue;
      x0 = std::min(x0, fx(x)), x1 = std::max(x1, fx(x)), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  WEFT_CHECK(x0 <= x1, "[plot] no values to plot in '", path, "'");
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  auto px = [&](double x) { return L + (fx(x) - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return T + (y1 - y) / (y1 - y0) * (H - T - B); };
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' "
     << "font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  os << "<text x='" << W / 2 << "' y='22' text-anchor='middle' font-size='15'>" << json_escape(title) << "</text>\n";
  for (int i = 0; i <= 5; ++i) {
    const double yv = y0 + (y1 - y0) * i / 5, xa = x0 + (x1 - x0) * i / 5, xv = log_x ? std::pow(10.0, xa) : xa;
    os << "<line x1='" << L << "' x2='" << W - R << "' y1='" << py(yv) << "' y2='" << py(yv) << "' stroke='#ddd'/>\n";
    os << "<text x='" << L - 6 << "' y='" << py(yv) + 4 << "' text-anchor='end'>" << std::round(yv * 1000) / 1000
       << "</text>\n";
    os << "<text x='" << px(xv) << "' y='" << H - B + 18 << "' text-anchor='middle'>" << std::round(xv * 10) / 10
       << "</text>\n";
  }
  os << "<text x='" << W / 2 << "' y='" << H - 10 << "' text-anchor='middle'>" << json_escape(x_label) << "</text>\n";
  os << "<text x='16' y='" << H / 2 << "' transform='rotate(-90 16 " << H / 2 << ")' text-anchor='middle'>"
     << json_escape(y_label) << "</text>\n";
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
  for (size_t i = 0; i < lines.size(); ++i) {
    const char* color = kColors[i % 8];
    os << "<polyline fill='none' stroke='" << color << "' stroke-width='1.5' points='";
    for (auto [x, y] : lines[i].points)
      if (std::isfinite(y) && (!log_x || x > 0)) os << px(x) << "," << py(y) << " ";
    os << "'/>\n<text x='" << W - R - 190 << "' y='" << T + 16 * (i + 1) << "' fill='" << color << "'>"
       << json_escape(lines[i].name) << "</text>\n";
  }
  os << "</svg>\n";
  std::ofstream out(path);
  WEFT_CHECK(out, "[plot] cannot write '", path, "'");
  out << os.str();
  WEFT_CHECK(out.good(), "[plot] write to '", path, "' failed");
}

void write_norms_plots(const std::vector<NormsSeries>& series, const std::vector<int64_t>& count, const std::string& dir) {
  WEFT_CHECK(!series.empty(), "[plot] no checkpoint measured");
  const NormsSeries& last = series.back();
  const NormDiagnostics& d = last.d;
  std::vector<PlotLine> pos;
  for (size_t l = 0; l < d.h_norm_pos.size(); ++l) {
    PlotLine line{"layer " + std::to_string(l), {}};
    for (int64_t t = 0; t < d.T; ++t) line.points.emplace_back(static_cast<double>(t + 1), d.h_norm_pos[l][t * 4]);
    pos.push_back(std::move(line));
  }
  write_line_svg(pos, "mean ||h_t|| by position, step " + std::to_string(last.step), "position t + 1", "norm", true,
                 dir + "/norm_vs_position.svg");

  // Tokens by training frequency, most frequent first (rank 1).
  std::vector<size_t> order(count.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return count[a] > count[b]; });
  PlotLine tok{"final layer, by current token", {}}, emb{"embedding row", {}};
  for (size_t r = 0; r < order.size(); ++r) {
    const size_t v = order[r];
    if (d.h_norm_tok[v * 2 + 1] > 0) tok.points.emplace_back(static_cast<double>(r + 1), d.h_norm_tok[v * 2]);
    emb.points.emplace_back(static_cast<double>(r + 1), d.emb_row_norm[v]);
  }
  write_line_svg({tok, emb}, "norm by training-frequency rank, step " + std::to_string(last.step), "frequency rank",
                 "norm", true, dir + "/norm_vs_frequency.svg");

  if (series.size() < 2) return;
  std::vector<PlotLine> over;
  for (size_t l = 0; l < d.h_norm_pos.size(); ++l) {
    PlotLine line{"layer " + std::to_string(l), {}};
    for (const NormsSeries& s : series) {
      double sum = 0.0;
      for (int64_t t = 0; t < s.d.T; ++t) sum += s.d.h_norm_pos[l][t * 4];
      line.points.emplace_back(static_cast<double>(s.step), sum / static_cast<double>(s.d.T));
    }
    over.push_back(std::move(line));
  }
  write_line_svg(over, "mean ||h^(l)|| over training", "step", "norm", false, dir + "/norms_over_training.svg");
}

}  // namespace weft::launch
