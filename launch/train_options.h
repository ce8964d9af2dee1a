// The [train], [data] and [checkpoint] flag groups of `weft train`, and their typed form.
#pragma once

#include <cstdint>
#include <string>

#include "launch/options.h"

namespace weft::launch {

struct TrainOptions {
  std::string data, out;
  int64_t steps = 1000, batch_size = 8, grad_accum = 1;
  double lr = 1e-3, min_lr = 1e-4, weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, clip = 1.0;
  int64_t warmup = 100;
  int64_t decay_steps = 0;  // length of the LR schedule (0: --steps)
  std::string schedule = "cosine";
  uint64_t seed = 1337;
  int64_t eval_every = 100, eval_batches = 20, log_every = 10;
  int threads = 0;
  int zero = 0;
  double bucket_mb = 25.0;  // gradient all-reduce bucket size  // 1: shard AdamW state across ranks (ZeRO stage 1)
  int64_t save_every = 0, keep_checkpoints = 3;
  bool save_on_exit = true;
  std::string resume;  // "", PATH, "latest" or "auto"
};

void add_train_options(OptionSet& set);
TrainOptions train_options(const po::variables_map& vm);  // validates; errors name the flag

}  // namespace weft::launch
