// Retrieval samples (spec masked-mixer.md A.10 item 5) from an embeddings file: for a pair of the pool,
//   slot 0           the pair's query embedding
//   slots 1 .. N-1   the true document at a slot t* ~ U{1 .. N-1}, the others documents drawn uniformly
//                    WITHOUT replacement from the pool's other pairs (never the query's own document); the
//                    spec draws N - 1 and overwrites slot t* with the true one, the same distribution
//   label            t* - 1 (an index into the N - 1 candidate scores)
// Every draw is a counter-based Philox function of (seed, epoch, pool position): sample k of the endless
// training stream is epoch k / pool, position k % pool of that epoch's permutation of the pool, so a
// resumed run (which knows only its step) draws exactly what the uninterrupted run would have, and the
// draws do not depend on batching or thread count. Evaluation uses epoch 0 without shuffling.
#pragma once

#include <cstdint>
#include <vector>

#include "launch/embeddings_file.h"

namespace weft::launch {

// The draws alone, over a pool of P items by position (shared with `weft train --objective infonce`, whose
// groups [query, document_1 .. document_{N-1}] are drawn the same way from the train pairs).
class SlotSampler {
 public:
  SlotSampler(int64_t pool_size, int64_t slots, uint64_t seed, bool shuffle)
      : P_(pool_size), slots_(slots), seed_(seed), shuffle_(shuffle) {}
  int64_t size() const { return P_; }
  // Sample k of the stream: slot_items[0] = the query's pool position, slot_items[s] (s = 1 .. N-1) the pool
  // position of the document in slot s (the query's own at the returned label + 1).
  int32_t sample(int64_t k, int64_t* slot_items);
  // The same for pool position p at epoch e (unshuffled position).
  int32_t sample_at(int64_t epoch, int64_t p, int64_t* slot_items) const;

 private:
  int64_t P_, slots_;
  uint64_t seed_;
  bool shuffle_;
  int64_t order_epoch_ = -1;    // the epoch whose permutation order_ holds
  std::vector<int64_t> order_;  // pool positions in that epoch's order
};

class RetrievalSampler {
 public:
  // The pool: the pairs of split `split` (0 train, 1 val), in file order. Throws a UsageError naming
  // --candidates when the pool has fewer than `slots` pairs (N - 1 negatives besides the true document).
  RetrievalSampler(const Embeddings& e, int32_t split, int64_t slots, uint64_t seed, bool shuffle);
  int64_t size() const { return static_cast<int64_t>(pool_.size()); }

  // Sample k of the stream into x (N, d) (f32, host); returns its label.
  int32_t sample(int64_t k, float* x);
  // The sample of pool position p at epoch e (unshuffled position).
  int32_t sample_at(int64_t epoch, int64_t p, float* x) const;

 private:
  void copy_rows(const int64_t* slot_items, float* x) const;
  const Embeddings& e_;
  std::vector<int64_t> pool_;   // pair indices of the split
  int64_t slots_;
  SlotSampler draws_;
};

}  // namespace weft::launch
