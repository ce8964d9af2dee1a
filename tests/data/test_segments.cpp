// --pack segments (data/segments.h): regions partition the split (several shards), each stream's segments
// follow one another and wrap at the region's end, regions move to document starts, starts flags (document
// starts, region starts, old shards without end-of-text), cursors (resume equals the uninterrupted run,
// wrong counts and positions refused), a stream's data does not depend on how streams map to ranks, the last
// target of the split is ignored; loss masks (applied, across shards, validated against the tokens).
#include <gtest/gtest.h>

#include <numeric>

#include "data/loader.h"
#include "data/loss_mask.h"
#include "data/segments.h"
#include "data/shard.h"
#include "data_test_util.h"

namespace weft::data {
namespace {

using test::expect_error;
using test::TempDir;

// Tokens [first, first + n): token i is its position, so a segment is recognisable by its first input.
std::shared_ptr<const Shard> counting_shard(const TempDir& dir, const std::string& name, int64_t first, int64_t n) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), static_cast<int32_t>(first));
  write_shard(dir / name, t, 1 << 20);
  return std::make_shared<const Shard>(dir / name);
}

struct Segment {
  std::vector<int32_t> in, tg;
  uint8_t start = 0;
};

Segment read(const SegmentLoader& l, int64_t s) {
  Segment g{std::vector<int32_t>(l.seq_len()), std::vector<int32_t>(l.seq_len()), 0};
  l.read(s, g.in.data(), g.tg.data(), &g.start);
  return g;
}

TEST(Segments, StreamsWalkContiguousRegionsInOrderAcrossShards) {
  TempDir dir("seg");
  // 100 tokens in two shards; 3 streams, T = 5: nominal regions [0, 33), [33, 66), [66, 100) (no documents).
  SegmentLoader l({counting_shard(dir, "a.bin", 0, 40), counting_shard(dir, "b.bin", 40, 60)}, 5, 3);
  EXPECT_EQ(l.tokens(), 100);
  EXPECT_EQ(l.region_begin(0), 0);
  EXPECT_EQ(l.region_begin(1), 33);
  EXPECT_EQ(l.region_begin(2), 66);
  EXPECT_EQ(l.region_end(2), 100);
  EXPECT_EQ(l.segments(0), 6);  // 33 / 5
  EXPECT_EQ(l.segments(2), 6);  // 34 / 5
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t k = 0; k < 6; ++k) {
      for (int64_t s = 0; s < 3; ++s) {
        Segment g = read(l, s);
        const int32_t p = static_cast<int32_t>(l.region_begin(s) + 5 * k);
        for (int64_t t = 0; t < 5; ++t) {
          EXPECT_EQ(g.in[t], p + t) << "stream " << s << " segment " << k << " (crosses the shard boundary at 40)";
          EXPECT_EQ(g.tg[t], p + t + 1);
        }
        EXPECT_EQ(g.start, k == 0 ? 1 : 0) << "no end-of-text: only the region's start is flagged";
      }
      l.advance();  // after the 6th segment every stream wraps to its region's start
    }
}

TEST(Segments, TheSplitsLastTargetIsIgnored) {
  TempDir dir("seg");
  SegmentLoader l({counting_shard(dir, "a.bin", 0, 20)}, 5, 2);  // regions [0, 10), [10, 20): 2 segments each
  l.advance();
  Segment g = read(l, 1);  // tokens [15, 20): the target of 19 would be token 20
  EXPECT_EQ(g.tg[3], 19);
  EXPECT_EQ(g.tg[4], kIgnoreIndex);
  EXPECT_EQ(read(l, 0).tg[4], 10) << "inside the split the last target is the next region's first token";
}

// Documents of the given lengths (end-of-text 0 included in the length), other tokens 1 + position.
std::shared_ptr<const Shard> document_shard(const TempDir& dir, const std::vector<int>& lengths, int32_t eot = 0) {
  std::vector<int32_t> t;
  for (int n : lengths) {
    for (int i = 0; i + 1 < n; ++i) t.push_back(static_cast<int32_t>(1 + t.size()));
    t.push_back(eot);
  }
  write_shard(dir / "docs.bin", t, 1 << 20, eot);
  return std::make_shared<const Shard>(dir / "docs.bin");
}

TEST(Segments, RegionsStartAtDocumentsAndStartsFlagDocumentStartsAtSegmentGranularity) {
  TempDir dir("seg");
  // Documents start at 0, 8, 20, 24, 40, 52 (N = 60); 2 streams: nominal [0, 30), [30, 60); stream 1 moves to 40.
  SegmentLoader l({document_shard(dir, {8, 12, 4, 16, 12, 8})}, 4, 2);
  EXPECT_EQ(l.region_begin(1), 40);
  EXPECT_EQ(l.segments(0), 10);
  EXPECT_EQ(l.segments(1), 5);
  std::vector<int> flags0;
  for (int64_t k = 0; k < 10; ++k, l.advance()) flags0.push_back(read(l, 0).start);
  // Segments of stream 0 start at 0, 4, ..., 36: documents begin at 0, 8, 20, 24 (a segment start each).
  EXPECT_EQ(flags0, (std::vector<int>{1, 0, 1, 0, 0, 1, 1, 0, 0, 0}));
  // A document starting inside a segment is not flagged: T = 3 puts the start at 8 inside [6, 9).
  SegmentLoader odd({document_shard(dir, {8, 12, 4, 16, 12, 8})}, 3, 1);
  Segment g;
  g.in.resize(3), g.tg.resize(3);
  odd.segment(0, 2, g.in.data(), g.tg.data(), &g.start);
  EXPECT_EQ(g.start, 0);
  odd.segment(0, 3, g.in.data(), g.tg.data(), &g.start);
  EXPECT_EQ(g.start, 0);
  // One document longer than a nominal region: no start inside it, the nominal start stays (flagged 1).
  SegmentLoader one({document_shard(dir, {60})}, 4, 3);
  EXPECT_EQ(one.region_begin(1), 20);
  EXPECT_EQ(read(one, 1).start, 1);
}

