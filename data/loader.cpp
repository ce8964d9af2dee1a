// Feistel permutation, the window loader and evaluation batches.
// Windows are located by binary search over the first window of each shard; padded documents by the
// document index built at construction.
#include "data/loader.h"

#include <algorithm>
#include <limits>

#include "data/loss_mask.h"
#include "runtime/check.h"
#include "runtime/math/philox.h"

namespace weft::data {

int64_t count_targets(const int32_t* targets, int64_t n) {
  int64_t counted = 0;
  for (int64_t i = 0; i < n; ++i) counted += targets[i] != kIgnoreIndex;
  return counted;
}

Permutation::Permutation(int64_t n, uint64_t seed, uint64_t epoch) : n_(n) {
  WEFT_CHECK(n > 0, "[data] cannot permute an empty range");
  int bits = 2;
  while ((int64_t(1) << bits) < n) ++bits;
  if (bits % 2) ++bits;
  half_bits_ = bits / 2;
  mask_ = (uint64_t(1) << half_bits_) - 1;
  key_ = seed * 0x9E3779B97F4A7C15ull ^ (epoch + 1) * 0xC2B2AE3D27D4EB4Full;
}

uint64_t Permutation::round(uint64_t x, int r) const {
  uint32_t out[4];
  philox4x32(out, PhiloxKey{uint32_t(key_), uint32_t(key_ >> 32)}, x, static_cast<uint32_t>(r));
  return out[0] & mask_;  // half_bits_ <= 32
}

int64_t Permutation::operator()(int64_t i) const {
  WEFT_CHECK(i >= 0 && i < n_, "[data] permutation index ", i, " outside [0, ", n_, ")");
  uint64_t x = static_cast<uint64_t>(i);
  do {  // cycle walking: re-encrypt until the value falls inside [0, n)
    uint64_t left = x >> half_bits_, right = x & mask_;
    for (int r = 0; r < 4; ++r) {
      uint64_t next = left ^ round(right, r);
      left = right;
      right = next;
    }
    x = (left << half_bits_) | right;
  } while (x >= static_cast<uint64_t>(n_));
  return static_cast<int64_t>(x);
}

WindowLoader::WindowLoader(std::vector<std::shared_ptr<const Shard>> shards, int64_t seq_len, uint64_t seed,
                           Packing packing)
    : shards_(std::move(shards)), T_(seq_len), seed_(seed), packing_(packing) {
  WEFT_CHECK(seq_len >= 1, "--seq-len must be positive, got ", seq_len);
  WEFT_CHECK(!shards_.empty(), "[data] the window loader needs at least one shard");
  WEFT_CHECK(packing_ != Packing::segments, "[data] --pack segments reads through SegmentLoader, not WindowLoader");
  int64_t tokens = 0;
  for (size_t s = 0; s < shards_.size(); ++s) {
    WEFT_CHECK(shards_[s] != nullptr, "[data] null shard");
    first_window_.push_back(windows_);
    if (packing_ == Packing::padded) {
      index_documents(s);
      windows_ = static_cast<int64_t>(doc_start_.size());
    } else {
      windows_ += std::max<int64_t>(0, (shards_[s]->size() - 1) / T_);  // a shard shorter than T + 1 gives none
    }
    tokens += shards_[s]->size();
  }
  first_window_.push_back(windows_);
  const std::string which = "shard '" + shards_[0]->path() + "'" + (shards_.size() > 1 ? " and the others" : "");
  if (packing_ == Packing::padded)
    WEFT_CHECK(windows_ >= 1, "[data] ", which, " hold ", tokens, " tokens and no document (--pack padded)");
  else
    WEFT_CHECK(windows_ >= 1, "[data] ", which, " hold ", tokens, " tokens, fewer than one window of --seq-len ", T_,
               " + 1");
}

WindowLoader::WindowLoader(std::shared_ptr<const Shard> shard, int64_t seq_len, uint64_t seed, Packing packing)
    : WindowLoader(std::vector<std::shared_ptr<const Shard>>{std::move(shard)}, seq_len, seed, packing) {}

void WindowLoader::index_documents(size_t s) {
  const Shard& shard = *shards_[s];
  WEFT_CHECK(shard.eot() >= 0, "[data] --pack padded: shard '", shard.path(),
             "' records no end-of-text id, so its documents cannot be found (re-run `weft prepare`)");
  WEFT_CHECK(s == 0 || shard.eot() == eot_, "[data] --pack padded: shard '", shard.path(), "' ends documents with ",
             shard.eot(), ", shard '", shards_[0]->path(), "' with ", eot_);
  WEFT_CHECK(T_ < std::numeric_limits<uint32_t>::max(), "--seq-len ", T_, " is too long for --pack padded");
  eot_ = shard.eot();
  const uint32_t cap = static_cast<uint32_t>(T_ + 1);
  auto add = [&](int64_t begin, int64_t end) {  // document [begin, end), end at its end-of-text
    if (end == begin) return;                   // empty document
    doc_start_.push_back(begin);
    doc_len_.push_back(static_cast<uint32_t>(std::min<int64_t>(end - begin, cap)));
  };
  doc_start_.reserve(doc_start_.size() + static_cast<size_t>(shard.documents()) + 1);
  doc_len_.reserve(doc_len_.size() + static_cast<size_t>(shard.documents()) + 1);
  constexpr int64_t kChunk = 1 << 16;  // scan through a small buffer: one pass, vectorised widening
  std::vector<int32_t> buf(static_cast<size_t>(kChunk));
  int64_t begin = 0;
  for (int64_t at = 0; at < shard.size(); at += kChunk) {
    const int64_t n = std::min(kChunk, shard.size() - at);
    shard.copy(at, n, buf.data());
    for (int64_t i = 0; i < n; ++i)
      if (buf[i] == eot_) {
        add(begin, at + i);
        begin = at + i + 1;
      }
  }
  add(begin, shard.size());  // a last document without end-of-text (its end-of-text target is a pad anyway)
}

void WindowLoader::set_loss_mask(std::vector<std::shared_ptr<const Shard>> masks) {
  WEFT_CHECK(masks.empty() || masks.size() == shards_.size(), "[data] ", masks.size(), " loss-mask shards for ",
             shards_.size(), " token shards");
  for (size_t i = 0; i < masks.size(); ++i)
    WEFT_CHECK(masks[i]->size() == shards_[i]->size(), "[data] loss mask '", masks[i]->path(), "' holds ",
               masks[i]->size(), " values, its token shard ", shards_[i]->size(), " tokens");
  masks_ = std::move(masks);
}

void WindowLoader::set_cursor(int64_t c) {
  WEFT_CHECK(c >= 0, "[data] loader cursor must be >= 0, got ", c);
  cursor_ = c;
}

void WindowLoader::sample(int64_t global_index, int32_t* inputs, int32_t* targets) const {
  WEFT_CHECK(global_index >= 0, "[data] sample index ", global_index, " < 0");
  const int64_t epoch = global_index / windows_, pos = global_index % windows_;
  sequential(Permutation(windows_, seed_, static_cast<uint64_t>(epoch))(pos), inputs, targets);
}

void WindowLoader::sequential(int64_t k, int32_t* inputs, int32_t* targets) const {
  WEFT_CHECK(k >= 0 && k < windows_, "[data] window ", k, " outside [0, ", windows_, ")");
  // The shard holding window k: the last one whose first window is <= k (empty shards are skipped).
  const size_t s =
      static_cast<size_t>(std::upper_bound(first_window_.begin(), first_window_.end(), k) - first_window_.begin()) - 1;
  if (packing_ == Packing::padded) {
    const int64_t start = doc_start_[k], n = doc_len_[k];  // 1 <= n <= T + 1
    const int64_t in = std::min(n, T_), tg = n - 1;
    shards_[s]->copy(start, in, inputs);
    std::fill(inputs + in, inputs + T_, eot_);
    shards_[s]->copy(start + 1, tg, targets);
    std::fill(targets + tg, targets + T_, kIgnoreIndex);  // the end-of-text target and the pads
    if (masked()) apply_loss_mask(*masks_[s], start + 1, tg, targets);
    return;
  }
  const int64_t start = (k - first_window_[s]) * T_;
  shards_[s]->copy(start, T_, inputs);
  shards_[s]->copy(start + 1, T_, targets);
  if (masked()) apply_loss_mask(*masks_[s], start + 1, T_, targets);
}

void WindowLoader::next_batch(int64_t per_rank, int rank, int world, int32_t* inputs, int32_t* targets) {
  WEFT_CHECK(world >= 1 && rank >= 0 && rank < world, "[data] rank ", rank, " of ", world);
  WEFT_CHECK(per_rank >= 1, "[data] per-rank batch size must be positive, got ", per_rank);
  const int64_t first = cursor_ + static_cast<int64_t>(rank) * per_rank;
  for (int64_t b = 0; b < per_rank; ++b) sample(first + b, inputs + b * T_, targets + b * T_);
  cursor_ += per_rank * world;
}

}  // namespace weft::data
