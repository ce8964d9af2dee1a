// Token shards: the tok64 checksum (streaming = one shot, detects flips), golden values of both file checksums,
// write/read round trips for both widths, every corruption rejected with a message naming the file and the
// problem, split writing (shard rolling, stale shards removed) and discovery, and the cost of verifying a
// 100M-token shard.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "data/shard.h"
#include "data/split.h"
#include "data_test_util.h"
#include "runtime/checksum.h"

namespace weft::data {
namespace {

using test::expect_error;
using test::TempDir;

std::vector<int32_t> sequence(int64_t n, int64_t vocab) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 7919 + 3) % vocab);
  return t;
}

TEST(Tok64, StreamingEqualsOneShotAndDetectsFlips) {
  std::vector<unsigned char> data(300);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 37 + 11);
  for (size_t n : {0, 1, 7, 8, 9, 31, 32, 33, 64, 100, 300}) {
    const uint64_t whole = tok64(data.data(), n);
    for (size_t cut1 : {size_t(0), size_t(1), n / 3, n / 2})
      for (size_t cut2 : {n / 2, n - n / 4, n}) {
        if (cut1 > cut2 || cut2 > n) continue;
        Tok64 h;
        h.update(data.data(), cut1);
        h.update(data.data() + cut1, cut2 - cut1);
        h.update(data.data() + cut2, n - cut2);
        ASSERT_EQ(h.finish(), whole) << "n " << n << " cuts " << cut1 << " " << cut2;
      }
    for (size_t at = 0; at < n; at += 5) {  // any single flipped bit changes the checksum
      data[at] ^= 0x10;
      EXPECT_NE(tok64(data.data(), n), whole) << "flip at " << at << " of " << n;
      data[at] ^= 0x10;
    }
  }
  EXPECT_NE(tok64(data.data(), 16), tok64(data.data(), 17));  // length matters, even for a zero byte
}

// Both checksums of runtime/checksum.h are frozen by the files that store them (shard headers: tok64;
// checkpoint manifests: checksum64): these values, computed before the two headers were merged, pin them, so
// shards and checkpoints written by any earlier weft keep verifying.
TEST(Checksums, GoldenValuesOfShardsAndCheckpointsNeverChange) {
  struct Golden {
    size_t n;
    uint64_t tok64, checksum64;
  };
  const Golden golden[] = {
      {0, 0x60928896ea728491ull, 0xfd8ed93c758263c6ull},   {1, 0x5da4485f9e68d689ull, 0x8fb179288dfde69aull},
      {7, 0x3374d4f62796ea1aull, 0xdadbd8fd75d4b933ull},   {8, 0xc05f206b44163e6bull, 0x4123d77e16eca56aull},
      {15, 0x765554f819837642ull, 0xcb54bf2045e47aa6ull},  {16, 0xa42995b9d04bcd1bull, 0x1efbaad3dc422d71ull},
      {31, 0xd8ac47b7f9c2aed9ull, 0xfa732402e5f0c608ull},  {32, 0x5ac118eb5b919c8aull, 0x9a7c32222e246434ull},
      {33, 0x7e5d175830bdf579ull, 0x38fd256b8aa5749bull},  {56, 0xfb742d89809ce65full, 0x81c8a7ffff10263cull},
      {100, 0xc05c2427b7719e83ull, 0x7afb5c5a7be00415ull}, {1000, 0xc11dddbf0fd7e43full, 0x42654220e64eac3bull},
  };
  std::vector<unsigned char> d(1000);
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<unsigned char>((i * 131 + 7) ^ (i >> 3));
  for (const Golden& g : golden) {
    EXPECT_EQ(tok64(d.data(), g.n), g.tok64) << "n " << g.n;
    EXPECT_EQ(checksum64(d.data(), g.n), g.checksum64) << "n " << g.n;
  }
}

