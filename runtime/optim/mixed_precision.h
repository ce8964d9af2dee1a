// Mixed-precision parameters: fp32 master weights (the ParamStore the optimizer, the gradient
// reductions and the checkpoints see) and a compute copy in a narrower dtype (bf16) that the model runs
// on. Each step: refresh() rounds the master values into the compute copy; the backward accumulates
// gradients into the compute copy's grad buffer; fold_grads() adds them (widened) into the master
// gradients and zeroes them, per micro-batch and per data-parallel bucket, so gradients are summed
// across micro-batches and ranks in fp32. The two stores share the flat element layout, so a flat range
// [begin, end) means the same parameters in both.
#pragma once

#include <cstdint>

#include "runtime/exec.h"
#include "runtime/param_store.h"

namespace weft::optim {

class MixedPrecision {
 public:
  // master: finalized, its dtype wider than `compute_dtype` (f32 master / bf16 compute on the GPU).
  MixedPrecision(const ParamStore& master, DType compute_dtype);

  ParamStore& compute() { return compute_; }
  // compute values = master values, rounded (one cast over the flat buffer).
  void refresh(Exec& ex, const ParamStore& master);
  // master grads [begin, end) += compute grads [begin, end); compute grads [begin, end) = 0.
  void fold_grads(Exec& ex, ParamStore& master, int64_t begin, int64_t end);
  void fold_grads(Exec& ex, ParamStore& master) { fold_grads(ex, master, 0, master.total()); }

 private:
  ParamStore compute_;
};

}  // namespace weft::optim
