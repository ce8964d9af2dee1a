// Reading `weft eval --lengths` output files and drawing perplexity against length (launch/svg_plot.h).
#include "launch/eval_plot.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "data/jsonl.h"
#include "launch/metrics.h"
#include "launch/options.h"
#include "launch/svg_plot.h"

namespace weft::launch {

namespace fs = std::filesystem;

std::vector<EvalRunSpec> parse_eval_specs(const std::vector<std::string>& args) {
  std::vector<EvalRunSpec> specs;
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos || fs::exists(arg)) {  // a file (even one whose name holds '=')
      specs.push_back({"", {arg}});
      continue;
    }
    EvalRunSpec spec{arg.substr(0, eq), {}};
    if (spec.label.empty()) throw UsageError("--eval '" + arg + "': no label before '='");
    std::stringstream files(arg.substr(eq + 1));
    std::string file;
    while (std::getline(files, file, ','))
      if (file.empty()) throw UsageError("--eval '" + arg + "': an empty file name in the list");
      else spec.files.push_back(file);
    if (spec.files.empty()) throw UsageError("--eval '" + arg + "': no files after '=' (LABEL=f1.jsonl,f2.jsonl)");
    specs.push_back(spec);
  }
  // A single file is labelled by its stem; files sharing a stem (runs/a/eval.jsonl, runs/b/eval.jsonl) by
  // folder/stem.
  std::map<std::string, int> stems;
  for (const EvalRunSpec& s : specs)
    if (s.label.empty()) ++stems[fs::path(s.files[0]).stem().string()];
  for (EvalRunSpec& s : specs) {
    if (!s.label.empty()) continue;
    const fs::path p(s.files[0]);
    s.label = p.stem().string();
    if (stems[s.label] > 1 && !fs::absolute(p).parent_path().filename().empty())
      s.label = fs::absolute(p).parent_path().filename().string() + "/" + s.label;
  }
  return specs;
}

EvalCurve read_eval_curve(const std::string& path, const std::string& metric) {
  std::ifstream in(path);
  if (!in) throw UsageError("--eval: cannot open '" + path + "'");
  EvalCurve curve;
  std::map<double, int> line_of_length;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    double length = 0;
    std::string problem = data::json_number_field(line, "length", length);
    if (problem == "missing field 'length'")
      throw UsageError(where + "no 'length' field (expected the lines `weft eval --lengths` prints)");
    if (!problem.empty()) throw UsageError(where + "not a JSON object line (" + problem + ")");
    if (!(length > 0) || !std::isfinite(length)) throw UsageError(where + "'length' must be a positive number");
    if (line_of_length.count(length))
      throw UsageError(where + "length " + tick_label(length, 1) + " already on line " +
                       std::to_string(line_of_length[length]) + " (one evaluation per file)");
    line_of_length[length] = number;
    std::string error;
    if (data::json_string_field(line, "error", error).empty()) {  // the model could not run this length
      ++curve.skipped;
      continue;
    }
    double value = 0, loss = 0;
    if (metric == "perplexity" && data::json_number_field(line, "perplexity", value).empty()) {
      // as printed
    } else if (data::json_number_field(line, "loss", loss).empty()) {
      value = metric == "perplexity" ? std::exp(loss) : loss;
    } else {
      throw UsageError(where + "no '" + metric + "'" + (metric == "perplexity" ? " or 'loss'" : "") + " field");
    }
    if (!std::isfinite(value)) {  // null: a diverged evaluation
      ++curve.skipped;
      continue;
    }
    curve.points.emplace_back(length, value);
  }
  std::sort(curve.points.begin(), curve.points.end());
  return curve;
}

EvalPlotSummary write_eval_svg(const std::vector<EvalRunSpec>& specs, const EvalPlotOptions& opt,
                               const std::string& svg_path) {
  if (opt.metric != "perplexity" && opt.metric != "loss")
    throw UsageError("--metric: '" + opt.metric + "' is not perplexity or loss");
  if (opt.y_scale != "auto" && opt.y_scale != "linear" && opt.y_scale != "log")
    throw UsageError("--y-scale: '" + opt.y_scale + "' is not auto, linear or log");
  EvalPlotSummary summary;
  std::vector<Series> lines;
  std::vector<Band> bands;
  std::vector<double> lengths;  // every length drawn: the x ticks
  double lo = 1e300, hi = -1e300;
  for (size_t i = 0; i < specs.size(); ++i) {
    std::map<double, std::vector<double>> by_length;  // length -> one value per file that ran it
    for (const std::string& file : specs[i].files) {
      EvalCurve c = read_eval_curve(file, opt.metric);
      summary.skipped += c.skipped;
      for (auto [length, value] : c.points) by_length[length].push_back(value);
    }
    Series line{specs[i].label, series_color(i), {}, 2.0, 1.0, false};
    Band band{series_color(i), {}, {}, {}};
    for (const auto& [length, values] : by_length) {
      const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
      double mean = 0;
      for (double v : values) mean += v;
      line.points.emplace_back(length, mean / static_cast<double>(values.size()));
      band.x.push_back(length), band.lo.push_back(*mn), band.hi.push_back(*mx);
      lengths.push_back(length);
      lo = std::min(lo, *mn), hi = std::max(hi, *mx);
    }
    if (specs[i].files.size() > 1) {
      line.name += " (mean of " + std::to_string(specs[i].files.size()) + ", min-max band)";
      bands.push_back(band);
    }
    if (line.points.empty()) line.name += " (no length ran)";
    line.markers = line.points.size() < kMarkerPoints;
    summary.points += line.points.size();
    lines.push_back(line);
  }
  summary.runs = specs.size();
  if (summary.points == 0) throw UsageError("--eval: no length with a value in any file (every line has 'error')");
  if (opt.y_scale == "log" && lo <= 0) throw UsageError("--y-scale log: a value <= 0 (" + std::to_string(lo) + ")");
  summary.log_y = opt.y_scale == "log" || (opt.y_scale == "auto" && lo > 0 && hi / lo > 10);
  std::sort(lengths.begin(), lengths.end());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
  const std::string what = opt.metric == "perplexity" ? "perplexity" : "loss (nats per token)";
  std::string title = opt.title;
  if (title.empty()) title = "weft: " + opt.metric + " vs evaluation length";
  SvgChart chart(title, Axis{Scale::log2, "evaluation length (tokens, log2 scale)", lengths},
                 Axis{summary.log_y ? Scale::log10 : Scale::linear, what + (summary.log_y ? " (log scale)" : ""), {}});
  for (Band& b : bands) chart.add_band(std::move(b));
  for (Series& s : lines) chart.add_series(std::move(s));
  if (opt.train_length > 0) chart.add_vline(opt.train_length, "train length " + tick_label(opt.train_length, 1));
  summary.png_converter = write_svg_with_png(chart.render(), svg_path, opt.png);
  return summary;
}

}  // namespace weft::launch