TEST(Shard, RoundTripBothWidthsWithHeaderFields) {
  TempDir dir("shard_rt");
  for (int64_t vocab : {257, 65536, 70000}) {
    const std::string p = dir / ("rt_" + std::to_string(vocab) + ".bin");
    auto toks = sequence(1001, vocab);
    toks[5] = static_cast<int32_t>(vocab - 1);
    toks[9] = toks[400] = 3;  // the end-of-text id below
    write_shard(p, toks, vocab, 3);
    Shard s(p, vocab);
    ASSERT_EQ(s.size(), 1001);
    EXPECT_EQ(s.vocab_size(), vocab);
    EXPECT_EQ(s.width(), vocab <= 65536 ? 2 : 4);
    EXPECT_EQ(s.eot(), 3);
    EXPECT_EQ(s.documents(), std::count(toks.begin(), toks.end(), 3));
    EXPECT_EQ(static_cast<int64_t>(std::filesystem::file_size(p)), 64 + 1001 * s.width());
    std::vector<int32_t> back(1001);
    s.copy(0, 1001, back.data());
    EXPECT_EQ(back, toks);
    EXPECT_EQ(s.at(5), vocab - 1);
    EXPECT_FALSE(std::filesystem::exists(p + ".tmp"));
  }
}

TEST(Shard, StreamingWriterMatchesOneShotAcrossBufferBoundaries) {
  TempDir dir("shard_stream");
  const auto toks = sequence(1'500'000, 50000);  // 3 MB: crosses the 1 MiB write buffer
  write_shard(dir / "one.bin", toks, 50000);
  {
    ShardWriter w(dir / "many.bin", 50000);
    for (size_t at = 0; at < toks.size(); at += 77777)
      w.append(toks.data() + at, std::min<size_t>(77777, toks.size() - at));
    EXPECT_EQ(w.count(), 1'500'000);
    w.close();
  }
  EXPECT_EQ(test::read_bytes(dir / "one.bin"), test::read_bytes(dir / "many.bin"));
  Shard s(dir / "many.bin");
  EXPECT_EQ(s.at(1'499'999), toks.back());
}

TEST(Shard, WriterRejectsBadIdsWithPositionAndLeavesNoFile) {
  TempDir dir("shard_bad");
  auto toks = sequence(10, 50);
  toks[4] = 60;
  expect_error([&] { write_shard(dir / "bad.bin", toks, 50); }, {"bad.bin", "token 60 at position 4", "[0, 50)"});
  toks[4] = -1;
  expect_error([&] { write_shard(dir / "bad.bin", toks, 50); }, {"token -1 at position 4"});
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.bin"));
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.bin.tmp"));
  expect_error([&] { ShardWriter w(dir / "v.bin", 0); }, {"bad vocabulary size 0"});
  expect_error([&] { ShardWriter w(dir / "e.bin", 10, 10); }, {"end-of-text id 10"});
}

// Header layout (docs/data-format.md): version at 8, count at 16, vocab at 24, header checksum at 56.
void patch_u32(std::vector<char>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }
void reseal_header(std::vector<char>& b) {
  const uint64_t h = tok64(b.data(), 56);
  std::memcpy(b.data() + 56, &h, 8);
}

