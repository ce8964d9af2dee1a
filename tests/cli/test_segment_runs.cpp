// --pack segments and the sorting task through the weft binary (label cli). With the bag model carrying
// state per stream (--bag-carry), 1 rank x grad-accum 2 equals 2 ranks x 1 step for step (mpirun, skipped
// when missing); a run resumed on another rank count continues the uninterrupted one (cursors and state
// from the checkpoint); resuming with another global batch is refused. `weft prepare --builtin sorting`
// errors name the flags; training on it counts only answer tokens; `weft eval` reports accuracy and
// sequence_accuracy with --pack segments and concat, and a trained model's answers beat chance.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

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

// step -> {loss, grad_norm} of a run's metrics.jsonl
std::map<int, std::pair<double, double>> losses(const std::string& run_dir) {
  std::map<int, std::pair<double, double>> m;
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!json_field(line, "loss").empty())
      m[std::stoi(json_field(line, "step"))] = {std::stod(json_field(line, "loss")),
                                                std::stod(json_field(line, "grad_norm"))};
  return m;
}

void expect_same(const std::map<int, std::pair<double, double>>& a, const std::map<int, std::pair<double, double>>& b,
                 int first, int last) {
  for (int step = first; step <= last; ++step) {
    ASSERT_TRUE(a.count(step) && b.count(step)) << "step " << step;
    EXPECT_NEAR(b.at(step).first, a.at(step).first, 1e-6 * std::fabs(a.at(step).first)) << "loss, step " << step;
    EXPECT_NEAR(b.at(step).second, a.at(step).second, 1e-5 * std::fabs(a.at(step).second)) << "grad norm, step " << step;
  }
}

class Segments : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_segments_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    std::ofstream docs(dir_ + "/docs.jsonl");  // 60 documents of 20 to 200 bytes
    for (int d = 0; d < 60; ++d) {
      std::string text;
      for (int j = 0, n = 20 + (d * 53) % 181; j < n; ++j) text += static_cast<char>('a' + (d * 5 + j * j) % 26);
      docs << "{\"text\": \"" << text << "\"}\n";
    }
    docs.close();
    Result r = run("prepare --input " + dir_ + "/docs.jsonl --out " + dir_ + "/text --val-fraction 0.1");
    ASSERT_EQ(r.code, 0) << r.out;
    // Examples of 38 + 1 + 20 + 1 = 60 tokens: two segments of 30 each.
    r = run("prepare --builtin sorting --sequence-length 38 --examples 400 --seed 3 --out " + dir_ + "/sort");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // The bag model with state per stream, on the text folder, --pack segments.
  static std::string bag(const std::string& out, const std::string& extra) {
    return std::string(WEFT_BINARY) + " train --model bag --bag-carry true --d-model 16 --bag-window 4 --data " + dir_ +
           "/text --out " + out + " --pack segments --seq-len 16 --threads 1 --eval-every 0 --eval-batches 2 " +
           "--log-every 1 --warmup 2 --seed 4 --decay-steps 10 " + extra;
  }
  static std::string dir_;
};
std::string Segments::dir_;

TEST_F(Segments, OneRankAccumTwoEqualsTwoRanksAccumOne) {
  if (sh("command -v mpirun").code != 0) GTEST_SKIP() << "mpirun not found";
  const std::string a = dir_ + "/accum", b = dir_ + "/ranks";
  Result r = sh(bag(a, "--steps 10 --batch-size 2 --grad-accum 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("consecutive segments of one stream each"), std::string::npos) << r.out;
  r = sh(mpirun(2) + bag(b, "--steps 10 --batch-size 2 --grad-accum 1"));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same(losses(a), losses(b), 1, 10);
}

TEST_F(Segments, ResumeOnAnotherRankCountContinuesTheRun) {
  const std::string full = dir_ + "/full", split = dir_ + "/split";
  Result r = sh(bag(full, "--steps 10 --batch-size 2 --grad-accum 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(bag(split, "--steps 5 --batch-size 2 --grad-accum 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  Result e = run("eval --checkpoint " + full + " --threads 1 --pack segments --batch-size 2");
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_EQ(json_field(e.out, "accuracy"), "") << "no loss mask, no accuracy: " << e.out;
  // The same run continued (1 rank), then a global batch of another size is refused.
  const std::string same = dir_ + "/same";
  fs::copy(split, same, fs::copy_options::recursive);
  r = sh(bag(same, "--steps 10 --batch-size 2 --grad-accum 2 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same(losses(full), losses(same), 6, 10);
  r = sh(bag(split + "_other", "--steps 10 --batch-size 3 --grad-accum 2 --resume " + split +
                                   "/checkpoints/step_00000005"));
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("4 stream cursors for 6 streams"), std::string::npos) << r.out;
  if (sh("command -v mpirun").code != 0) GTEST_SKIP() << "mpirun not found";
  r = sh(mpirun(2) + bag(split, "--steps 10 --batch-size 2 --grad-accum 1 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same(losses(full), losses(split), 6, 10);
}

TEST_F(Segments, PrepareSortingErrorsNameTheFlags) {
  Result r = run("prepare --builtin sorting --out " + dir_ + "/bad");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--sequence-length"), std::string::npos) << r.out;
  r = run("prepare --builtin stories --sequence-length 5 --out " + dir_ + "/bad");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("apply to --builtin sorting"), std::string::npos) << r.out;
  r = run("prepare --builtin sorting --sequence-length 5 --tokenizer sentencepiece --out " + dir_ + "/bad");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--tokenizer"), std::string::npos) << r.out;
}

TEST_F(Segments, SortingTrainsOnAnswersAndEvalReportsAccuracy) {
  const std::string out = dir_ + "/sorting";
  Result r = sh(std::string(WEFT_BINARY) + " train --data " + dir_ + "/sort --out " + out +
                " --pack segments --seq-len 30 --d-model 32 --n-layers 1 --n-heads 2 --batch-size 8 --steps 60" +
                " --lr 3e-3 --warmup 5 --threads 1 --eval-every 0 --eval-batches 4 --log-every 10");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("| real "), std::string::npos) << "masked targets are not real tokens: " << r.out;
  // 40 validation examples (--val-fraction 0.1 of 400), 20 answer tokens each: only those count.
  Result seg = run("eval --checkpoint " + out + " --threads 1 --pack segments --batch-size 4");
  ASSERT_EQ(seg.code, 0) << seg.out;
  EXPECT_EQ(json_field(seg.out, "tokens"), "800") << seg.out;
  EXPECT_EQ(json_field(seg.out, "sequences"), "40") << seg.out;
  EXPECT_EQ(json_field(seg.out, "pack"), "\"segments\"") << seg.out;
  const double acc = std::stod(json_field(seg.out, "accuracy"));
  const double exact = std::stod(json_field(seg.out, "sequence_accuracy"));
  EXPECT_GT(acc, 0.1) << "chance is 1/20: " << seg.out;
  EXPECT_LE(acc, 1.0);
  EXPECT_TRUE(exact >= 0 && exact <= acc) << seg.out;
  // The same answers as windows of the concatenated stream (each example is two whole windows here).
  Result concat = run("eval --checkpoint " + out + " --threads 1 --batch-size 4");
  ASSERT_EQ(concat.code, 0) << concat.out;
  EXPECT_EQ(json_field(concat.out, "tokens"), "780") << "the last window needs one token more: " << concat.out;
  EXPECT_EQ(json_field(concat.out, "sequences"), "39") << concat.out;
}

}  // namespace
