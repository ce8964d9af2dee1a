// Fixed-length training windows from a set of token shards, in a global order that does not depend on
// the number of ranks (a keyed Feistel permutation per epoch, no O(W) table), with a cursor that counts
// samples consumed globally; windows in file order for evaluation (sequential). A window is a span of the
// concatenated token stream (Packing::concat) or one document, truncated and right-padded with
// end-of-text whose pad targets are ignored (Packing::padded, the masked-mixer paper's data). Details:
// docs/data-format.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/shard.h"

namespace weft::data {

// Targets that do not count (ops::cross_entropy and ops::token_losses skip them).
inline constexpr int32_t kIgnoreIndex = -100;

// How samples are cut from a split (--pack).
enum class Packing {
  concat,  // window k = tokens [k T, k T + T + 1) of the concatenated stream: crosses documents, no padding
  padded,  // window k = document k: its first T + 1 tokens, right-padded with end-of-text, pad targets ignored
  segments,  // consecutive segments of one region per global stream: SegmentLoader (data/segments.h), not here
};

// Targets among targets[0, n) that count (are not kIgnoreIndex).
int64_t count_targets(const int32_t* targets, int64_t n);

// A bijection of [0, n) keyed by (seed, epoch): 4-round Feistel network (Philox round function) with
// cycle walking over the smallest even power of two >= n (at most 4 n, so < 4 walks on average).
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

// Packing::concat: window k (file order) is tokens [j T, j T + T + 1) of the shard that holds it, j its
// index there: W = sum over shards of (tokens - 1) / T windows.
// Packing::padded: window k is document k of the split (documents end at the shards' end-of-text id; empty
// ones are skipped; W = the documents). Inputs are its first T tokens, targets the next ones; positions past
// the document hold end-of-text as input and kIgnoreIndex as target. The document's own end-of-text is a pad
// too (ignored, as in the paper, whose pad token is its end-of-text); tokens past T + 1 are dropped. The
// documents are indexed once, at construction (one pass over the tokens).
// Sample s of the run is window perm_e(s mod W) of epoch
// e = s div W. The cursor is the number of samples consumed GLOBALLY; a global batch of b * world samples
// is split contiguously by rank, so a checkpoint stores one integer and a run resumed on a different
// number of ranks continues the same sequence of global batches.
class WindowLoader {
 public:
  WindowLoader(std::vector<std::shared_ptr<const Shard>> shards, int64_t seq_len, uint64_t seed,
               Packing packing = Packing::concat);
  WindowLoader(std::shared_ptr<const Shard> shard, int64_t seq_len, uint64_t seed, Packing packing = Packing::concat);

  // Loss mask shards parallel to the token shards (data/loss_mask.h): targets at 0 positions become
  // kIgnoreIndex, in every packing.
  void set_loss_mask(std::vector<std::shared_ptr<const Shard>> masks);
  bool masked() const { return !masks_.empty(); }

  int64_t windows() const { return windows_; }  // per epoch (padded: documents)
  Packing packing() const { return packing_; }
  int64_t seq_len() const { return T_; }
  uint64_t seed() const { return seed_; }
  int64_t epoch() const { return cursor_ / windows_; }  // of the next sample
  size_t shards() const { return shards_.size(); }

  // Sample `global_index` of the training order: inputs (T) and targets (T) = the next tokens.
  void sample(int64_t global_index, int32_t* inputs, int32_t* targets) const;
  // This rank's share of the next global batch of per_rank * world samples: samples
  // [cursor + rank * per_rank, cursor + (rank + 1) * per_rank). Advances the cursor by per_rank * world
  // on every rank. inputs/targets: (per_rank, T).
  void next_batch(int64_t per_rank, int rank, int world, int32_t* inputs, int32_t* targets);
  int64_t cursor() const { return cursor_; }
  void set_cursor(int64_t c);
  // Window k in file order (evaluation): tokens [j T, j T + T + 1) of its shard, or document k (padded).
  void sequential(int64_t k, int32_t* inputs, int32_t* targets) const;

 private:
  void index_documents(size_t shard);  // padded: appends the shard's non-empty documents
  std::vector<std::shared_ptr<const Shard>> shards_, masks_;
  std::vector<int64_t> first_window_;  // first global window of each shard, then W
  int64_t T_, windows_ = 0;
  uint64_t seed_;
  Packing packing_;
  int64_t cursor_ = 0;
  // padded: document k starts at token doc_start_[k] of its shard and has doc_len_[k] tokens, capped at
  // T + 1 (all that a window reads), without its end-of-text
  std::vector<int64_t> doc_start_;
  std::vector<uint32_t> doc_len_;
  int32_t eot_ = -1;
};

}  // namespace weft::data
