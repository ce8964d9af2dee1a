// --pack padded through the weft binary (label cli): one document per sample on a corpus of short and long
// documents. A padded run on 1 rank x grad-accum 2 equals 2 ranks x 1 (losses and weights; mpirun, skipped
// when missing), so every rank divides by the global count of real targets; a padded resume is bit-exact;
// resuming with another --pack is refused naming the flag, and without --pack keeps the checkpoint's;
// eval counts only real targets and prints the same keys for both packings; --pack concat is the default,
// bit for bit; the real-token rate is logged next to the window-token rate.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "data/shard.h"
#include "launch/checkpoint.h"
#include "launch/model_options.h"
#include "tests/harness/gradcheck.h"
#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;
using Result = weft::test::ProcessResult;
using weft::test::mpirun;

Result sh(const std::string& cmd) { return weft::test::run_shell(cmd); }
Result run(const std::string& args) { return sh(std::string(WEFT_BINARY) + " " + args); }

std::string json_field(const std::string& line, const std::string& key) {
  size_t p = line.find("\"" + key + "\": ");
  if (p == std::string::npos) return "";
  p += key.size() + 4;
  return line.substr(p, line.find_first_of(",}", p) - p);
}

std::set<std::string> json_keys(const std::string& line) {
  std::set<std::string> keys;
  for (size_t p = line.find('"'); p != std::string::npos; p = line.find('"', p)) {
    size_t end = line.find('"', p + 1);
    if (line.compare(end + 1, 1, ":") == 0) keys.insert(line.substr(p + 1, end - p - 1));
    p = line.find_first_of(",}", end);
  }
  return keys;
}

constexpr int64_t kT = 32;

class Pack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_pack_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    // 400 documents of 2 to 90 bytes: most are shorter than a window of 33 tokens (padded), some longer
    // (truncated).
    std::ofstream docs(dir_ + "/docs.jsonl");
    for (int d = 0; d < 400; ++d) {
      std::string text;
      for (int j = 0, n = 2 + (d * 37) % 89; j < n; ++j) text += static_cast<char>('a' + (d * 7 + j * j) % 26);
      docs << "{\"text\": \"" << text << "\"}\n";
    }
    docs.close();
    Result r = run("prepare --input " + dir_ + "/docs.jsonl --out " + dir_ + "/data --val-fraction 0.1");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string train(const std::string& out, const std::string& extra) {
    return std::string(WEFT_BINARY) + " train --data " + dir_ + "/data --out " + out +
           " --d-model 16 --n-layers 2 --n-heads 2 --seq-len " + std::to_string(kT) +
           " --threads 1 --eval-every 0 --eval-batches 2 --log-every 1 --warmup 2 " + extra;
  }
  // step -> the metrics line of that step
  static std::map<int, std::string> metrics(const std::string& run_dir) {
    std::map<int, std::string> m;
    std::ifstream in(run_dir + "/metrics.jsonl");
    std::string line;
    while (std::getline(in, line))
      if (!json_field(line, "loss").empty()) m[std::stoi(json_field(line, "step"))] = line;
    return m;
  }
  // "loss grad_norm" per step, as written (17 significant digits: exact doubles).
  static std::map<int, std::string> losses(const std::string& run_dir) {
    std::map<int, std::string> m;
    for (const auto& [step, line] : metrics(run_dir)) m[step] = json_field(line, "loss") + " " + json_field(line, "grad_norm");
    return m;
  }
  // The parameters of a run's latest checkpoint, built from its stored configuration.
  static std::vector<double> weights(const std::string& run_dir) {
    const std::string path = weft::launch::resolve_checkpoint(run_dir, "latest");
    auto model = weft::launch::make_model_from_ini(weft::launch::read_checkpoint_meta(path).config_ini);
    weft::ParamStore store;
    model->declare(store);
    store.finalize();
    weft::launch::load_checkpoint(path, store, nullptr, nullptr);
    return weft::test::to_host_doubles(store.values());
  }
  static std::string dir_;
};
std::string Pack::dir_;

TEST_F(Pack, PaddedOneRankAccumTwoEqualsTwoRanksAccumOne) {
  if (sh("command -v mpirun").code != 0) GTEST_SKIP() << "mpirun not found";
  const std::string flags = "--pack padded --steps 12 --seed 3 --batch-size 4";
  const std::string r1 = dir_ + "/accum", r2 = dir_ + "/ranks";
  Result a = sh(train(r1, flags + " --grad-accum 2"));
  ASSERT_EQ(a.code, 0) << a.out;
  Result b = sh(mpirun(2) + train(r2, flags + " --grad-accum 1"));
  ASSERT_EQ(b.code, 0) << b.out;
  auto m1 = metrics(r1), m2 = metrics(r2);
  ASSERT_EQ(m1.size(), 12u);
  ASSERT_EQ(m2.size(), 12u);
  for (int step = 1; step <= 12; ++step) {
    const double l1 = std::stod(json_field(m1[step], "loss")), l2 = std::stod(json_field(m2[step], "loss"));
    EXPECT_NEAR(l2, l1, 1e-5 * std::fabs(l1)) << "step " << step;
  }
  auto w1 = weights(r1), w2 = weights(r2);
  ASSERT_EQ(w1.size(), w2.size());
  double d = 0;
  for (size_t i = 0; i < w1.size(); ++i) d = std::max(d, std::fabs(w2[i] - w1[i]));
  EXPECT_LE(d, 1e-5);
}

