// The window loader: Feistel permutation, window contents, determinism, disjoint rank slices, the same
// global batches for world sizes 1, 2 and 4, resume from the cursor (also on another world size), epoch
// rollover, several shards; --pack padded: one document per window (pads, truncation, ignored targets,
// empty documents skipped), the same document order for any rank count and after a resume, its errors.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "data/loader.h"
#include "data/shard.h"
#include "data_test_util.h"

namespace weft::data {
namespace {

using test::expect_error;
using test::TempDir;

// Token i of shard `tag` encodes (tag, i), so every window is recognisable by its first token.
std::shared_ptr<const Shard> make_shard(const TempDir& dir, const std::string& name, int64_t n, int tag = 0) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>(tag * 100000 + i);
  write_shard(dir / name, t, 1 << 20);
  return std::make_shared<const Shard>(dir / name);
}

// The first input token of each row: identifies the window.
std::vector<int32_t> firsts(const std::vector<int32_t>& rows, int64_t T) {
  std::vector<int32_t> f;
  for (size_t r = 0; r < rows.size(); r += static_cast<size_t>(T)) f.push_back(rows[r]);
  return f;
}

std::vector<int32_t> batch(WindowLoader& l, int64_t per_rank, int rank, int world) {
  std::vector<int32_t> in(per_rank * l.seq_len()), tg(per_rank * l.seq_len());
  l.next_batch(per_rank, rank, world, in.data(), tg.data());
  for (int64_t i = 0; i < per_rank * l.seq_len(); ++i)
    EXPECT_EQ(tg[i], in[i] + 1) << "targets are inputs shifted by one";
  return firsts(in, l.seq_len());
}

TEST(Permutation, IsABijectionForOddSizesAndDependsOnSeedAndEpoch) {
  for (int64_t n : {1, 2, 3, 7, 33, 100, 1000, 4097}) {
    Permutation p(n, 42, 0), q(n, 42, 1), r(n, 43, 0);
    std::set<int64_t> seen;
    int64_t diff_epoch = 0, diff_seed = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = p(i);
      ASSERT_TRUE(v >= 0 && v < n);
      seen.insert(v);
      diff_epoch += v != q(i);
      diff_seed += v != r(i);
      EXPECT_EQ(v, Permutation(n, 42, 0)(i)) << "deterministic";
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), n);
    if (n >= 33) {
      EXPECT_GT(diff_epoch, n / 2);
      EXPECT_GT(diff_seed, n / 2);
    }
  }
  expect_error([] { Permutation p(0, 1, 0); }, {"empty range"});
}

TEST(WindowLoader, WindowsAreNonOverlappingSpansOfTPlusOne) {
  TempDir dir("win");
  WindowLoader l(make_shard(dir, "a.bin", 10 * 16 + 1), 16, 1);
  EXPECT_EQ(l.windows(), 10);
  std::vector<int32_t> in(16), tg(16);
  for (int64_t k = 0; k < 10; ++k) {
    l.sequential(k, in.data(), tg.data());
    for (int i = 0; i < 16; ++i) {
      EXPECT_EQ(in[i], k * 16 + i);
      EXPECT_EQ(tg[i], k * 16 + i + 1);
    }
  }
  WindowLoader short_by_one(make_shard(dir, "b.bin", 10 * 16), 16, 1);
  EXPECT_EQ(short_by_one.windows(), 9);
  expect_error([&] { WindowLoader x(make_shard(dir, "c.bin", 16), 16, 1); },
               {"c.bin", "16 tokens", "fewer than one window"});
  expect_error([&] { l.next_batch(2, 2, 2, in.data(), tg.data()); }, {"rank 2 of 2"});
  expect_error([&] { l.set_cursor(-1); }, {"cursor must be >= 0"});
}

