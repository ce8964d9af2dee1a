// `weft plot --eval`: perplexity (or loss) against evaluation length from the JSON lines `weft eval --lengths`
// prints, several runs on one chart with a log2 length axis. A run is one file (labelled by its stem) or
// LABEL=f1.jsonl,f2.jsonl,... (seeds of one configuration: their mean as the line, their min-max as a band).
// Lengths a model could not run (an `error` key) or whose value is null are skipped, the other points kept.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace weft::launch {

struct EvalRunSpec {
  std::string label;
  std::vector<std::string> files;
};
// One spec per --eval argument: "f.jsonl" (label: the file stem; "folder/stem" when two files share a stem)
// or "LABEL=f1,f2,...". Throws UsageError naming the argument (empty label, no files).
std::vector<EvalRunSpec> parse_eval_specs(const std::vector<std::string>& args);

struct EvalCurve {
  std::vector<std::pair<double, double>> points;  // (length, value), ascending lengths
  int skipped = 0;                                // lines with `error` or a null value
};
// metric: "perplexity" (the key, else exp(loss)) or "loss". Throws UsageError naming the file and line for a
// line that is not a JSON object, has no `length`, a length <= 0 or twice, or no value of the metric.
EvalCurve read_eval_curve(const std::string& path, const std::string& metric);

struct EvalPlotOptions {
  std::string title;               // "": a default naming the metric
  std::string metric = "perplexity";
  std::string y_scale = "auto";    // auto (log10 when max/min > 10) | linear | log
  double train_length = 0;         // > 0: a dashed vertical line
  bool png = true;
};
struct EvalPlotSummary {
  size_t runs = 0, points = 0;  // points: drawn (grouped runs: one per length)
  int skipped = 0;
  bool log_y = false;
  std::string png_converter;  // "" when no PNG was written
};
EvalPlotSummary write_eval_svg(const std::vector<EvalRunSpec>& specs, const EvalPlotOptions& options,
                               const std::string& svg_path);

}  // namespace weft::launch
