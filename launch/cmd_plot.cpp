// weft plot RUN_DIR [RUN_DIR...]: draws the train and validation loss curves of each run's metrics.jsonl to one
// SVG (several runs: one colour per run, named by its folder; --val-only for validation curves alone).
#include <cstdio>
#include <filesystem>

#include "launch/commands.h"
#include "launch/metrics.h"
#include "launch/options.h"

namespace weft::launch {

int cmd_plot(const std::vector<std::string>& args) {
  OptionSet set("plot");
  set.group("plot").add_options()
      ("run", po::value<std::vector<std::string>>()->required(), "run folder with metrics.jsonl (repeat, or list "
                                                                   "the folders first, to compare runs)")
      ("output", po::value<std::string>()->default_value(""), "SVG path (default RUN_DIR/loss.svg; required for "
                                                               "several runs)")
      ("title", po::value<std::string>()->default_value(""), "plot title (default: the run folders)")
      ("val-only", po::bool_switch(), "only the validation curves");
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
  write_runs_svg(curves, title, out, vm["val-only"].as<bool>());
  size_t points = 0;
  for (const NamedCurves& c : curves) points += c.curves.train.size() + c.curves.val.size();
  std::printf("wrote %s (%zu run%s, %zu points)\n", out.c_str(), curves.size(), curves.size() == 1 ? "" : "s", points);
  return 0;
}

}  // namespace weft::launch
