// AdamW over a ParamStore: decoupled weight decay (only on parameters whose ParamInfo::weight_decay is
// set: matrices and embeddings, not norms or biases), bias-corrected moments held in two flat buffers
// laid out like the store. With a range [begin, end) of the flat layout (ZeRO-1), the moments cover only
// that shard and step() updates only it; checkpoints address the moments by parameter name.
// step() is one kernel launch over the whole range (multi-tensor AdamW): the decayed elements are given
// by a table of [begin, end) ranges built once from the parameters' flags (on the store's device).
#pragma once

#include <cstdint>
#include <vector>

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
  // State for the flat elements [begin, end) of the store (end < 0: to the end, i.e. unsharded).
  AdamW(const ParamStore& store, AdamWConfig cfg, int64_t begin = 0, int64_t end = -1);
  // One update of the range with learning rate lr; gradients are multiplied by grad_scale first (global-
  // norm clipping passes its factor here). grads: the range's gradients (end - begin elements, the
  // store's dtype); null means the store's own gradient buffer.
  void step(Exec& ex, ParamStore& store, float lr, float grad_scale = 1.0f, const void* grads = nullptr);

  int64_t steps() const { return t_; }
  void set_steps(int64_t t) { t_ = t; }
  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  const Tensor& m() const { return m_.tensor(); }  // (end - begin)
  const Tensor& v() const { return v_.tensor(); }
  const AdamWConfig& config() const { return cfg_; }
  // The decayed elements, relative to begin(): sorted, disjoint [begin, end) pairs, on the host.
  const std::vector<int64_t>& decay_ranges() const { return decay_ranges_; }

 private:
  AdamWConfig cfg_;
  int64_t begin_, end_;
  OwnedTensor m_, v_;
  std::vector<int64_t> decay_ranges_;  // (R, 2) on the host
  OwnedTensor decay_table_;            // (R, 2) i64 on the store's device (empty when R = 0)
  int64_t t_ = 0;
};

}  // namespace weft::optim
