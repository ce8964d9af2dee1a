// Trainer: the training loop shared by every model. One step = grad-accum micro-batches (each rank
// reads its slice of the global batch), a gradient all-reduce across ranks, global-norm clipping and
// an AdamW update; then logging, evaluation and checkpoints on their cadences.
// On CUDA (one rank per GPU) parameters, optimizer state and activations live on the GPU; gradients
// are reduced by NCCL on its own stream while the backward runs, and host values (loss sums, stop flags)
// go through the launching communicator (MPI). With --dtype bf16 the model runs on a bf16 copy of the
// fp32 master weights (runtime/optim/mixed_precision.h).
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
#include "runtime/optim/mixed_precision.h"

namespace weft::launch {

class Trainer {
 public:
  // gpu: this rank's GPU ordinal (used when opt.device resolves to cuda).
  Trainer(TrainOptions opt, std::unique_ptr<models::Model> model, int64_t seq_len, CheckpointMeta meta,
          par::Communicator& comm, int gpu = 0);
  ~Trainer();
  // Loads a checkpoint (parameters, optimizer, cursor, RNG, bookkeeping) to continue from it.
  void resume_from(const std::string& path);
  // Runs until --steps or until a stop signal (then saves); returns the final validation loss (NaN when
  // there is no validation split or the run was stopped). stopped() tells which.
  double run();
  bool stopped() const { return stopped_; }
  double evaluate(int64_t batches);  // mean validation loss over the first `batches` windows-batches
  Device device() const { return ex_.device; }
  DType compute_dtype() const { return params().dtype(); }
  const TrainState& state() const { return state_; }

 private:
  double train_step();  // returns the step's global mean loss
  void log_step(double loss, double lr, double grad_norm, double step_seconds);
  void save();
  ParamStore& params() const;  // what the model runs on: the bf16 copy under mixed precision, else store_
  // Copies (B, T) host token ids of one micro-batch to the device tensors the model reads.
  models::Batch stage_batch(const OwnedTensor& in, const OwnedTensor& tgt, int64_t rows, float normalizer);
  void reduce_and_update();  // gradient reduction across ranks, clipping, AdamW (ZeRO-1 or replicated)
  OwnedTensor gather_moment(const Tensor& shard);  // a ZeRO-1 moment shard -> the full flat tensor

  TrainOptions opt_;
  std::unique_ptr<models::Model> model_;
  int64_t T_;
  CheckpointMeta meta_;
  par::Communicator& comm_;       // the launching communicator (host buffers)
  Exec ex_;
  std::unique_ptr<par::Communicator> device_comm_;  // CUDA: device buffers (NCCL, or local for one GPU)
  par::Communicator* grad_comm_;  // reduces gradients and ZeRO shards: device_comm_ on CUDA, else comm_
  mutable ParamStore store_;      // master parameters (f32) and their gradients
  std::unique_ptr<optim::MixedPrecision> mixed_;  // --dtype bf16
  std::unique_ptr<optim::AdamW> adamw_;
  optim::LrSchedule schedule_;
  std::unique_ptr<data::WindowLoader> train_, val_;
  Arena arena_;
  Rng rng_;
  TrainState state_;
  std::unique_ptr<MetricsWriter> metrics_;  // rank 0 only
  OwnedTensor inputs_, targets_;  // (B, T) this rank's micro-batch, on the host
  OwnedTensor dev_inputs_, dev_targets_;  // (B, T) their copies on the device (CUDA)
  OwnedTensor loss_sum_;          // (1) f32 on the device: the step's summed micro-batch losses
  OwnedTensor shard_grads_;       // ZeRO-1: this rank's reduced gradient shard (total / world)
  std::unique_ptr<par::GradSync> grad_sync_;  // replicated data parallel: bucketed, overlapped all-reduce
  double last_grad_norm_ = 0.0;
  bool stopped_ = false;
};

}  // namespace weft::launch