TEST(Shard, EveryCorruptionIsRejectedByName) {
  TempDir dir("shard_corrupt");
  const std::string good = dir / "good.bin";
  write_shard(good, sequence(500, 257), 257, 256);
  const auto bytes = test::read_bytes(good);
  auto variant = [&](const std::string& name, const std::function<void(std::vector<char>&)>& change) {
    auto b = bytes;
    change(b);
    test::write_bytes(dir / name, b);
    return dir / name;
  };
  const std::string trunc = variant("trunc.bin", [](auto& b) { b.resize(b.size() - 2); });
  expect_error([&] { Shard s(trunc); }, {trunc, "truncated", "1062 bytes on disk", "promises 1064"});
  const std::string padded = variant("padded.bin", [](auto& b) { b.push_back(0); });
  expect_error([&] { Shard s(padded); }, {padded, "1 bytes after the last token"});
  const std::string magic = variant("magic.bin", [](auto& b) { b[0] = 'X'; });
  expect_error([&] { Shard s(magic); }, {magic, "bad magic"});
  const std::string v1 = variant("v1.bin", [](auto& b) { patch_u32(b, 8, 1); });
  expect_error([&] { Shard s(v1); }, {v1, "unknown format version 1", "re-run `weft prepare`"});
  const std::string v9 = variant("v9.bin", [](auto& b) { patch_u32(b, 8, 9); });
  expect_error([&] { Shard s(v9); }, {v9, "unknown format version 9", "newer weft"});
  for (size_t at : {16, 24, 30, 44, 50, 60}) {  // count, vocab, eot, token checksum, reserved, header checksum
    const std::string hdr = variant("hdr" + std::to_string(at) + ".bin", [&](auto& b) { b[at] ^= 0x5a; });
    expect_error([&] { Shard s(hdr); }, {hdr, "header checksum mismatch"});
  }
  for (size_t at : {size_t(64), size_t(65), size_t(64 + 301), bytes.size() - 1}) {
    const std::string tok = variant("tok" + std::to_string(at) + ".bin", [&](auto& b) { b[at] ^= 0x01; });
    expect_error([&] { Shard s(tok); }, {tok, "token checksum mismatch"});
  }
  // A consistent file whose header claims a smaller vocabulary than its ids: the first offender is named.
  const std::string vocab = variant("vocab.bin", [](auto& b) {
    patch_u32(b, 24, 200);
    patch_u32(b, 28, 0);  // eot 0 < 200
    reseal_header(b);
  });
  auto toks = sequence(500, 257);
  const auto first = std::find_if(toks.begin(), toks.end(), [](int32_t t) { return t >= 200; }) - toks.begin();
  expect_error([&] { Shard s(vocab); },
               {vocab, "token " + std::to_string(toks[first]) + " at position " + std::to_string(first),
                ">= the vocabulary size 200"});
  const std::string huge = variant("huge.bin", [](auto& b) {
    const uint64_t count = uint64_t(1) << 63;  // count * width overflows 64 bits
    std::memcpy(b.data() + 16, &count, 8);
    reseal_header(b);
  });
  expect_error([&] { Shard s(huge); }, {huge, "truncated", "promises 9223372036854775808 tokens"});
  // Found by tests/fuzz/fuzz_shard: a consistent width-4 file whose vocabulary is above INT32_MAX read ids of
  // 2^31 and more as negative int32 (an out-of-bounds embedding row later); now the header is refused.
  const std::string wide = dir / "wide.bin";
  write_shard(wide, {1, 2, 3}, 70000);
  auto wide_bytes = test::read_bytes(wide);
  patch_u32(wide_bytes, 24, 0xFFB11170u);  // vocab 4289794416
  const uint32_t big_id = 0xF0000000u;     // read as int32: -268435456
  std::memcpy(wide_bytes.data() + 64, &big_id, 4);
  const uint64_t token_sum = tok64(wide_bytes.data() + 64, 12);
  std::memcpy(wide_bytes.data() + 40, &token_sum, 8);
  reseal_header(wide_bytes);
  test::write_bytes(wide, wide_bytes);
  expect_error([&] { Shard s(wide); }, {wide, "bad vocabulary size 4289794416 for width 4"});
  expect_error([&] { ShardWriter w(dir / "w.bin", int64_t(INT32_MAX) + 1); }, {"bad vocabulary size 2147483648"});
  expect_error([&] { Shard s(good, 100); }, {good, "vocabulary of 257 exceeds the model's 100"});
  const std::string tiny = dir / "tiny.bin";
  test::write_text(tiny, "abc");
  expect_error([&] { Shard s(tiny); }, {tiny, "smaller than the 64-byte header"});
  expect_error([&] { Shard s(dir / "absent.bin"); }, {"absent.bin", "cannot open shard"});
  Shard ok(good, 257);  // the original still passes
  EXPECT_EQ(ok.size(), 500);
}