TEST(WindowLoader, DeterministicPerSeedAndDifferentAcrossSeeds) {
  TempDir dir("det");
  auto shard = make_shard(dir, "a.bin", 64 * 8 + 1);
  WindowLoader a(shard, 8, 7), b(shard, 8, 7), c(shard, 8, 8);
  std::vector<int32_t> sa, sb, sc;
  for (int step = 0; step < 5; ++step) {
    for (int32_t v : batch(a, 4, 0, 1)) sa.push_back(v);
    for (int32_t v : batch(b, 4, 0, 1)) sb.push_back(v);
    for (int32_t v : batch(c, 4, 0, 1)) sc.push_back(v);
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(WindowLoader, SameGlobalBatchesForWorld1And2And4WithDisjointRankSlices) {
  TempDir dir("world");
  auto shard = make_shard(dir, "a.bin", 37 * 8 + 1);  // 37 windows: epochs end mid-batch
  const int64_t T = 8, global = 8, steps = 12;        // 96 samples: crosses two epoch boundaries
  std::vector<std::vector<int32_t>> reference;
  WindowLoader one(shard, T, 9);
  for (int s = 0; s < steps; ++s) reference.push_back(batch(one, global, 0, 1));
  EXPECT_EQ(one.cursor(), global * steps);
  for (int world : {2, 4}) {
    std::vector<WindowLoader> ranks;
    for (int r = 0; r < world; ++r) ranks.emplace_back(shard, T, 9);
    for (int s = 0; s < steps; ++s) {
      std::vector<int32_t> joined;
      std::set<int32_t> distinct;
      for (int r = 0; r < world; ++r) {
        auto part = batch(ranks[r], global / world, r, world);
        joined.insert(joined.end(), part.begin(), part.end());
        EXPECT_EQ(ranks[r].cursor(), (s + 1) * global) << "every rank advances by the global batch";
      }
      EXPECT_EQ(joined, reference[s]) << "world " << world << " step " << s;
      distinct.insert(joined.begin(), joined.end());
      // Within an epoch, rank slices never share a window (an epoch boundary inside a batch may repeat one).
      const int64_t first = s * global;
      if (first / 37 == (first + global - 1) / 37) {
        EXPECT_EQ(static_cast<int64_t>(distinct.size()), global) << "step " << s;
      }
    }
  }
}

TEST(WindowLoader, ResumeFromCursorContinuesTheSameOrderOnAnyWorldSize) {
  TempDir dir("resume");
  auto shard = make_shard(dir, "a.bin", 50 * 4 + 1);
  WindowLoader run(shard, 4, 5);
  for (int s = 0; s < 7; ++s) batch(run, 6, 0, 1);
  const int64_t saved = run.cursor();
  std::vector<std::vector<int32_t>> continuation;
  for (int s = 0; s < 10; ++s) continuation.push_back(batch(run, 6, 0, 1));
  WindowLoader resumed(shard, 4, 5);
  resumed.set_cursor(saved);
  for (int s = 0; s < 10; ++s) EXPECT_EQ(batch(resumed, 6, 0, 1), continuation[s]);
  std::vector<WindowLoader> three;  // resumed on 3 ranks of 2 samples
  for (int r = 0; r < 3; ++r) {
    three.emplace_back(shard, 4, 5);
    three.back().set_cursor(saved);
  }
  for (int s = 0; s < 10; ++s) {
    std::vector<int32_t> joined;
    for (int r = 0; r < 3; ++r) {
      auto part = batch(three[r], 2, r, 3);
      joined.insert(joined.end(), part.begin(), part.end());
    }
    EXPECT_EQ(joined, continuation[s]) << "step " << s;
  }
}

TEST(WindowLoader, EachEpochVisitsEveryWindowOnceInANewOrder) {
  TempDir dir("epoch");
  WindowLoader l(make_shard(dir, "a.bin", 23 * 5 + 1), 5, 3);
  ASSERT_EQ(l.windows(), 23);
  std::vector<std::vector<int32_t>> epochs(3);
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(l.epoch(), e);
    for (int i = 0; i < 23; ++i) epochs[e].push_back(batch(l, 1, 0, 1)[0]);
    std::set<int32_t> s(epochs[e].begin(), epochs[e].end());
    EXPECT_EQ(s.size(), 23u) << "epoch " << e;
    EXPECT_EQ(*s.rbegin(), 22 * 5);
  }
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[1], epochs[2]);
}

