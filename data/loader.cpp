// Feistel permutation and the window loader.
#include "data/loader.h"

#include <vector>

#include "runtime/check.h"
#include "runtime/math/philox.h"

namespace weft::data {

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
  return out[0] & mask_;
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

WindowLoader::WindowLoader(std::shared_ptr<const Shard> shard, int64_t seq_len, uint64_t seed)
    : shard_(std::move(shard)), T_(seq_len), seed_(seed) {
  WEFT_CHECK(seq_len >= 1, "--seq-len must be positive, got ", seq_len);
  windows_ = (shard_->size() - 1) / T_;
  WEFT_CHECK(windows_ >= 1, "[data] shard '", shard_->path(), "' has ", shard_->size(), " tokens, fewer than one window of --seq-len ",
             T_, " + 1");
}

void WindowLoader::sample(int64_t global_index, int32_t* inputs, int32_t* targets) const {
  int64_t epoch = global_index / windows_, pos = global_index % windows_;
  int64_t w = Permutation(windows_, seed_, static_cast<uint64_t>(epoch))(pos);
  sequential(w, inputs, targets);
}

void WindowLoader::sequential(int64_t k, int32_t* inputs, int32_t* targets) const {
  WEFT_CHECK(k >= 0 && k < windows_, "[data] window ", k, " outside [0, ", windows_, ")");
  shard_->copy(k * T_, T_, inputs);
  shard_->copy(k * T_ + 1, T_, targets);
}

void WindowLoader::next_batch(int64_t per_rank, int rank, int world, int32_t* inputs, int32_t* targets) {
  WEFT_CHECK(world >= 1 && rank >= 0 && rank < world, "[data] rank ", rank, " of ", world);
  const int64_t first = cursor_ + static_cast<int64_t>(rank) * per_rank;
  for (int64_t b = 0; b < per_rank; ++b) sample(first + b, inputs + b * T_, targets + b * T_);
  cursor_ += per_rank * world;
}

}  // namespace weft::data
