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
  const Embeddings& e_;
  std::vector<int64_t> pool_;   // pair indices of the split
  int64_t slots_;
  uint64_t seed_;
  bool shuffle_;
  int64_t order_epoch_ = -1;    // the epoch whose permutation order_ holds
  std::vector<int64_t> order_;  // pool positions in that epoch's order
};

}  // namespace weft::launch
