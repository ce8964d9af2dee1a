// StridedWindows: per shard, the covered targets [0, W L), the window starts 0, S, ..., capped at (W - 1) L.
#include "data/strided_windows.h"

#include <algorithm>

#include "data/loader.h"
#include "data/loss_mask.h"
#include "runtime/check.h"

namespace weft::data {

namespace {

// Windows of a shard of n tokens: 1 + ceil(span / S) where span = (W - 1) L is the last window's start;
// none when W = 0.
int64_t shard_windows(int64_t n, int64_t L, int64_t S) {
  const int64_t W = n > 0 ? (n - 1) / L : 0;
  if (W == 0) return 0;
  const int64_t span = (W - 1) * L;
  return 1 + (span + S - 1) / S;
}

}  // namespace

StridedWindows::StridedWindows(std::vector<std::shared_ptr<const Shard>> shards,
                               std::vector<std::shared_ptr<const Shard>> masks, int64_t length, int64_t stride)
    : shards_(std::move(shards)), masks_(std::move(masks)), L_(length), S_(stride) {
  WEFT_CHECK(L_ >= 1, "[data] window length must be positive, got ", L_);
  WEFT_CHECK(S_ >= 1 && S_ <= L_, "[data] stride ", S_, " outside [1, ", L_, "]");
  WEFT_CHECK(masks_.empty() || masks_.size() == shards_.size(), "[data] ", masks_.size(), " loss mask shards for ",
             shards_.size(), " token shards");
  first_window_.push_back(0);
  for (const auto& s : shards_) {
    longest_ = std::max(longest_, s->size());
    first_window_.push_back(first_window_.back() + shard_windows(s->size(), L_, S_));
  }
}

StridedWindows::Place StridedWindows::locate(int64_t k) const {
  WEFT_CHECK(k >= 0 && k < windows(), "[data] window ", k, " outside [0, ", windows(), ")");
  // The shard holding window k: the last one whose first window is <= k (empty shards are skipped).
  const size_t s =
      static_cast<size_t>(std::upper_bound(first_window_.begin(), first_window_.end(), k) - first_window_.begin()) - 1;
  const int64_t j = k - first_window_[s];
  const int64_t span = ((shards_[s]->size() - 1) / L_ - 1) * L_;
  if (j == 0) return {s, 0, 0};
  const int64_t start = std::min(j * S_, span);
  const int64_t scored_until = (j - 1) * S_ + L_;  // the previous window's end: targets before it are scored
  return {s, start, scored_until - start};
}

int64_t StridedWindows::first_scored(int64_t k) const { return locate(k).first_scored; }

void StridedWindows::window(int64_t k, int32_t* inputs, int32_t* targets) const {
  const Place p = locate(k);
  const Shard& shard = *shards_[p.shard];
  shard.copy(p.start, L_, inputs);
  shard.copy(p.start + 1, L_, targets);
  if (!masks_.empty()) apply_loss_mask(*masks_[p.shard], p.start + 1, L_, targets);
  std::fill(targets, targets + p.first_scored, kIgnoreIndex);
}

}  // namespace weft::data