TEST_F(Pack, PaddedResumeIsBitExactAndKeepsThePacking) {
  const std::string flags = "--pack padded --steps 8 --decay-steps 8 --seed 5 --batch-size 3 --grad-accum 2 --dropout 0.1";
  const std::string full = dir_ + "/full", split = dir_ + "/split";
  Result r = sh(train(full, flags));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(train(split, "--pack padded --steps 4 --decay-steps 8 --seed 5 --batch-size 3 --grad-accum 2 --dropout 0.1"));
  ASSERT_EQ(r.code, 0) << r.out;
  // --pack is not repeated: the checkpoint's packing continues.
  r = sh(train(split, "--steps 8 --decay-steps 8 --seed 5 --batch-size 3 --grad-accum 2 --dropout 0.1 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("one padded document each"), std::string::npos) << r.out;
  EXPECT_EQ(losses(split), losses(full));
  EXPECT_EQ(weights(split), weights(full));
}

TEST_F(Pack, ResumingWithAnotherPackingIsRefusedNamingTheFlag) {
  const std::string out = dir_ + "/refuse";
  Result r = sh(train(out, "--pack padded --steps 2 --batch-size 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(train(out, "--pack concat --steps 4 --batch-size 2 --resume latest"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--pack concat contradicts the checkpoint"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pack = padded"), std::string::npos) << r.out;
  const std::string concat = dir_ + "/refuse_concat";  // and the other way round
  r = sh(train(concat, "--steps 2 --batch-size 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(train(concat, "--pack padded --steps 4 --batch-size 2 --resume latest"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--pack padded contradicts the checkpoint"), std::string::npos) << r.out;
  r = run("train --pack docs --data " + dir_ + "/data --out " + dir_ + "/bad");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--pack must be concat, padded or segments"), std::string::npos) << r.out;
}

TEST_F(Pack, EvalCountsOnlyRealTargets) {
  const std::string out = dir_ + "/eval";
  Result r = sh(train(out, "--pack padded --steps 2 --batch-size 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  // Real targets of the validation split: min(length - 1, T) per non-empty document.
  weft::data::Shard val(dir_ + "/data/val.bin");
  int64_t real = 0, documents = 0, length = 0;
  for (int64_t i = 0; i < val.size(); ++i) {
    if (val.at(i) != val.eot()) {
      ++length;
      continue;
    }
    if (length > 0) real += std::min(length - 1, kT), ++documents;
    length = 0;
  }
  ASSERT_GT(documents, 20);
  ASSERT_LT(real, documents * kT) << "the corpus must have documents shorter than a window";
  Result padded = run("eval --checkpoint " + out + " --threads 1 --batch-size 3 --pack padded");
  ASSERT_EQ(padded.code, 0) << padded.out;
  EXPECT_EQ(json_field(padded.out, "tokens"), std::to_string(real)) << padded.out;
  Result other = run("eval --checkpoint " + out + " --threads 1 --batch-size 5 --pack padded");
  ASSERT_EQ(other.code, 0) << other.out;
  EXPECT_EQ(json_field(other.out, "tokens"), std::to_string(real));
  EXPECT_NEAR(std::stod(json_field(other.out, "loss")), std::stod(json_field(padded.out, "loss")),
              1e-8 * std::stod(json_field(padded.out, "loss")));
  Result concat = run("eval --checkpoint " + out + " --threads 1");  // the default, whatever the run trained on
  ASSERT_EQ(concat.code, 0) << concat.out;
  EXPECT_EQ(json_field(concat.out, "tokens"), std::to_string((val.size() - 1) / kT * kT)) << concat.out;
  Result explicit_concat = run("eval --checkpoint " + out + " --threads 1 --pack concat");
  EXPECT_EQ(explicit_concat.out, concat.out);
  EXPECT_EQ(json_keys(padded.out), json_keys(concat.out)) << padded.out << concat.out;
  EXPECT_NE(json_field(padded.out, "loss"), json_field(concat.out, "loss"));
}

TEST_F(Pack, ConcatIsTheDefaultBitForBitAndRealTokenRateIsLoggedForPadded) {
  const std::string flags = "--steps 3 --batch-size 2 --grad-accum 2 --seed 7";
  const std::string plain = dir_ + "/plain", concat = dir_ + "/concat", padded = dir_ + "/padded_rate";
  Result r = sh(train(plain, flags));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(train(concat, flags + " --pack concat"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(losses(plain), losses(concat));
  EXPECT_EQ(weights(plain), weights(concat));
  std::ifstream ini(plain + "/config.ini");
  std::string text((std::istreambuf_iterator<char>(ini)), {});
  EXPECT_NE(text.find("pack = concat\n"), std::string::npos) << text;
  for (const auto& [step, line] : metrics(plain)) EXPECT_EQ(json_field(line, "real_tokens_per_s"), "") << line;
  r = sh(train(padded, flags + " --pack padded"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(" tok/s | ETA"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| real "), std::string::npos) << r.out;
  for (const auto& [step, line] : metrics(padded)) {
    const std::string real = json_field(line, "real_tokens_per_s");
    ASSERT_FALSE(real.empty()) << line;
    EXPECT_LT(std::stod(real), std::stod(json_field(line, "tokens_per_s"))) << "pads are not real tokens: " << line;
  }
}

}  // namespace
