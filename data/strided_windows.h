// Evaluation windows of length L cut from a split with a stride S (weft eval --lengths; spec E.2 / B.3):
// the length-extrapolation protocol's windows, in file order, each knowing which of its targets it scores.
// Within every shard (shards hold whole documents; windows never cross one), nonoverlap = stride L: windows
// [k L, k L + L + 1), every target scored once, as data::WindowLoader's sequential windows. Sliding (S < L):
// window starts 0, S, 2S, ...; the first window scores all L targets, every later one only the targets no
// earlier window scored (its last S, so each has >= L - S tokens of context). Both modes score exactly the
// same targets, [0, W L) of a shard of n tokens with W = (n - 1) / L: when S does not divide (W - 1) L, one
// last window ending at W L scores the fewer than S targets left.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/shard.h"

namespace weft::data {

class StridedWindows {
 public:
  // masks: the split's loss mask shards (data/loss_mask.h) or empty. 1 <= stride <= length (checked).
  StridedWindows(std::vector<std::shared_ptr<const Shard>> shards, std::vector<std::shared_ptr<const Shard>> masks,
                 int64_t length, int64_t stride);

  int64_t windows() const { return first_window_.back(); }
  int64_t length() const { return L_; }
  int64_t stride() const { return S_; }
  int64_t longest_shard() const { return longest_; }  // tokens (for the error when no window fits)

  // Window k in file order: inputs (L) and targets (L); targets it does not score (scored by an earlier
  // window, or masked out) are kIgnoreIndex.
  void window(int64_t k, int32_t* inputs, int32_t* targets) const;
  // The first position of window k whose target it scores (0, L - S, or more for a shard's last window).
  int64_t first_scored(int64_t k) const;

 private:
  struct Place {
    size_t shard;
    int64_t start, first_scored;
  };
  Place locate(int64_t k) const;
  std::vector<std::shared_ptr<const Shard>> shards_, masks_;
  std::vector<int64_t> first_window_;  // first global window of each shard, then the total
  int64_t L_, S_, longest_ = 0;
};

}  // namespace weft::data
