// The window loader: Feistel permutation, window contents, determinism, disjoint rank slices, the same
// global batches for world sizes 1, 2 and 4, resume from the cursor (also on another world size), epoch
// rollover, several shards.
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

}  // namespace
}  // namespace weft::data
