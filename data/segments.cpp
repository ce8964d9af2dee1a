// The segment loader: regions found once at construction (a bounded scan for the first document start of
// each), then every read is two copies out of the mmapped shards and one token look-up for the flag.
#include "data/segments.h"

#include <algorithm>
#include <string>

#include "data/loader.h"
#include "data/loss_mask.h"
#include "runtime/check.h"

namespace weft::data {

SegmentLoader::SegmentLoader(std::vector<std::shared_ptr<const Shard>> shards, int64_t seq_len, int64_t streams)
    : shards_(std::move(shards)), T_(seq_len), G_(streams) {
  WEFT_CHECK(seq_len >= 1, "--seq-len must be positive, got ", seq_len);
  WEFT_CHECK(streams >= 1, "[data] --pack segments needs at least one stream, got ", streams);
  WEFT_CHECK(!shards_.empty(), "[data] the segment loader needs at least one shard");
  offset_.push_back(0);
  for (size_t s = 0; s < shards_.size(); ++s) {
    WEFT_CHECK(shards_[s] != nullptr, "[data] null shard");
    WEFT_CHECK(s == 0 || shards_[s]->eot() == shards_[0]->eot(), "[data] --pack segments: shard '",
               shards_[s]->path(), "' ends documents with ", shards_[s]->eot(), ", shard '", shards_[0]->path(),
               "' with ", shards_[0]->eot());
    offset_.push_back(offset_.back() + shards_[s]->size());
  }
  eot_ = shards_[0]->eot();
  const int64_t N = offset_.back();
  const std::string which = "shard '" + shards_[0]->path() + "'" + (shards_.size() > 1 ? " and the others" : "");
  WEFT_CHECK(N >= G_ * T_, "[data] --pack segments: ", which, " hold ", N, " tokens, fewer than ", G_,
             " streams x --seq-len ", T_, ": use fewer streams (batch size x ranks x --grad-accum) or a shorter "
             "--seq-len");
  // The nominal start floor(s N / G) = s q + floor(s r / G) with N = q G + r (s N may not fit 64 bits).
  const int64_t q = N / G_, r = N % G_;
  const auto nominal = [&](int64_t k) { return k * q + k * r / G_; };
  for (int64_t s = 0; s < G_; ++s) {
    const int64_t lo = nominal(s), hi = nominal(s + 1);
    const int64_t doc = eot_ >= 0 ? first_document_start(lo, hi) : -1;
    begin_.push_back(doc >= 0 ? doc : lo);
  }
  begin_.push_back(N);
  for (int64_t s = 0; s < G_; ++s)
    WEFT_CHECK(segments(s) >= 1, "[data] --pack segments: stream ", s, "'s region of ", which, " is tokens [",
               region_begin(s), ", ", region_end(s), "), shorter than --seq-len ", T_,
               " (documents longer than the regions move their starts): use fewer streams (batch size x ranks x "
               "--grad-accum = ", G_, ") or a shorter --seq-len");
  cursor_.assign(begin_.begin(), begin_.end() - 1);
}

void SegmentLoader::set_loss_mask(std::vector<std::shared_ptr<const Shard>> masks) {
  WEFT_CHECK(masks.empty() || masks.size() == shards_.size(), "[data] ", masks.size(), " loss-mask shards for ",
             shards_.size(), " token shards");
  for (size_t i = 0; i < masks.size(); ++i)
    WEFT_CHECK(masks[i]->size() == shards_[i]->size(), "[data] loss mask '", masks[i]->path(), "' holds ",
               masks[i]->size(), " values, its token shard ", shards_[i]->size(), " tokens");
  masks_ = std::move(masks);
}

int64_t SegmentLoader::max_segments() const {
  int64_t m = 0;
  for (int64_t s = 0; s < G_; ++s) m = std::max(m, segments(s));
  return m;
}

int32_t SegmentLoader::token(int64_t pos) const {
  const size_t s = static_cast<size_t>(std::upper_bound(offset_.begin(), offset_.end(), pos) - offset_.begin()) - 1;
  return shards_[s]->at(pos - offset_[s]);
}

void SegmentLoader::copy(int64_t begin, int64_t n, int32_t* out) const {
  size_t s = static_cast<size_t>(std::upper_bound(offset_.begin(), offset_.end(), begin) - offset_.begin()) - 1;
  while (n > 0) {
    const int64_t local = begin - offset_[s], take = std::min(n, shards_[s]->size() - local);
    shards_[s]->copy(local, take, out);
    begin += take;
    out += take;
    n -= take;
    ++s;
  }
}

void SegmentLoader::mask(int64_t begin, int64_t n, int32_t* targets) const {
  size_t s = static_cast<size_t>(std::upper_bound(offset_.begin(), offset_.end(), begin) - offset_.begin()) - 1;
  while (n > 0) {
    const int64_t local = begin - offset_[s], take = std::min(n, masks_[s]->size() - local);
    apply_loss_mask(*masks_[s], local, take, targets);
    begin += take;
    targets += take;
    n -= take;
    ++s;
  }
}

int64_t SegmentLoader::first_document_start(int64_t lo, int64_t hi) const {
  if (lo == 0) return 0;
  // p in [lo, hi) begins a document when token p - 1 is end-of-text: scan tokens [lo - 1, hi - 1).
  constexpr int64_t kChunk = 1 << 16;
  std::vector<int32_t> buf(static_cast<size_t>(kChunk));
  for (int64_t at = lo - 1; at < hi - 1; at += kChunk) {
    const int64_t n = std::min(kChunk, hi - 1 - at);
    copy(at, n, buf.data());
    for (int64_t i = 0; i < n; ++i)
      if (buf[static_cast<size_t>(i)] == eot_) return at + i + 1;
  }
  return -1;
}

void SegmentLoader::read_at(int64_t s, int64_t pos, int32_t* inputs, int32_t* targets, uint8_t* start) const {
  copy(pos, T_, inputs);
  const int64_t n = std::min(T_, tokens() - pos - 1);  // the split's last token has no target
  copy(pos + 1, n, targets);
  std::fill(targets + n, targets + T_, kIgnoreIndex);
  if (masked()) mask(pos + 1, n, targets);
  *start = pos == region_begin(s) || (eot_ >= 0 && token(pos - 1) == eot_) ? 1 : 0;
}

void SegmentLoader::read(int64_t stream, int32_t* inputs, int32_t* targets, uint8_t* start) const {
  WEFT_CHECK(stream >= 0 && stream < G_, "[data] stream ", stream, " outside [0, ", G_, ") (--pack segments)");
  read_at(stream, cursor_[static_cast<size_t>(stream)], inputs, targets, start);
}

void SegmentLoader::segment(int64_t stream, int64_t k, int32_t* inputs, int32_t* targets, uint8_t* start) const {
  WEFT_CHECK(stream >= 0 && stream < G_, "[data] stream ", stream, " outside [0, ", G_, ") (--pack segments)");
  WEFT_CHECK(k >= 0 && k < segments(stream), "[data] segment ", k, " of stream ", stream, " outside [0, ",
             segments(stream), ")");
  read_at(stream, region_begin(stream) + k * T_, inputs, targets, start);
}

void SegmentLoader::advance() {
  for (int64_t s = 0; s < G_; ++s) {
    int64_t& c = cursor_[static_cast<size_t>(s)];
    c += T_;
    if (c + T_ > region_end(s)) c = region_begin(s);  // the next pass over the region
  }
}

void SegmentLoader::set_cursors(const std::vector<int64_t>& cursors) {
  WEFT_CHECK(static_cast<int64_t>(cursors.size()) == G_, "[data] --pack segments: ", cursors.size(),
             " stream cursors for ", G_, " streams (the global batch, batch size x ranks x --grad-accum, must stay the "
             "same to continue a run)");
  for (int64_t s = 0; s < G_; ++s) {
    const int64_t c = cursors[static_cast<size_t>(s)], b = region_begin(s);
    WEFT_CHECK(c >= b && (c - b) % T_ == 0 && c + T_ <= region_end(s), "[data] --pack segments: cursor ", c,
               " of stream ", s, " is not a segment of its region [", b, ", ", region_end(s), ") at --seq-len ", T_,
               " (another data folder or --seq-len than the checkpoint's?)");
  }
  cursor_ = cursors;
}

}  // namespace weft::data
