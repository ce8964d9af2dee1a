// weft plot RUN_DIR: draws the train and validation loss curves of RUN_DIR/metrics.jsonl to an SVG.
#include <cstdio>

#include "launch/commands.h"
#include "launch/metrics.h"
#include "launch/options.h"

namespace weft::launch {

int cmd_plot(const std::vector<std::string>& args) {
  OptionSet set("plot");
  set.group("plot").add_options()("run", po::value<std::string>()->required(), "run folder with metrics.jsonl")(
      "output", po::value<std::string>()->default_value(""), "SVG path (default RUN_DIR/loss.svg)");
  std::vector<std::string> a = args;
  if (!a.empty() && a[0].rfind("--", 0) != 0) a[0] = "--run=" + a[0];  // `weft plot RUN_DIR`
  po::variables_map vm = set.parse(a);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  std::string run = get<std::string>(vm, "run");
  std::string out = get<std::string>(vm, "output");
  if (out.empty()) out = run + "/loss.svg";
  LossCurves c = read_loss_curves(run + "/metrics.jsonl");
  if (c.train.empty() && c.val.empty()) throw UsageError("[plot] " + run + "/metrics.jsonl has no loss entries");
  write_loss_svg(c, "weft: " + run, out);
  std::printf("wrote %s (%zu train points, %zu val points)\n", out.c_str(), c.train.size(), c.val.size());
  return 0;
}

}  // namespace weft::launch
