// StridedWindows (weft eval --lengths): over several shards and (length, stride) pairs, including strides
// that do not divide the length, every target the nonoverlapping windows score is scored exactly once, each
// with at least L - S tokens of context (except the shard's first window), no window crosses a shard, and
// stride L reproduces WindowLoader's sequential windows; a loss mask still hides its targets; bad strides throw.
#include <gtest/gtest.h>

#include <map>

#include "data/loader.h"
#include "data/shard.h"
#include "data/strided_windows.h"
#include "data_test_util.h"

namespace weft::data {
namespace {

using test::TempDir;

// Token i of shard `tag` is tag * 100000 + i, so a target names its shard and position.
std::shared_ptr<const Shard> make_shard(const TempDir& dir, const std::string& name, int64_t n, int tag) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[static_cast<size_t>(i)] = static_cast<int32_t>(tag * 100000 + i);
  write_shard(dir / name, t, 1 << 20);
  return std::make_shared<const Shard>(dir / name);
}

TEST(StridedWindows, EveryNonoverlapTargetScoredOnceWithContext) {
  TempDir dir("strided");
  const std::vector<int64_t> sizes{101, 5, 64, 250};  // the second holds no window of most lengths
  std::vector<std::shared_ptr<const Shard>> shards;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string name = "s";  // appended: GCC 12 warns -Wrestrict (a false positive) on "s" + std::string
    name += std::to_string(i);
    shards.push_back(make_shard(dir, name, sizes[i], int(i)));
  }
  for (const auto& [L, S] :
       std::vector<std::pair<int64_t, int64_t>>{{16, 16}, {16, 8}, {16, 5}, {16, 1}, {7, 3}, {1, 1}}) {
    SCOPED_TRACE("L=" + std::to_string(L) + " S=" + std::to_string(S));
    StridedWindows w(shards, {}, L, S);
    std::map<int32_t, int> scored;  // target token -> times scored
    std::vector<int32_t> in(static_cast<size_t>(L)), tg(static_cast<size_t>(L));
    std::map<int, int64_t> windows_of_shard;
    for (int64_t k = 0; k < w.windows(); ++k) {
      w.window(k, in.data(), tg.data());
      const int shard = in[0] / 100000;
      ++windows_of_shard[shard];
      const int64_t first = w.first_scored(k);
      if (windows_of_shard[shard] > 1) {
        EXPECT_GE(first, L - S) << "window " << k;
      }
      for (int64_t p = 0; p < L; ++p) {
        EXPECT_EQ(in[p] / 100000, shard) << "window " << k << " crosses a shard";
        if (p < first) {
          EXPECT_EQ(tg[p], kIgnoreIndex);
          continue;
        }
        EXPECT_EQ(tg[p], in[p] + 1);
        ++scored[tg[p]];
      }
    }
    // Exactly the targets of the nonoverlapping windows: 1 .. W L of each shard, W = (n - 1) / L.
    int64_t expected = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const int64_t covered = (sizes[i] - 1) / L * L;
      expected += covered;
      for (int64_t t = 1; t <= covered; ++t)
        EXPECT_EQ(scored[static_cast<int32_t>(i * 100000 + t)], 1) << "target " << t;
    }
    EXPECT_EQ(static_cast<int64_t>(scored.size()), expected);
  }
}

TEST(StridedWindows, StrideLIsTheLoadersSequentialWindows) {
  TempDir dir("strided");
  std::vector<std::shared_ptr<const Shard>> shards{make_shard(dir, "a", 90, 0), make_shard(dir, "b", 40, 1)};
  StridedWindows w(shards, {}, 8, 8);
  WindowLoader loader(shards, 8, 0);
  ASSERT_EQ(w.windows(), loader.windows());
  std::vector<int32_t> a(8), b(8), c(8), d(8);
  for (int64_t k = 0; k < w.windows(); ++k) {
    w.window(k, a.data(), b.data());
    loader.sequential(k, c.data(), d.data());
    EXPECT_EQ(a, c);
    EXPECT_EQ(b, d);
  }
}

TEST(StridedWindows, LossMaskAndBadStrides) {
  TempDir dir("strided");
  std::vector<std::shared_ptr<const Shard>> shards{make_shard(dir, "a", 33, 0)};
  std::vector<int32_t> mask(33, 1);
  mask[5] = 0;  // target 5 (window position 4) does not count
  write_shard(dir / "m", mask, 2);
  StridedWindows w(shards, {std::make_shared<const Shard>(dir / "m")}, 8, 4);
  std::vector<int32_t> in(8), tg(8);
  w.window(0, in.data(), tg.data());
  EXPECT_EQ(tg[4], kIgnoreIndex);
  EXPECT_EQ(tg[3], 4);
  EXPECT_THROW(StridedWindows(shards, {}, 8, 9), Error);
  EXPECT_THROW(StridedWindows(shards, {}, 8, 0), Error);
  EXPECT_EQ(StridedWindows(shards, {}, 40, 20).windows(), 0);
  EXPECT_EQ(StridedWindows(shards, {}, 40, 20).longest_shard(), 33);
}

}  // namespace
}  // namespace weft::data
