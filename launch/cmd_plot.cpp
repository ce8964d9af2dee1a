// weft plot RUN_DIR [RUN_DIR...]: draws the train and validation loss curves of each run's metrics.jsonl to one
// SVG (several runs: one colour per run, named by its folder; --val-only for validation curves alone).
// weft plot --eval FILE.jsonl|LABEL=f1,f2 ...: perplexity against evaluation length (launch/eval_plot.h).
// Both write a PNG next to the SVG when a converter is installed (launch/svg_plot.h).
#include <cstdio>
#include <filesystem>

#include "launch/commands.h"
#include "launch/eval_plot.h"
#include "launch/metrics.h"
#include "launch/options.h"

namespace weft::launch {

namespace {

// " and OUT.png (via rsvg-convert)" when a converter wrote the PNG, else "".
std::string png_note(const std::string& svg_path, const std::string& converter) {
  if (converter.empty()) return "";
  return " and " + std::filesystem::path(svg_path).replace_extension(".png").string() + " (via " + converter + ")";
}

int plot_eval(const po::variables_map& vm, bool png) {
  const std::vector<std::string> args = get<std::vector<std::string>>(vm, "eval");
  const std::vector<EvalRunSpec> specs = parse_eval_specs(args);
  std::string out = get<std::string>(vm, "output");
  if (out.empty()) {
    if (args.size() > 1 || specs[0].files.size() > 1)
      throw UsageError("[plot] --output is required when plotting several --eval files");
    out = std::filesystem::path(specs[0].files[0]).replace_extension(".svg").string();
  }
  EvalPlotOptions options;
  options.title = get<std::string>(vm, "title");
  options.metric = get<std::string>(vm, "metric");
  options.y_scale = get<std::string>(vm, "y-scale");
  const int64_t train_length = get<int64_t>(vm, "train-length");
  if (train_length < 0) throw UsageError("--train-length must be positive");
  options.train_length = static_cast<double>(train_length);
  options.png = png;
  const EvalPlotSummary s = write_eval_svg(specs, options, out);
  std::printf("wrote %s (%zu run%s, %zu points%s%s)%s\n", out.c_str(), s.runs, s.runs == 1 ? "" : "s", s.points,
              s.skipped ? (", " + std::to_string(s.skipped) + " error length" + (s.skipped == 1 ? "" : "s") +
                           " skipped").c_str()
                        : "",
              s.log_y ? ", log y" : "", png_note(out, s.png_converter).c_str());
  return 0;
}

}  // namespace

int cmd_plot(const std::vector<std::string>& args) {
  OptionSet set("plot");
  set.group("plot").add_options()
      ("run", po::value<std::vector<std::string>>(), "run folder with metrics.jsonl (repeat, or list the folders "
                                                     "first, to compare runs)")
      ("eval", po::value<std::vector<std::string>>()->multitoken()->composing(),
       "`weft eval --lengths` output files: perplexity vs length, one line per file (labelled by its stem) or per "
       "LABEL=f1.jsonl,f2.jsonl,... (seeds: mean line, min-max band)")
      ("output", po::value<std::string>()->default_value(""), "SVG path (default RUN_DIR/loss.svg; required for "
                                                               "several runs)")
      ("title", po::value<std::string>()->default_value(""), "plot title (default: the run folders)")
      ("val-only", po::bool_switch(), "only the validation curves")
      ("metric", po::value<std::string>()->default_value("perplexity"), "--eval: perplexity | loss")
      ("y-scale", po::value<std::string>()->default_value("auto"),
       "--eval: auto (log when the values span more than 10x) | linear | log")
      ("train-length", po::value<int64_t>()->default_value(0), "--eval: the training length, drawn as a dashed line")
      ("no-png", po::bool_switch(), "no PNG next to the SVG (default: one where rsvg-convert, convert or inkscape "
                                    "is installed)");
  std::vector<std::string> a = args;
  for (std::string& s : a) {  // `weft plot RUN_DIR [RUN_DIR...]`: leading positional folders
    if (s.rfind("--", 0) == 0) break;
    s = "--run=" + s;
  }
  po::variables_map vm = set.parse(a);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const bool png = !vm["no-png"].as<bool>();
  if (vm.count("eval")) {
    if (vm.count("run")) throw UsageError("[plot] give run folders or --eval files, not both");
    return plot_eval(vm, png);
  }
  if (!vm.count("run")) throw UsageError("[plot] give run folders (weft plot RUN_DIR) or --eval FILE.jsonl");
  const std::vector<std::string> runs = get<std::vector<std::string>>(vm, "run");
  std::string out = get<std::string>(vm, "output");
  if (out.empty()) {
    if (runs.size() > 1) throw UsageError("[plot] --output is required when plotting several runs");
    out = runs[0] + "/loss.svg";
  }
  std::vector<NamedCurves> curves;
  std::string names;
  for (const std::string& run : runs) {
    LossCurves c = read_loss_curves(run + "/metrics.jsonl");
    if (c.train.empty() && c.val.empty()) throw UsageError("[plot] " + run + "/metrics.jsonl has no loss entries");
    std::string name = std::filesystem::path(run).filename().string();
    if (name.empty()) name = std::filesystem::path(run).parent_path().filename().string();
    names += (names.empty() ? "" : ", ") + name;
    curves.push_back({name, c});
  }
  std::string title = get<std::string>(vm, "title");
  if (title.empty()) title = "weft: " + (runs.size() == 1 ? runs[0] : names);
  const std::string converter = write_runs_svg(curves, title, out, vm["val-only"].as<bool>(), png);
  size_t points = 0;
  for (const NamedCurves& c : curves) points += c.curves.train.size() + c.curves.val.size();
  std::printf("wrote %s (%zu run%s, %zu points)%s\n", out.c_str(), curves.size(), curves.size() == 1 ? "" : "s",
              points, png_note(out, converter).c_str());
  return 0;
}

}  // namespace weft::launch
