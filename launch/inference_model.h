// A checkpoint's model and fp32 parameters, ready to run forward passes (no optimizer state): what
// `weft embed` loads. Same steps as cmd_eval_sample.cpp's Loaded / load_for_inference (to be merged with
// it): a run folder means its latest checkpoint, the stored configuration builds the model, and the
// configuration's [data] data names the tokenizer's folder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "launch/checkpoint.h"
#include "launch/trainable_state.h"
#include "models/model.h"
#include "runtime/exec.h"

namespace weft::launch {

struct InferenceModel {
  std::unique_ptr<models::Model> model;
  std::unique_ptr<ExecContext> exec;
  std::unique_ptr<TrainableState> state;  // the checkpoint's fp32 parameters (+ a bf16 copy under bf16)
  std::string path;                       // the checkpoint folder actually loaded
  CheckpointMeta meta;
  int64_t seq_len = 0;   // the training context length L
  std::string data_dir;  // the training data folder recorded in the configuration
  Exec& ex() { return exec->get(); }
  ParamStore& params() { return state->params(); }
  InferenceModel() = default;
  InferenceModel(const InferenceModel&) = delete;
  ~InferenceModel() { state.reset(); }  // before the Exec it runs on
};

// checkpoint_flag: a checkpoint folder or a run folder (its latest). Errors name --checkpoint. compute:
// DType::bf16 also keeps a bf16 copy the model runs on (--dtype bf16).
void load_inference_model(InferenceModel& m, const std::string& checkpoint_flag, Device dev, int gpu, int threads,
                          DType compute = DType::f32);

// The checkpoints an analysis reads (weft analyze): --checkpoint's folder (a run folder: its latest), or with
// --all-checkpoints every complete step_* checkpoint of the run folder, in step order. Errors name the flag.
std::vector<std::string> checkpoints_to_analyze(const std::string& checkpoint_flag, bool all_checkpoints);
// The step of a checkpoint folder named step_XXXXXXXX; -1 for any other name.
int64_t checkpoint_step_of(const std::string& folder);

}  // namespace weft::launch
