// --pack segments: consecutive segments of long streams, for models with memory across steps. The split's
// tokens (its shards concatenated) are cut into one contiguous region per global stream; each stream walks
// its region segment after segment (segment = T tokens of input, the next T of target), so stream s's
// segment at step k directly follows its segment at step k - 1; at its region's end it starts the region
// again. Streams are the global stream ids of models::Batch::streams ((m * world + r) * B + b), so the
// data a stream sees does not depend on the rank count; the state is one cursor per stream (saved in
// checkpoints). Details and the region rule: docs/data-format.md.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/shard.h"

namespace weft::data {

// Regions: with N tokens and G streams, stream s's nominal region starts at floor(s N / G); when the shards
// record an end-of-text id the start moves forward to the first document start (position 0, or one after an
// end-of-text) inside the nominal region, if there is one, so a stream begins with a document. Region s ends
// where region s + 1 begins (the last at N). A segment at position p reads inputs [p, p + T) inside the
// region and targets [p + 1, p + T + 1) (the last one may be the next region's first token; at the end of
// the split it is kIgnoreIndex): a region of n tokens has n / T segments per pass; the tokens after the last
// whole segment are skipped, and the stream then starts its region again. So documents of a multiple of T
// tokens (the sorting task at a matching --seq-len) are cut into whole segments, each document beginning one.
// starts flag of a segment: 1 when p is the region's start (the stream's first segment, and the first of
// every later pass) or the token before p is end-of-text (p begins a document); else 0. A document that
// begins inside a segment is NOT flagged: a model with memory resets at segment granularity only.
// Without an end-of-text id (older shards) only the regions' starts are flagged.
class SegmentLoader {
 public:
  SegmentLoader(std::vector<std::shared_ptr<const Shard>> shards, int64_t seq_len, int64_t streams);

  // Loss mask shards parallel to the token shards (loss_mask.h); targets at 0 positions become kIgnoreIndex.
  void set_loss_mask(std::vector<std::shared_ptr<const Shard>> masks);
  bool masked() const { return !masks_.empty(); }

  int64_t streams() const { return G_; }
  int64_t seq_len() const { return T_; }
  int64_t tokens() const { return offset_.back(); }
  int64_t region_begin(int64_t stream) const { return begin_.at(static_cast<size_t>(stream)); }
  int64_t region_end(int64_t stream) const { return begin_.at(static_cast<size_t>(stream) + 1); }
  int64_t segments(int64_t stream) const { return (region_end(stream) - region_begin(stream)) / T_; }
  int64_t max_segments() const;  // the longest region's segments per pass

  // Stream `stream`'s current segment: inputs (T), targets (T), *start (its starts flag). Does not advance.
  void read(int64_t stream, int32_t* inputs, int32_t* targets, uint8_t* start) const;
  // Segment k (< segments(stream)) of a pass over the stream's region (evaluation): no cursor involved.
  void segment(int64_t stream, int64_t k, int32_t* inputs, int32_t* targets, uint8_t* start) const;
  // Every stream moves one segment on (every rank calls it once per step, after reading its rows).
  void advance();

  // Cursor of each stream: the token position of its next segment. set_cursors checks the count and that
  // each is a segment position of its stream's region (errors name the stream).
  const std::vector<int64_t>& cursors() const { return cursor_; }
  void set_cursors(const std::vector<int64_t>& cursors);

 private:
  void read_at(int64_t stream, int64_t pos, int32_t* inputs, int32_t* targets, uint8_t* start) const;
  // Tokens [begin, begin + n) of the concatenated split, or of the masks (masks = true).
  void copy(int64_t begin, int64_t n, int32_t* out) const;
  void mask(int64_t begin, int64_t n, int32_t* targets) const;
  int32_t token(int64_t pos) const;
  int64_t first_document_start(int64_t lo, int64_t hi) const;  // in [lo, hi), or -1

  std::vector<std::shared_ptr<const Shard>> shards_, masks_;
  std::vector<int64_t> offset_;  // first token of each shard in the concatenation, then N
  int64_t T_, G_;
  std::vector<int64_t> begin_;  // region s = [begin_[s], begin_[s + 1])
  std::vector<int64_t> cursor_;
  int32_t eot_ = -1;
};

}  // namespace weft::data
