// load_inference_model: resolve, read the configuration, build, load fp32 parameters.
#include "launch/inference_model.h"

#include <filesystem>

#include "launch/model_options.h"
#include "launch/options.h"

namespace weft::launch {

void load_inference_model(InferenceModel& m, const std::string& checkpoint_flag, Device dev, int gpu, int threads,
                          DType compute) {
  std::string path = checkpoint_flag;
  if (!std::filesystem::exists(path)) throw UsageError("--checkpoint: '" + checkpoint_flag + "' does not exist");
  if (std::filesystem::is_directory(path + "/checkpoints")) path = resolve_checkpoint(path, "latest");  // a run folder
  m.path = path;
  m.meta = read_checkpoint_meta(path);
  m.model = make_model_from_ini(m.meta.config_ini, &m.seq_len);
  m.exec = std::make_unique<ExecContext>(dev, gpu, threads);
  m.state = std::make_unique<TrainableState>(*m.model, m.ex(), compute);
  m.state->load(path, nullptr);
  m.data_dir = ini_section(m.meta.config_ini, "data")["data"];
}

}  // namespace weft::launch
