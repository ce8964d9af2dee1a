// Trainer: the training loop shared by every model. One step = grad-accum micro-batches (each rank
// reads its slice of the global batch), a gradient all-reduce across ranks, global-norm clipping and
// an AdamW update; then logging, evaluation and checkpoints on their cadences.
#pragma once

#include <memory>
#include <string>

#include "data/loader.h"
#include "launch/checkpoint.h"
#include "launch/metrics.h"
#include "launch/train_options.h"
#include "models/model.h"
#include "parallel/comm.h"
#include "parallel/data_parallel.h"
#include "runtime/optim/adamw.h"
#include "runtime/optim/lr_schedule.h"

namespace weft::launch {

class Trainer {
 public:
  Trainer(TrainOptions opt, std::unique_ptr<models::Model> model, int64_t seq_len, CheckpointMeta meta,
          par::Communicator& comm);
  // Loads a checkpoint (parameters, optimizer, cursor, RNG, bookkeeping) to continue from it.
  void resume_from(const std::string& path);
  // Runs until --steps or until a stop signal (then saves); returns the final validation loss (NaN when
  // there is no validation split or the run was stopped). stopped() tells which.
  double run();
  bool stopped() const { return stopped_; }
  double evaluate(int64_t batches);  // mean validation loss over the first `batches` windows-batches

 private:
  double train_step();  // returns the step's global mean loss
  void log_step(double loss, double lr, double grad_norm, double step_seconds);
  void save();
  void reduce_and_update();  // gradient reduction across ranks, clipping, AdamW (ZeRO-1 or replicated)
  OwnedTensor gather_moment(const Tensor& shard);  // a ZeRO-1 moment shard -> the full flat tensor

  TrainOptions opt_;
  std::unique_ptr<models::Model> model_;
  int64_t T_;
  CheckpointMeta meta_;
  par::Communicator& comm_;
  Exec ex_;
  ParamStore store_;
  std::unique_ptr<optim::AdamW> adamw_;
  optim::LrSchedule schedule_;
  std::unique_ptr<data::WindowLoader> train_, val_;
  Arena arena_;
  Rng rng_;
  TrainState state_;
  std::unique_ptr<MetricsWriter> metrics_;  // rank 0 only
  OwnedTensor inputs_, targets_;  // (B, T) this rank's micro-batch
  OwnedTensor shard_grads_;       // ZeRO-1: this rank's reduced gradient shard (total / world)
  std::unique_ptr<par::GradSync> grad_sync_;  // replicated data parallel: bucketed, overlapped all-reduce
  double last_grad_norm_ = 0.0;
  bool stopped_ = false;
};

}  // namespace weft::launch
