// load_inference_model: resolve, read the configuration, build, load fp32 parameters; the checkpoint list of
// --checkpoint / --all-checkpoints.
#include "launch/inference_model.h"

#include <algorithm>
#include <filesystem>

#include "launch/model_options.h"
#include "launch/options.h"

namespace weft::launch {

void load_inference_model(InferenceModel& m, const std::string& checkpoint_flag, Device dev, int gpu, int threads,
                          DType compute) {
  std::string path = checkpoint_flag;
  if (!std::filesystem::exists(path)) throw UsageError("--checkpoint: '" + checkpoint_flag + "' does not exist");
  if (std::filesystem::is_directory(path + "/checkpoints")) path = resolve_checkpoint(path, "latest", "--checkpoint");  // a run folder
  m.path = path;
  m.meta = read_checkpoint_meta(path);
  m.model = make_model_from_ini(m.meta.config_ini, &m.seq_len);
  m.exec = std::make_unique<ExecContext>(dev, gpu, threads);
  m.state = std::make_unique<TrainableState>(*m.model, m.ex(), compute);
  m.state->load(path, nullptr);
  m.data_dir = ini_section(m.meta.config_ini, "data")["data"];
}

std::vector<std::string> checkpoints_to_analyze(const std::string& flag, bool all) {
  namespace fs = std::filesystem;
  if (!fs::exists(flag)) throw UsageError("--checkpoint: '" + flag + "' does not exist");
  if (!all) return {flag};
  const fs::path dir = fs::path(flag) / "checkpoints";
  if (!fs::is_directory(dir))
    throw UsageError("--all-checkpoints: '" + flag + "' is not a run folder (it has no checkpoints/ folder)");
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("step_", 0) == 0 && n.find(".tmp") == std::string::npos)
      paths.push_back(e.path().string());
  }
  std::sort(paths.begin(), paths.end());  // step_%08d: name order is step order
  if (paths.empty()) throw UsageError("--all-checkpoints: '" + dir.string() + "' holds no checkpoint");
  return paths;
}

int64_t checkpoint_step_of(const std::string& folder) {
  const std::string n = std::filesystem::path(folder).filename().string();
  if (n.rfind("step_", 0) != 0) return -1;
  try {
    return std::stoll(n.substr(5));
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace weft::launch
