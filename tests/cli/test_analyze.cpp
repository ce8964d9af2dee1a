// weft analyze through the binary, on the built-in corpus: `analyze represent` on a tiny mixer run (one JSON
// line per checkpoint, --all-checkpoints in step order, the same answer for any --batch-size), and the
// refusals (exit code 2, a message naming the flag, the analysis or the model that lacks the hook).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;
using Result = weft::test::ProcessResult;
using weft::test::json_field;
using weft::test::json_lines;

Result run(const std::string& args) { return weft::test::run_shell(std::string(WEFT_BINARY) + " " + args); }

class Analyze : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_analyze_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    Result r = run("prepare --builtin stories --tokens 100000 --out " + dir_ + "/data");
    ASSERT_EQ(r.code, 0) << r.out;
    const std::string common = " --data " + dir_ + "/data --seq-len 16 --batch-size 4 --steps 20 --warmup 2"
                               " --eval-every 0 --eval-batches 1 --log-every 10 --save-every 10 --threads 1";
    r = run("train --model mixer --d-model 16 --n-layers 2 --out " + dir_ + "/mx" + common);
    ASSERT_EQ(r.code, 0) << r.out;
    r = run("train --model bag --out " + dir_ + "/bag" + common);
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
};
std::string Analyze::dir_;

TEST_F(Analyze, RepresentReportsOneLinePerCheckpoint) {
  const std::string base = "analyze represent --samples 3 --steps 40 --threads 1 --checkpoint " + dir_ + "/mx";
  Result r = run(base);
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<std::string> lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(json_field(lines[0], "step"), "20");
  EXPECT_EQ(json_field(lines[0], "samples"), "3");
  EXPECT_EQ(json_field(lines[0], "model"), "\"mixer\"");
  const double h = std::stod(json_field(lines[0], "hamming"));
  EXPECT_GE(h, 0.0);
  EXPECT_LE(h, 1.0);
  EXPECT_GT(std::stoll(json_field(lines[0], "positions")), 0);
  EXPECT_LT(std::stod(json_field(lines[0], "l1_end")), std::stod(json_field(lines[0], "l1_start")));
  EXPECT_NE(r.out.find("hamming"), std::string::npos);  // the table

  // Batching is an implementation detail: one story at a time gives the same count.
  Result one = run(base + " --batch-size 1");
  ASSERT_EQ(one.code, 0) << one.out;
  ASSERT_EQ(json_lines(one.out).size(), 1u);
  EXPECT_EQ(json_field(json_lines(one.out)[0], "misses"), json_field(lines[0], "misses"));

  // Every checkpoint of the run, in step order, also appended to --out.
  const std::string out = dir_ + "/represent.jsonl";
  Result all = run(base + " --all-checkpoints --out " + out);
  ASSERT_EQ(all.code, 0) << all.out;
  lines = json_lines(all.out);
  ASSERT_EQ(lines.size(), 2u) << all.out;
  EXPECT_EQ(json_field(lines[0], "step"), "10");
  EXPECT_EQ(json_field(lines[1], "step"), "20");
  EXPECT_TRUE(fs::exists(out));
}

TEST_F(Analyze, RefusalsNameTheProblem) {
  Result r = run("analyze");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("represent"), std::string::npos) << r.out;
  r = run("analyze nonsense");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown analysis 'nonsense'"), std::string::npos) << r.out;
  r = run("analyze represent --checkpoint " + dir_ + "/missing");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--checkpoint"), std::string::npos) << r.out;
  r = run("analyze represent --steps -1 --checkpoint " + dir_ + "/mx");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--steps"), std::string::npos) << r.out;
  r = run("analyze represent --all-checkpoints --checkpoint " + dir_ + "/mx/checkpoints/step_00000010");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("not a run folder"), std::string::npos) << r.out;
  // A family without the hook (the bag of embeddings) is refused by name.
  r = run("analyze represent --steps 1 --samples 1 --checkpoint " + dir_ + "/bag");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("model 'bag' does not"), std::string::npos) << r.out;
}

}  // namespace