TEST(Split, RollsAtDocumentBoundariesAndReplacesStaleShards) {
  TempDir dir("split");
  std::vector<std::vector<int32_t>> docs;
  for (int d = 0; d < 40; ++d) docs.push_back(sequence(20 + d, 256));
  {
    SplitWriter w(dir.path(), "train", 257, 256, 200);
    for (const auto& d : docs) w.add_document(d);
    auto files = w.close();
    ASSERT_GT(files.size(), 3u);
    EXPECT_EQ(std::filesystem::path(files[1]).filename(), "train_000001.bin");
  }
  auto shards = open_split(dir.path(), "train", 257);
  std::vector<int32_t> all, expect;
  for (const auto& d : docs) {
    expect.insert(expect.end(), d.begin(), d.end());
    expect.push_back(256);
  }
  for (const auto& s : shards) {
    EXPECT_EQ(s->at(s->size() - 1), 256) << "shards end at a document boundary";
    for (int64_t i = 0; i < s->size(); ++i) all.push_back(s->at(i));
  }
  EXPECT_EQ(all, expect);
  {  // an interrupted run (no close) leaves nothing that looks like a split
    SplitWriter w(dir.path(), "val", 257, 256, 50);
    for (const auto& d : docs) w.add_document(d);
  }
  EXPECT_TRUE(split_files(dir.path(), "val").empty());
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().rfind("val", 0), std::string::npos) << e.path();
  test::write_text(dir / "train_000007.bin.part", "left by a killed run");
  {  // a smaller re-run writes one train.bin and removes the numbered shards and unfinished files
    SplitWriter w(dir.path(), "train", 257, 256);
    w.add_document(docs[0]);
    EXPECT_EQ(w.close(), std::vector<std::string>{dir / "train.bin"});
  }
  EXPECT_EQ(split_files(dir.path(), "train"), std::vector<std::string>{dir / "train.bin"});
  EXPECT_FALSE(std::filesystem::exists(dir / "train_000007.bin.part"));
  EXPECT_TRUE(split_files(dir.path(), "val").empty());
  expect_error([&] { open_split(dir.path(), "val"); }, {dir.path(), "no 'val' split"});
  std::filesystem::copy_file(dir / "train.bin", dir / "train_000001.bin");
  expect_error([&] { split_files(dir.path(), "train"); }, {"both train.bin and numbered"});
  std::filesystem::remove(dir / "train.bin");
  expect_error([&] { split_files(dir.path(), "train"); }, {"shard 0 of split 'train' is missing"});
}

TEST(Shard, VerifyingA100MTokenShardIsFast) {
  TempDir dir("shard_big");
  const int64_t n = 100'000'000;
  auto t0 = std::chrono::steady_clock::now();
  {
    ShardWriter w(dir / "big.bin", 50257, 50256);
    std::vector<int32_t> chunk(1 << 20);
    for (int64_t at = 0; at < n; at += static_cast<int64_t>(chunk.size())) {
      const int64_t m = std::min<int64_t>(static_cast<int64_t>(chunk.size()), n - at);
      for (int64_t i = 0; i < m; ++i) chunk[i] = static_cast<int32_t>((at + i) * 2654435761u % 50257);
      w.append(chunk.data(), static_cast<size_t>(m));
    }
    w.close();
  }
  auto t1 = std::chrono::steady_clock::now();
  Shard s(dir / "big.bin", 50257);
  auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.size(), n);
  std::printf("[ info ] 100M-token shard (200 MB): written in %.2f s, opened and verified in %.3f s\n",
              std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count());
}

}  // namespace
}  // namespace weft::data
