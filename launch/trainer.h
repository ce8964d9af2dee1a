// Trainer: the training loop shared by every model. One step = grad-accum micro-batches (each rank
// reads its slices of the global batch first, so that the global count of targets that count, which
// normalises every micro-batch's loss, is known before the first backward; TrainableState::end_micro_batch
// after each backward), then
// TrainableState::update with this run's GradReducer (replicated all-reduce overlapping the last backward,
// or ZeRO-1), then logging (loss and the model's auxiliary terms), evaluation (launch/evaluation.h) and
// checkpoints (parameters, optimizer, data cursor, RNG and the model's state across steps) on their
// cadences. Between the gradient reduction and AdamW a StepGuard judges the step (non-finite loss or
// gradient norm, --spike-guard): a skipped update leaves weights and optimizer state untouched while the
// step counter and the data move on (launch/step_guard.h).
// On CUDA (one rank per GPU) parameters, optimizer state and activations live on the GPU; gradients
// are reduced by NCCL on its own stream while the backward runs, and host values (loss sums, stop flags)
// go through the launching communicator (MPI). With --dtype bf16 the model runs on a bf16 copy of the
// fp32 master weights (runtime/optim/mixed_precision.h).
// --expert-parallel E (parallel/expert_parallel.h): world = E x D; the layout is validated and the model
// receives its expert exchange (set_parallel) before it declares its parameters, so it declares only its
// expert shard; expert gradients are summed over the shard's replicas, checkpoints gather the shards.
// --objective infonce: the micro-batches come from launch/infonce_objective.h instead of the token windows
// (InfoNCE over query/document groups, its in-group accuracy as an auxiliary term); everything else is the same.
#pragma once

#include <memory>
#include <string>

#include "data/loader.h"
#include "data/segments.h"
#include "launch/checkpoint.h"
#include "launch/infonce_objective.h"
#include "launch/metrics.h"
#include "launch/norms_log.h"
#include "launch/step_guard.h"
#include "launch/step_losses.h"
#include "launch/train_options.h"
#include "launch/trainable_state.h"
#include "models/model.h"
#include "parallel/comm.h"
#include "parallel/expert_parallel.h"
#include "parallel/grad_reducer.h"
#include "runtime/input_stager.h"
#include "runtime/optim/lr_schedule.h"

namespace weft::launch {

class Trainer {
 public:
  // gpu: this rank's GPU ordinal (used when opt.device resolves to cuda).
  Trainer(TrainOptions opt, std::unique_ptr<models::Model> model, int64_t seq_len, CheckpointMeta meta,
          par::Communicator& comm, int gpu = 0);
  ~Trainer();
  // Loads a checkpoint (parameters, optimizer, cursor, RNG, model state, bookkeeping) to continue from it.
  void resume_from(const std::string& path);
  // --init-from: before step 1, the parameters of a checkpoint that match by name and shape (launch/init_from.h);
  // prints the counts on rank 0. Step, optimizer state, data and model state stay fresh.
  void init_from(const std::string& checkpoint);
  // Runs until --steps or until a stop signal (then saves); returns the final validation loss (NaN when
  // there is no validation split or the run was stopped). stopped() tells which.
  double run();
  bool stopped() const { return stopped_; }
  // The run ended after --max-skipped-steps consecutive skipped updates (saved; exit kExitSkippedSteps).
  bool gave_up() const { return gave_up_; }
  double evaluate(int64_t batches);  // mean validation loss over the first `batches` batches of windows
  Device device() const { return exec_.device(); }
  DType compute_dtype() const { return state_store_->params().dtype(); }
  const TrainState& state() const { return state_; }

 private:
  struct StepResult {
    StepLosses::Totals losses;
    double grad_norm = 0.0;
    int64_t tokens = 0;  // targets that counted in the global step (padded: fewer than the window tokens)
    SkipReason skip = SkipReason::none;  // agreed by every rank
    std::string why;                     // rank 0's description of a skip
  };
  StepResult train_step();
  // real_tokens_per_step: counted targets per step over the logging window.
  // interval_mean_loss: the mean train loss of the steps since the previous log line (metrics key loss_avg).
  void log_step(const StepResult& r, double lr, double step_seconds, double real_tokens_per_step,
                double interval_mean_loss);
  // A skipped update (rank 0): a warning naming the step and why, and its metrics line (skipped: 1).
  void log_skip(const StepResult& r, double lr);
  // Once per run (rank 0): the loss far above ln(vocab), without stopping anything.
  void warn_if_diverging(double loss);
  std::string save();  // returns the checkpoint's path
  // Micro-batch `micro`'s (B, T) host token ids, copied to the device tensors the model reads on CUDA.
  models::Batch stage_batch(int64_t micro, float normalizer, const int64_t* streams);
  // This rank's micro-batches of the step into inputs_/targets_ (and starts_ with --pack segments).
  void read_step();

  TrainOptions opt_;
  std::unique_ptr<models::Model> model_;
  int64_t T_;
  CheckpointMeta meta_;
  par::Communicator& comm_;       // the launching communicator (host buffers)
  ExecContext exec_;
  std::unique_ptr<par::Communicator> device_comm_;  // CUDA: device buffers (NCCL, or local for one GPU)
  par::ExpertLayout experts_;                        // E x D (E = 1: no expert parallelism)
  par::ExpertComms expert_host_;    // E > 1: expert group and shard replicas on comm_ (norms, checkpoints)
  par::ExpertComms expert_device_;  // E > 1 on CUDA: the same groups for device buffers (NCCL)
  std::unique_ptr<par::CommExpertExchange> exchange_;  // E > 1: the model's token exchange
  std::unique_ptr<TrainableState> state_store_;     // master weights, compute copy, AdamW
  std::unique_ptr<par::GradReducer> reducer_;
  optim::LrSchedule schedule_;
  std::unique_ptr<data::WindowLoader> train_, val_;  // --pack concat | padded
  std::unique_ptr<data::SegmentLoader> train_segments_, val_segments_;  // --pack segments (val: B streams)
  bool masked_ = false;  // the training split has a loss mask (data/loss_mask.h): count the targets
  Arena arena_;
  Rng rng_;
  TrainState state_;
  StepLosses losses_;
  std::unique_ptr<MetricsWriter> metrics_;  // rank 0 only
  std::unique_ptr<NormsLog> norms_;         // --log-norms-every > 0
  OwnedTensor inputs_, targets_;  // (grad-accum x B, T) this rank's micro-batches of the step, on the host
  std::vector<uint8_t> starts_;   // (grad-accum x B) --pack segments: Batch::starts of each row
  OwnedTensor dev_inputs_, dev_targets_;  // (B, T) their copies on the device (CUDA, --sync-input)
  std::unique_ptr<InputStager> input_stager_;  // CUDA: asynchronous copies of each micro-batch's (B, T) ids
  std::unique_ptr<InfoNceObjective> infonce_;  // --objective infonce: the step's micro-batches are its groups
  StepGuard guard_;  // skipped updates (launch/step_guard.h); its counters and window are in state_
  bool stopped_ = false, gave_up_ = false, divergence_warned_ = false;
};

}  // namespace weft::launch
