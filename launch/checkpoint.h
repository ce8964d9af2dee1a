// Training checkpoints in HDF5 (layout in docs/checkpoint-format.md): parameters, AdamW moments and
// step, the data cursor (global samples consumed), the RNG state, bookkeeping and the full
// configuration. Saves are atomic: written into step_XXXXXXXX.tmp/, fsynced, renamed, then `latest`
// is replaced; an interrupted save leaves the previous checkpoint intact.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "launch/resume.h"
#include "models/model.h"
#include "parallel/comm.h"
#include "runtime/param_store.h"
#include "runtime/rng.h"

namespace weft::launch {

struct TrainState {
  int64_t step = 0;              // optimizer steps completed
  int64_t consumed_samples = 0;  // global training samples consumed (the loader cursor)
  int64_t tokens_seen = 0;
  RngState rng;                  // rank 0's stream; rank r uses stream r with the same offset
  double best_val_loss = 1e300;
  double elapsed_s = 0.0;
  int64_t lr_decay_steps = 0;    // length of the LR schedule the run used (0: not recorded, older files)
  // --pack segments: each global stream's next token position (data/segments.h), dataset data/segment_cursors;
  // empty for the other packings.
  std::vector<int64_t> segment_cursors;
  // Numeric faults (launch/step_guard.h): skipped updates in all and in the current streak, and the last accepted
  // losses (oldest first, --spike-window of them), dataset train/loss_window.
  int64_t skipped_total = 0, skipped_in_row = 0;
  std::vector<double> loss_window;
};

// AdamW state as full flat tensors (the store's layout, store.total() elements): a ZeRO-1 run gathers its
// shards into these before saving and slices them after loading, so files do not depend on the layout.
struct OptimState {
  Tensor m, v;
  int64_t steps = 0;
};

struct CheckpointMeta {
  std::string model;       // architecture name
  std::string config_ini;  // the effective configuration
  std::string version;     // weft version (git describe)
  int world_size = 1;
  // The tokenizer of the training data (attributes tokenizer_kind / _vocab_size / _hash); kind "" when not
  // recorded (checkpoints of older weft versions). launch/tokenizer_check.h compares it with a data folder's.
  data::TokenizerIdentity tokenizer = {};
};

// Collective: every rank calls it; rank 0 writes the main file (all dense state is replicated, model_state
// already gathered from every rank: state/stream_<id>/<name>, state/shared/<name>) and the manifest. Returns
// the final path.
// Expert parallelism: a sharded parameter (ParamInfo::shard, rows [begin, begin + shape[0]) of a logical
// tensor) holds only this rank's rows. With an expert_group of E > 1 ranks (host buffers; the E ranks whose
// shards make up the logical tensors), every rank of rank 0's expert group writes its rows (parameters and
// both moments) into its own experts_<shard>.h5 in the same temporary folder, fsyncs it and sends its
// digest to rank 0, which lists every file in the manifest; the folder is renamed once every file is
// complete. No rank gathers the logical expert tensors. The other expert groups hold replicas and write nothing.
std::string save_checkpoint(const std::string& run_dir, const ParamStore& store, const OptimState& opt,
                            const TrainState& state, const CheckpointMeta& meta, int64_t keep,
                            par::Communicator& comm, const std::vector<models::StateTensor>& model_state = {},
                            par::Communicator* expert_group = nullptr, int64_t keep_log_spaced_every = 0);

// Retention after a save: of the complete checkpoints' steps (ascending), those to delete so that the newest
// `keep` remain and, when log_spaced_every > 0 (--keep-log-spaced), the first one at or after each step
// 2^k x log_spaced_every (k = 0, 1, ...), so curves over training keep log-spaced checkpoints.
std::vector<int64_t> checkpoints_to_remove(const std::vector<int64_t>& steps, int64_t keep, int64_t log_spaced_every);

// resolve_checkpoint (which checkpoint --resume or a run folder means): launch/resume.h.

// Reads the metadata (model name, configuration) of a checkpoint folder.
CheckpointMeta read_checkpoint_meta(const std::string& path);
// Loads parameters (always), and optimizer state (into opt->m / opt->v, full-size, and opt->steps) and
// training state when given. Errors name the tensor and both shapes on a mismatch. A sharded parameter
// reads its rows of the stored logical tensor, from the main file or from whichever expert shard files
// cover them (any expert-parallel layout loads any checkpoint; E = 1 assembles the whole tensors).
void load_checkpoint(const std::string& path, ParamStore& store, OptimState* opt, TrainState* state);
// Every tensor of the checkpoint's state/ group (empty when it has none).
std::vector<models::StateTensor> load_model_state(const std::string& path);

std::string weft_version();

}  // namespace weft::launch
