// Fixed-length training windows from a token shard, in a global order that does not depend on the
// number of ranks: sample s of the run is window perm_epoch(s mod W) of epoch s div W, where perm is a
// keyed Feistel permutation (no O(W) table) of the W = (tokens - 1) / T non-overlapping windows.
// The cursor is the number of samples consumed GLOBALLY; a global batch of b * world samples is split
// contiguously by rank. So a checkpoint stores one integer, and a run resumed on a different number of
// ranks continues the same sequence of global batches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "data/shard.h"

namespace weft::data {

// A bijection of [0, n) keyed by (seed, epoch): 4-round Feistel network with cycle walking.
class Permutation {
 public:
  Permutation(int64_t n, uint64_t seed, uint64_t epoch);
  int64_t operator()(int64_t i) const;

 private:
  uint64_t round(uint64_t x, int r) const;
  int64_t n_;
  int half_bits_;
  uint64_t mask_, key_;
};

class WindowLoader {
 public:
  WindowLoader(std::shared_ptr<const Shard> shard, int64_t seq_len, uint64_t seed);

  int64_t windows() const { return windows_; }  // per epoch
  int64_t seq_len() const { return T_; }
  // Sample `global_index` of the training order: inputs (T) and targets (T) = the next tokens.
  void sample(int64_t global_index, int32_t* inputs, int32_t* targets) const;
  // This rank's share of the next global batch (global_batch = per_rank * world); advances the cursor
  // by global_batch. inputs/targets: (per_rank, T).
  void next_batch(int64_t per_rank, int rank, int world, int32_t* inputs, int32_t* targets);
  int64_t cursor() const { return cursor_; }
  void set_cursor(int64_t c) { cursor_ = c; }
  // Window k in file order (for evaluation): tokens [k T, k T + T + 1).
  void sequential(int64_t k, int32_t* inputs, int32_t* targets) const;

 private:
  std::shared_ptr<const Shard> shard_;
  int64_t T_, windows_;
  uint64_t seed_;
  int64_t cursor_ = 0;
};

}  // namespace weft::data