TEST(Segments, CursorsResumeExactlyAndAreValidated) {
  TempDir dir("seg");
  auto shard = counting_shard(dir, "a.bin", 0, 200);
  SegmentLoader a({shard}, 7, 4), b({shard}, 7, 4);
  for (int i = 0; i < 9; ++i) a.advance();
  b.set_cursors(a.cursors());
  for (int i = 0; i < 20; ++i, a.advance(), b.advance())
    for (int64_t s = 0; s < 4; ++s) {
      EXPECT_EQ(read(a, s).in, read(b, s).in);
      EXPECT_EQ(read(a, s).start, read(b, s).start);
    }
  expect_error([&] { b.set_cursors({0, 50, 100}); }, {"3 stream cursors for 4 streams", "must stay the same"});
  expect_error([&] { b.set_cursors({0, 51, 100, 150}); }, {"cursor 51 of stream 1", "--seq-len 7"});
  expect_error([&] { SegmentLoader({shard}, 60, 4); }, {"fewer than 4 streams x --seq-len 60"});
}

TEST(Segments, AStreamsDataDoesNotDependOnTheRankLayout) {
  TempDir dir("seg");
  auto shard = counting_shard(dir, "a.bin", 0, 500);
  // Global batch 4: 1 rank x accum 2 x B 2 and 2 ranks x accum 1 x B 2 read global streams 0..3 by the same
  // ids ((m world + r) B + b), so both layouts see the same segment per stream at every step.
  SegmentLoader one({shard}, 6, 4), two({shard}, 6, 4);
  for (int step = 0; step < 25; ++step) {
    std::vector<std::vector<int32_t>> a(4), b(4);
    for (int64_t m = 0; m < 2; ++m)
      for (int64_t bb = 0; bb < 2; ++bb) a[static_cast<size_t>(m * 2 + bb)] = read(one, m * 2 + bb).in;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t bb = 0; bb < 2; ++bb) b[static_cast<size_t>(r * 2 + bb)] = read(two, r * 2 + bb).in;
    EXPECT_EQ(a, b);
    one.advance();
    two.advance();
  }
}

TEST(Segments, LossMaskAppliesAcrossShardsAndIsValidated) {
  TempDir dir("seg");
  write_shard(dir / "train_000000.bin", std::vector<int32_t>(10, 3), 8);
  write_shard(dir / "train_000001.bin", std::vector<int32_t>(10, 4), 8);
  std::vector<int32_t> m0(10, 0), m1(10, 0);
  m0[9] = 1;  // tokens 9, 10 and 11 count
  m1[0] = m1[1] = 1;
  write_shard(dir / "train_mask_000000.bin", m0, 2);
  write_shard(dir / "train_mask_000001.bin", m1, 2);
  auto shards = std::vector<std::shared_ptr<const Shard>>{std::make_shared<const Shard>(dir / "train_000000.bin"),
                                                          std::make_shared<const Shard>(dir / "train_000001.bin")};
  auto masks = open_loss_mask(dir.path(), "train", shards);
  ASSERT_EQ(masks.size(), 2u);
  SegmentLoader l(shards, 5, 2);
  l.set_loss_mask(masks);
  l.advance();  // stream 0 at [5, 10): targets 6..10
  EXPECT_EQ(read(l, 0).tg, (std::vector<int32_t>{kIgnoreIndex, kIgnoreIndex, kIgnoreIndex, 3, 4}));
  WindowLoader w(shards, 4, 1);
  w.set_loss_mask(masks);
  std::vector<int32_t> in(4), tg(4);
  w.sequential(2, in.data(), tg.data());  // shard 1's first window: targets at its positions 1..4
  EXPECT_EQ(tg, (std::vector<int32_t>{4, kIgnoreIndex, kIgnoreIndex, kIgnoreIndex}));
  EXPECT_TRUE(open_loss_mask(dir.path(), "val", shards).empty()) << "no mask: every target counts";
  write_shard(dir / "train_mask_000001.bin", std::vector<int32_t>(9, 1), 2);
  expect_error([&] { open_loss_mask(dir.path(), "train", shards); }, {"train_mask_000001.bin", "holds 9 values"});
  write_shard(dir / "train_mask_000001.bin", std::vector<int32_t>(10, 1), 3);
  expect_error([&] { open_loss_mask(dir.path(), "train", shards); }, {"train_mask_000001.bin", "vocabulary 3"});
}

}  // namespace
}  // namespace weft::data
