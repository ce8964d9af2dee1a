// GradReducer: how a data-parallel step turns every rank's accumulated gradients into one update.
//   Replicated  every rank all-reduces the whole gradient (bucketed, overlapping the last backward:
//               GradSync) and updates every parameter; one rank is the degenerate case.
//   Zero1       reduce-scatter: each rank receives the summed gradient of its equal shard of the flat
//               layout, updates only that shard (AdamW state for it alone), then all-gathers parameters.
// The reducer owns the communication; TrainableState (launch/) owns the arithmetic (clip, AdamW).
// Gradients and shards live on the model's device (grad_comm: NCCL or device-local on CUDA); host
// values (norm partials) go through host_comm.
// Expert parallelism (ExpertGrads): ParamGroup::expert parameters hold this rank's expert shard, so their
// gradients are summed over the replicas of that shard only, and the gradient norm is that of the whole
// logical model: dense part once, the expert shards' squares summed over the expert group.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "parallel/comm.h"
#include "parallel/data_parallel.h"
#include "runtime/exec.h"
#include "runtime/graph.h"
#include "runtime/memory.h"
#include "runtime/param_store.h"

namespace weft::par {

class GradReducer {
 public:
  using RangeFn = GradSync::RangeFn;  // (begin, end) flat range: fold mixed-precision gradients there
  virtual ~GradReducer() = default;
  virtual std::string name() const = 0;
  // The flat range [begin, end) of the master store this rank updates (its optimizer state covers it).
  virtual int64_t update_begin() const = 0;
  virtual int64_t update_end() const = 0;
  // Called before the last micro-batch's backward. True when the reducer folds the mixed-precision
  // gradients of that backward itself (per bucket, just before reducing it).
  virtual bool attach(Graph& g) {
    (void)g;
    return false;
  }
  // Sums the step's gradients over ranks; returns the global L2 norm of the summed gradient. After it,
  // update_grads() holds the summed gradients of the update range.
  virtual double reduce(Exec& ex, ParamStore& master) = 0;
  // (update_end - update_begin) summed gradients, in master's dtype and on its device.
  virtual void* update_grads(ParamStore& master) = 0;
  // After the update range was updated: every rank gets the whole updated parameters.
  virtual void after_update(ParamStore& master) { (void)master; }
  // A buffer laid out like the update range (an AdamW moment) as the full flat tensor (total elements),
  // for checkpoints. Collective.
  virtual OwnedTensor gather_full(const Tensor& range, int64_t total) = 0;
};

// Where expert gradients go (null in make_grad_reducer, or E = 1: expert parameters are treated as dense).
struct ExpertGrads {
  Communicator* replicas = nullptr;    // the D ranks with this rank's shard (device buffers, like grad_comm)
  Communicator* group_host = nullptr;  // the E ranks of this rank's expert group (host values: norm partials)
};

// zero = 0: Replicated (bucket_bytes per all-reduce; a one-rank communicator needs no buckets), 1: Zero1.
// master must be finalized with total() a multiple of grad_comm.size() for Zero1 (ParamStore::finalize).
// experts: Replicated only (Zero1 shards the flat layout over the world, which would mix expert shards of
// different ranks: refused when the store has expert parameters).
std::unique_ptr<GradReducer> make_grad_reducer(int zero, ParamStore& master, Communicator& grad_comm,
                                               Communicator& host_comm, int64_t bucket_bytes,
                                               GradReducer::RangeFn fold = {}, const ExpertGrads* experts = nullptr);

// Sum of squares of the gradients of every parameter of `group` (alignment padding is zero).
double group_grad_sum_squares(Exec& ex, const ParamStore& store, ParamGroup group);

}  // namespace weft::par