TEST(WindowLoader, SeveralShardsSkipShortOnesAndKeepWindowsInsideAShard) {
  TempDir dir("multi");
  std::vector<std::shared_ptr<const Shard>> shards = {make_shard(dir, "0.bin", 3 * 10 + 1, 1),
                                                      make_shard(dir, "1.bin", 5, 2),  // < T + 1: no window
                                                      make_shard(dir, "2.bin", 4 * 10 + 7, 3)};
  WindowLoader l(shards, 10, 1);
  ASSERT_EQ(l.windows(), 7);
  std::vector<int32_t> in(10), tg(10);
  std::map<int32_t, int> per_shard;
  for (int64_t k = 0; k < 7; ++k) {
    l.sequential(k, in.data(), tg.data());
    const int32_t tag = in[0] / 100000;
    EXPECT_EQ(tg[9] / 100000, tag) << "a window never spans two shards";
    EXPECT_EQ(in[0] % 100000, (k < 3 ? k : k - 3) * 10);
    ++per_shard[tag];
  }
  EXPECT_EQ(per_shard[1], 3);
  EXPECT_EQ(per_shard[3], 4);
  std::set<int32_t> seen;  // the shuffled order covers all shards
  for (int i = 0; i < 7; ++i) seen.insert(batch(l, 1, 0, 1)[0]);
  EXPECT_EQ(seen.size(), 7u);
}

// ---- --pack padded

constexpr int32_t kEot = 999999;

// Documents of the given lengths (token j of document d is d * 1000 + j + 1), each followed by end-of-text
// unless `last_unterminated`; a length of 0 writes a bare end-of-text (an empty document).
std::shared_ptr<const Shard> doc_shard(const TempDir& dir, const std::string& name, const std::vector<int>& lengths,
                                       bool last_unterminated = false, int first_doc = 0) {
  std::vector<int32_t> t;
  for (size_t d = 0; d < lengths.size(); ++d) {
    for (int j = 0; j < lengths[d]; ++j) t.push_back(static_cast<int32_t>((first_doc + d) * 1000 + j + 1));
    if (!(last_unterminated && d + 1 == lengths.size())) t.push_back(kEot);
  }
  write_shard(dir / name, t, 1 << 20, kEot);
  return std::make_shared<const Shard>(dir / name);
}

// Document number of a padded window (its first input token).
int32_t doc_of(const std::vector<int32_t>& in, size_t row, int64_t T) { return (in[row * T] - 1) / 1000; }

TEST(PaddedLoader, OneDocumentPerWindowPaddedTruncatedWithIgnoredTargets) {
  TempDir dir("padded");
  const int64_t T = 8;
  // documents 0..7; 1 and 5 are empty (skipped), 6 is T + 1 long (fills the window exactly), 7 is longer
  // than T + 1 (truncated), 2 has one token (nothing to predict), 4 is T long
  WindowLoader l(doc_shard(dir, "a.bin", {3, 0, 1, 5, 8, 0, 9, 20}), T, 1, Packing::padded);
  EXPECT_EQ(l.packing(), Packing::padded);
  ASSERT_EQ(l.windows(), 6);
  const std::vector<int> docs = {0, 2, 3, 4, 6, 7}, lengths = {3, 1, 5, 8, 9, 20};
  std::vector<int32_t> in(T), tg(T);
  for (int64_t k = 0; k < 6; ++k) {
    l.sequential(k, in.data(), tg.data());
    const int d = docs[k], n = lengths[k];
    for (int t = 0; t < T; ++t) {
      EXPECT_EQ(in[t], t < n ? d * 1000 + t + 1 : kEot) << "window " << k << " input " << t;
      // the document's end-of-text target is ignored too (pad = end-of-text, as in the paper)
      EXPECT_EQ(tg[t], t + 1 < n ? d * 1000 + t + 2 : kIgnoreIndex) << "window " << k << " target " << t;
    }
    EXPECT_EQ(count_targets(tg.data(), T), std::min<int64_t>(n - 1, T)) << "window " << k;
  }
  const std::vector<int32_t> mixed = {1, kIgnoreIndex, 0, -5, kIgnoreIndex};
  EXPECT_EQ(count_targets(mixed.data(), 5), 3);
}

