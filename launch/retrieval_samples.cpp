// SlotSampler / RetrievalSampler: Philox streams keyed by the seed; stream 2e holds epoch e's permutation,
// stream 2e + 1 the draws of its samples (counter = pool position << 32 | draw), so no two uses share a counter.
// RetrievalSampler copies the embedding rows of SlotSampler's draws.
#include "launch/retrieval_samples.h"

#include <algorithm>
#include <numeric>

#include "launch/options.h"
#include "runtime/math/philox.h"

namespace weft::launch {

namespace {

// Uniform integer in [0, n) from one 32-bit word (multiply-shift; bias below n / 2^32).
int64_t below(uint32_t word, int64_t n) { return static_cast<int64_t>((uint64_t(word) * uint64_t(n)) >> 32); }

PhiloxKey key_of(uint64_t seed) { return PhiloxKey{uint32_t(seed), uint32_t(seed >> 32)}; }

}  // namespace

RetrievalSampler::RetrievalSampler(const Embeddings& e, int32_t split, int64_t slots, uint64_t seed, bool shuffle)
    : e_(e), slots_(slots), draws_(0, slots, seed, shuffle) {
  for (int64_t i = 0; i < e.pairs; ++i)
    if (e.split[static_cast<size_t>(i)] == split) pool_.push_back(i);
  draws_ = SlotSampler(size(), slots, seed, shuffle);
  const char* name = split == 0 ? "train" : "val";
  if (slots < 2) throw UsageError("--candidates must be >= 2 (the query and at least one candidate)");
  if (size() < slots)
    throw UsageError("--candidates " + std::to_string(slots) + " needs " + std::to_string(slots - 1) +
                     " documents besides the true one, but the " + name + " pool of " + e.pairs_file + " has " +
                     std::to_string(size()) + " pairs (at most --candidates " + std::to_string(size()) + ")");
}

void RetrievalSampler::copy_rows(const int64_t* slot_items, float* x) const {
  const int64_t d = e_.dim;
  auto row = [&](const std::vector<float>& m, int64_t pool_pos) {
    return m.data() + pool_[static_cast<size_t>(pool_pos)] * d;
  };
  std::copy_n(row(e_.queries, slot_items[0]), d, x);
  for (int64_t s = 1; s < slots_; ++s) std::copy_n(row(e_.documents, slot_items[s]), d, x + s * d);
}

int32_t RetrievalSampler::sample(int64_t k, float* x) {
  std::vector<int64_t> items(static_cast<size_t>(slots_));
  const int32_t label = draws_.sample(k, items.data());
  copy_rows(items.data(), x);
  return label;
}

int32_t RetrievalSampler::sample_at(int64_t epoch, int64_t p, float* x) const {
  std::vector<int64_t> items(static_cast<size_t>(slots_));
  const int32_t label = draws_.sample_at(epoch, p, items.data());
  copy_rows(items.data(), x);
  return label;
}

int32_t SlotSampler::sample(int64_t k, int64_t* slot_items) {
  const int64_t P = size(), epoch = k / P, pos = k % P;
  if (!shuffle_) return sample_at(epoch, pos, slot_items);
  if (order_epoch_ != epoch) {  // Fisher-Yates with Philox words of stream 2 * epoch
    order_.resize(static_cast<size_t>(P));
    std::iota(order_.begin(), order_.end(), 0);
    uint32_t w[4];
    for (int64_t i = P - 1; i > 0; --i) {
      philox4x32(w, key_of(seed_), static_cast<uint64_t>(i), static_cast<uint32_t>(2 * epoch));
      std::swap(order_[static_cast<size_t>(i)], order_[static_cast<size_t>(below(w[0], i + 1))]);
    }
    order_epoch_ = epoch;
  }
  return sample_at(epoch, order_[static_cast<size_t>(pos)], slot_items);
}

int32_t SlotSampler::sample_at(int64_t epoch, int64_t p, int64_t* slot_items) const {
  const int64_t N = slots_, P = size();
  const uint32_t stream = static_cast<uint32_t>(2 * epoch + 1);
  uint64_t counter = static_cast<uint64_t>(p) << 32;
  uint32_t w[4];
  int used = 4;
  auto word = [&] {
    if (used == 4) {
      philox4x32(w, key_of(seed_), counter++, stream);
      used = 0;
    }
    return w[used++];
  };
  const int64_t truth = 1 + below(word(), N - 1);  // the true document's slot
  std::vector<int64_t> chosen;                     // pool positions of the negatives
  chosen.reserve(static_cast<size_t>(N - 1));
  while (static_cast<int64_t>(chosen.size()) < N - 2) {
    int64_t q = below(word(), P - 1);
    if (q >= p) ++q;  // skip the query's own document
    if (std::find(chosen.begin(), chosen.end(), q) == chosen.end()) chosen.push_back(q);
  }
  slot_items[0] = p;
  for (int64_t s = 1, n = 0; s < N; ++s) slot_items[s] = s == truth ? p : chosen[static_cast<size_t>(n++)];
  return static_cast<int32_t>(truth - 1);
}

}  // namespace weft::launch
