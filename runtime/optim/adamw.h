// AdamW over a ParamStore: decoupled weight decay (only on parameters whose ParamInfo::weight_decay is
// set: matrices and embeddings, not norms or biases), bias-corrected moments held in two flat buffers
// laid out like the store (so ZeRO-1 can shard them by range and checkpoints address them by name).
#pragma once

#include <cstdint>

#include "runtime/exec.h"
#include "runtime/memory.h"
#include "runtime/param_store.h"

namespace weft::optim {

struct AdamWConfig {
  float lr = 3e-4f;  // the schedule passes the current value to step()
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.1f;
};

class AdamW {
 public:
  AdamW(const ParamStore& store, AdamWConfig cfg);
  // One update of every parameter with learning rate lr; gradients are multiplied by grad_scale first
  // (global-norm clipping passes its factor here).
  void step(Exec& ex, ParamStore& store, float lr, float grad_scale = 1.0f);
  // Update only the flat element range [begin, end) of the store (ZeRO-1 shards); step() counts once.
  void step_range(Exec& ex, ParamStore& store, float lr, float grad_scale, int64_t begin, int64_t end);

  int64_t steps() const { return t_; }
  void set_steps(int64_t t) { t_ = t; }
  const Tensor& m() const { return m_.tensor(); }  // (total) like store.values()
  const Tensor& v() const { return v_.tensor(); }
  const AdamWConfig& config() const { return cfg_; }

 private:
  AdamWConfig cfg_;
  OwnedTensor m_, v_;
  int64_t t_ = 0;
};

}  // namespace weft::optim