TEST(PaddedLoader, LastDocumentWithoutEndOfTextAndSeveralShards) {
  TempDir dir("padded_multi");
  const int64_t T = 6;
  std::vector<std::shared_ptr<const Shard>> shards = {doc_shard(dir, "0.bin", {2, 4}, false, 0),
                                                      doc_shard(dir, "1.bin", {0, 0}, false, 10),  // only empty ones
                                                      doc_shard(dir, "2.bin", {3, 7}, true, 20)};
  WindowLoader l(shards, T, 1, Packing::padded);
  ASSERT_EQ(l.windows(), 4);
  std::vector<int32_t> in(T), tg(T);
  const std::vector<int> docs = {0, 1, 20, 21};
  for (int64_t k = 0; k < 4; ++k) {
    l.sequential(k, in.data(), tg.data());
    EXPECT_EQ(doc_of(in, 0, T), docs[k]) << "window " << k;
  }
  l.sequential(3, in.data(), tg.data());  // 7 tokens, no end-of-text in the file: truncated, every target counts
  EXPECT_EQ(count_targets(tg.data(), T), 6);
  EXPECT_EQ(tg[5], 21 * 1000 + 7);
}

TEST(PaddedLoader, SameDocumentOrderForWorld1And2And4AndAfterResume) {
  TempDir dir("padded_world");
  std::vector<int> lengths;
  for (int d = 0; d < 29; ++d) lengths.push_back(1 + (d * 7) % 13);  // 29 documents: epochs end mid-batch
  auto shard = doc_shard(dir, "a.bin", lengths);
  const int64_t T = 8, global = 8, steps = 12;
  auto rows = [&](WindowLoader& l, int64_t per_rank, int rank, int world) {
    std::vector<int32_t> in(per_rank * T), tg(per_rank * T), out;
    l.next_batch(per_rank, rank, world, in.data(), tg.data());
    for (int64_t b = 0; b < per_rank; ++b) {
      out.push_back(doc_of(in, b, T));
      for (int64_t t = 0; t < T; ++t) out.push_back(tg[b * T + t]);  // the whole window, pads included
    }
    return out;
  };
  WindowLoader one(shard, T, 4, Packing::padded);
  ASSERT_EQ(one.windows(), 29);
  std::vector<std::vector<int32_t>> reference;
  std::set<int32_t> epoch0;
  for (int s = 0; s < steps; ++s) {
    reference.push_back(rows(one, global, 0, 1));
    for (size_t i = 0; i < reference.back().size(); i += T + 1)
      if (s * global + static_cast<int64_t>(i / (T + 1)) < 29) epoch0.insert(reference.back()[i]);
  }
  EXPECT_EQ(epoch0.size(), 29u) << "an epoch visits every document once";
  for (int world : {2, 4}) {
    std::vector<WindowLoader> ranks;
    for (int r = 0; r < world; ++r) ranks.emplace_back(shard, T, 4, Packing::padded);
    for (int s = 0; s < steps; ++s) {
      std::vector<int32_t> joined;
      for (int r = 0; r < world; ++r) {
        auto part = rows(ranks[r], global / world, r, world);
        joined.insert(joined.end(), part.begin(), part.end());
      }
      EXPECT_EQ(joined, reference[s]) << "world " << world << " step " << s;
    }
  }
  std::vector<WindowLoader> resumed;  // from step 5's cursor on 2 ranks
  for (int r = 0; r < 2; ++r) {
    resumed.emplace_back(shard, T, 4, Packing::padded);
    resumed.back().set_cursor(5 * global);
  }
  for (int s = 5; s < steps; ++s) {
    auto part = rows(resumed[0], global / 2, 0, 2), rest = rows(resumed[1], global / 2, 1, 2);
    part.insert(part.end(), rest.begin(), rest.end());
    EXPECT_EQ(part, reference[s]) << "resumed, step " << s;
  }
}

TEST(PaddedLoader, ErrorsNameTheShard) {
  TempDir dir("padded_err");
  expect_error([&] { WindowLoader l(make_shard(dir, "noeot.bin", 100), 8, 1, Packing::padded); },
               {"noeot.bin", "no end-of-text id", "--pack padded"});
  expect_error([&] { WindowLoader l(doc_shard(dir, "empty.bin", {0, 0, 0}), 8, 1, Packing::padded); },
               {"empty.bin", "no document", "--pack padded"});
  std::vector<int32_t> t = {1, 2, 7, 3, 7};
  write_shard(dir / "other.bin", t, 1 << 20, 7);
  expect_error(
      [&] {
        WindowLoader l({doc_shard(dir, "a.bin", {3}), std::make_shared<const Shard>(dir / "other.bin")}, 8, 1,
                       Packing::padded);
      },
      {"other.bin", "ends documents with 7", "a.bin"});
}

}  // namespace
}  // namespace weft::data
