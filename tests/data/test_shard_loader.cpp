// Token shards (round trip, every corruption rejected with a message naming the problem) and the window
// loader (determinism, rank slices, world-size independence, resume from the cursor, epochs).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "data/loader.h"
#include "data/shard.h"
#include "runtime/check.h"

namespace weft::data {
namespace {

std::string tmp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("weft_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::vector<int32_t> sequence(int n, int vocab) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (i * 7 + 3) % vocab;
  return t;
}

void expect_rejected(const std::string& path, const std::string& fragment, int64_t max_vocab = 0) {
  try {
    Shard s(path, max_vocab);
    FAIL() << "accepted " << path;
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find(fragment), std::string::npos) << m;
  }
}

void flip_byte(const std::string& path, std::streamoff at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c;
  f.read(&c, 1);
  c ^= 0x5a;
  f.seekp(at);
  f.write(&c, 1);
}

TEST(Shard, RoundTripSmallAndLargeVocab) {
  for (int vocab : {257, 70000}) {
    std::string p = tmp_path("rt_" + std::to_string(vocab) + ".bin");
    auto toks = sequence(1000, vocab);
    toks[5] = vocab - 1;
    write_shard(p, toks, vocab);
    Shard s(p);
    ASSERT_EQ(s.size(), 1000);
    EXPECT_EQ(s.vocab_size(), vocab);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(s.at(i), toks[i]);
  }
}

TEST(Shard, CorruptionsAreRejectedByName) {
  std::string p = tmp_path("c.bin");
  write_shard(p, sequence(500, 257), 257);
  std::string t = tmp_path("trunc.bin");
  std::filesystem::copy_file(p, t, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(t, 64 + 499 * 2);
  expect_rejected(t, "truncated");
  std::string m = tmp_path("magic.bin");
  std::filesystem::copy_file(p, m, std::filesystem::copy_options::overwrite_existing);
  flip_byte(m, 0);
  expect_rejected(m, "bad magic");
  std::string c = tmp_path("sum.bin");
  std::filesystem::copy_file(p, c, std::filesystem::copy_options::overwrite_existing);
  flip_byte(c, 64 + 301);
  expect_rejected(c, "checksum mismatch");
  std::string tiny = tmp_path("tiny.bin");
  std::ofstream(tiny) << "abc";
  expect_rejected(tiny, "smaller than the 64-byte header");
  expect_rejected(p, "exceeds the model's 100", 100);
}

TEST(Shard, TokenOutsideVocabularyRejectedOnWriteWithPosition) {
  auto toks = sequence(10, 50);
  toks[4] = 60;
  try {
    write_shard(tmp_path("bad.bin"), toks, 50);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token 60 at position 4"), std::string::npos) << e.what();
  }
}

TEST(Permutation, IsABijectionAndDependsOnEpoch) {
  for (int64_t n : {1, 2, 7, 100, 1000}) {
    Permutation p(n, 42, 0), q(n, 42, 1);
    std::set<int64_t> seen;
    bool differs = false;
    for (int64_t i = 0; i < n; ++i) {
      seen.insert(p(i));
      differs = differs || p(i) != q(i);
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), n);
    EXPECT_EQ(*seen.rbegin(), n - 1);
    if (n > 7) {
      EXPECT_TRUE(differs);
    }
  }
}

std::shared_ptr<Shard> make_loader_shard() {
  std::string p = tmp_path("loader.bin");
  write_shard(p, sequence(10 * 16 + 1, 257), 257);
  return std::make_shared<Shard>(p);
}

TEST(WindowLoader, TargetsAreInputsShiftedByOne) {
  WindowLoader l(make_loader_shard(), 16, 1);
  EXPECT_EQ(l.windows(), 10);
  std::vector<int32_t> in(16), tg(16);
  l.sample(3, in.data(), tg.data());
  for (int i = 0; i + 1 < 16; ++i) EXPECT_EQ(tg[i], in[i + 1]);
}

TEST(WindowLoader, GlobalBatchesIndependentOfWorldSize) {
  auto shard = make_loader_shard();
  const int64_t T = 16, global = 4;
  std::vector<std::vector<int32_t>> reference;  // one global batch per step, world = 1
  {
    WindowLoader l(shard, T, 9);
    for (int step = 0; step < 6; ++step) {  // 24 samples: crosses two epoch boundaries
      std::vector<int32_t> in(global * T), tg(global * T);
      l.next_batch(global, 0, 1, in.data(), tg.data());
      reference.push_back(in);
    }
    EXPECT_EQ(l.cursor(), 24);
  }
  for (int world : {2, 4}) {
    std::vector<WindowLoader> ranks;
    for (int r = 0; r < world; ++r) ranks.emplace_back(shard, T, 9);
    for (int step = 0; step < 6; ++step) {
      std::vector<int32_t> joined;
      for (int r = 0; r < world; ++r) {
        std::vector<int32_t> in(global / world * T), tg(global / world * T);
        ranks[r].next_batch(global / world, r, world, in.data(), tg.data());
        joined.insert(joined.end(), in.begin(), in.end());
      }
      EXPECT_EQ(joined, reference[step]) << "world " << world << " step " << step;
    }
  }
}

TEST(WindowLoader, ResumeFromCursorContinuesTheSameOrder) {
  auto shard = make_loader_shard();
  WindowLoader a(shard, 16, 5), b(shard, 16, 5);
  std::vector<int32_t> in(2 * 16), tg(2 * 16), in2(2 * 16), tg2(2 * 16);
  for (int i = 0; i < 3; ++i) a.next_batch(2, 0, 1, in.data(), tg.data());
  b.set_cursor(a.cursor());
  a.next_batch(2, 0, 1, in.data(), tg.data());
  b.next_batch(2, 0, 1, in2.data(), tg2.data());
  EXPECT_EQ(in, in2);
  // An epoch visits every window once.
  WindowLoader c(shard, 16, 5);
  std::set<int32_t> firsts;
  for (int64_t s = 0; s < c.windows(); ++s) {
    std::vector<int32_t> i1(16), t1(16);
    c.sample(s, i1.data(), t1.data());
    firsts.insert(i1[0] * 1000 + i1[1]);
  }
  EXPECT_EQ(static_cast<int64_t>(firsts.size()), c.windows());
}

}  // namespace
}  // namespace weft::data
