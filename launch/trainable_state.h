// TrainableState: what a training step updates and the update itself, one implementation shared by the
// trainer, `weft bench`, `weft eval`/`sample` (parameters only) and the CPU-vs-GPU parity test:
//   master     fp32 ParamStore (optimizer, reductions and checkpoints see it)
//   params()   what the model runs on: a bf16 mirror under mixed precision (runtime/optim/mixed_precision.h),
//              else the master itself
//   AdamW      over the flat range the GradReducer assigns this rank (all of it, or a ZeRO-1 shard)
// One step: micro-batches (forward, backward, end_micro_batch), then update(): reduce over ranks, clip to
// the global norm, AdamW, all-gather (ZeRO-1), zero the gradients, refresh the compute copy. The trainer
// runs update() in its two halves, reduce_gradients() then apply_update() or discard_gradients() (a skipped
// step: launch/step_guard.h).
#pragma once

#include <memory>
#include <string>

#include "launch/checkpoint.h"
#include "launch/init_from.h"
#include "models/model.h"
#include "parallel/grad_reducer.h"
#include "runtime/optim/adamw.h"
#include "runtime/optim/mixed_precision.h"

namespace weft::launch {

class TrainableState {
 public:
  // Declares the model's parameters on ex's device; the flat layout is padded to a multiple of
  // total_multiple (ZeRO-1: the world size). compute: f32, or bf16 for mixed precision (CUDA), or f64
  // (gradient checks).
  TrainableState(models::Model& model, Exec& ex, DType compute, int64_t total_multiple = 1);
  ~TrainableState();

  ParamStore& master() { return master_; }
  ParamStore& params() { return mixed_ ? mixed_->compute() : master_; }
  bool mixed_precision() const { return mixed_ != nullptr; }
  Exec& exec() { return ex_; }
  // What a Replicated reducer runs on a bucket's flat range just before reducing it (mixed precision: fold).
  par::GradReducer::RangeFn fold_fn();

  void initialize(uint64_t seed);  // every parameter from its initialiser; the compute copy follows
  // AdamW state for the reducer's update range.
  void attach_optimizer(const optim::AdamWConfig& cfg, const par::GradReducer& reducer);
  bool has_optimizer() const { return adamw_ != nullptr; }
  const optim::AdamW& optimizer() const { return *adamw_; }

  // After each micro-batch's backward: widen the compute copy's gradients into the master's, unless the
  // reducer already did so for this backward (GradReducer::attach returned true).
  void end_micro_batch(bool folded_by_reducer = false);
  // Reduce, clip, AdamW, gather, zero gradients, refresh. Returns the global gradient norm before clipping.
  double update(par::GradReducer& reducer, float lr, double clip_norm);
  // The same in two halves, so that the trainer can judge the step before AdamW touches anything
  // (launch/step_guard.h): reduce_gradients sums them over ranks and returns the global norm before clipping;
  // then every rank calls either apply_update (clip with that norm, AdamW, gather, zero, refresh) or
  // discard_gradients (zero them: weights, moments and the optimizer's step count stay as they were).
  double reduce_gradients(par::GradReducer& reducer);
  void apply_update(par::GradReducer& reducer, float lr, double clip_norm, double grad_norm);
  void discard_gradients();

  // Checkpoint I/O. The optimizer state as full flat tensors (collective under ZeRO-1; `keep` owns them).
  OptimState optimizer_state(par::GradReducer& reducer, OwnedTensor (&keep)[2]);
  // Loads parameters, and with an optimizer its moments (this rank's range) and step count; the
  // training bookkeeping into *state when given.
  void load(const std::string& checkpoint, TrainState* state);
  // --init-from: the parameters that match the checkpoint by name and shape (launch/init_from.h); the
  // compute copy follows. Optimizer and bookkeeping untouched.
  InitFromReport init_from(const std::string& checkpoint);

 private:
  Exec& ex_;
  ParamStore master_;
  std::unique_ptr<optim::MixedPrecision> mixed_;
  std::unique_ptr<optim::AdamW> adamw_;
};

}  // namespace weft::launch
