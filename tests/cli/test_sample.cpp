// weft sample through the binary with and without the decode cache (--no-cache), on tiny transformers
// trained briefly on the built-in stories (learned positions; RoPE with an attention window): greedy and
// sampled continuations are identical byte for byte, also past the training length (where a row falls
// back to recomputing its window); several prompts (--prompt repeated, --prompts FILE) print one JSON line
// each in prompt order, each equal to that prompt sampled alone at temperature 0; a missing --prompts file
// exits 2. Plus the UTF-8 hold-back of the streamed text (launch/sampling.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "launch/metrics.h"
#include "launch/sampling.h"
#include "tests/harness/process.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

// stdout only (stderr dropped), exit code kept.
ProcessResult sample(const std::string& args) {
  return run_shell(std::string(WEFT_BINARY) + " sample --threads 1 " + args + " 2>/dev/null");
}

class Sample : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_sample_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ProcessResult r = run_shell(std::string(WEFT_BINARY) + " prepare --builtin stories --out " + dir_ +
                                "/data --tokens 30000 2>&1");
    ASSERT_EQ(r.code, 0) << r.out;
    for (const char* pos : {"learned", "rope --attention-window 12"}) {
      const std::string name = std::string(pos).substr(0, std::string(pos).find(' '));
      r = run_shell(std::string(WEFT_BINARY) + " train --data " + dir_ + "/data --out " + dir_ + "/" + name +
                    " --d-model 32 --n-layers 2 --n-heads 2 --seq-len 32 --batch-size 4 --threads 1 --steps 30"
                    " --lr 3e-3 --warmup 0 --eval-every 0 --log-every 30 --position " + pos + " 2>&1");
      ASSERT_EQ(r.code, 0) << r.out;
    }
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
};
std::string Sample::dir_;

TEST_F(Sample, CacheAndRecomputeGiveTheSameText) {
  for (const char* model : {"learned", "rope"})
    for (const char* how : {"--temperature 0", "--temperature 0.9 --seed 5"}) {
      SCOPED_TRACE(std::string(model) + " " + how);
      // 80 new tokens after a 9-token prompt: past the training length 32 (a sliding window from there on).
      const std::string args = "--checkpoint " + dir_ + "/" + model + " --prompt 'Once upon' --max-new-tokens 80 " + how;
      ProcessResult cached = sample(args), full = sample(args + " --no-cache");
      ASSERT_EQ(cached.code, 0) << cached.out;
      ASSERT_EQ(full.code, 0) << full.out;
      EXPECT_EQ(cached.out.rfind("Once upon", 0), 0u) << cached.out;
      EXPECT_GT(cached.out.size(), 40u) << cached.out;
      EXPECT_EQ(cached.out, full.out);
    }
}

TEST_F(Sample, SeveralPromptsAreOneBatchInPromptOrder) {
  std::ofstream(dir_ + "/prompts.txt") << "The cat\n\nA dog sat\n";
  const std::string args = "--checkpoint " + dir_ + "/rope --temperature 0 --max-new-tokens 50 --prompt Once --prompts " +
                           dir_ + "/prompts.txt";
  ProcessResult cached = sample(args), full = sample(args + " --no-cache");
  ASSERT_EQ(cached.code, 0) << cached.out;
  EXPECT_EQ(cached.out, full.out);
  const std::vector<std::string> lines = json_lines(cached.out);
  ASSERT_EQ(lines.size(), 3u) << cached.out;
  const char* prompts[] = {"Once", "The cat", "A dog sat"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(json_field(lines[i], "prompt"), std::to_string(i));
    // The batch row equals the prompt sampled alone (greedy), whose text is printed plainly.
    ProcessResult alone = sample("--checkpoint " + dir_ + "/rope --temperature 0 --max-new-tokens 50 --prompt '" +
                                 prompts[i] + "'");
    ASSERT_EQ(alone.code, 0);
    const std::string text = alone.out.substr(0, alone.out.size() - 1);  // without the final newline
    std::string quoted = "\"";  // appended: GCC 12 warns -Wrestrict (a false positive) on "\"" + std::string
    quoted += launch::json_escape(text);
    quoted += '"';
    EXPECT_EQ(json_field(lines[i], "text"), quoted) << lines[i];
  }
  ProcessResult missing = run_shell(std::string(WEFT_BINARY) + " sample --checkpoint " + dir_ +
                                    "/rope --prompts " + dir_ + "/nowhere.txt 2>&1");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.out.find("--prompts: cannot read '" + dir_ + "/nowhere.txt'"), std::string::npos) << missing.out;
}

TEST(SampleStream, Utf8PiecesWaitForTheirLastByte) {
  using launch::complete_utf8_prefix;
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix("a\xC3"), 1u);              // é's first byte
  EXPECT_EQ(complete_utf8_prefix("a\xC3\xA9"), 3u);          // é complete
  EXPECT_EQ(complete_utf8_prefix("a\xE2\x82"), 1u);          // € without its last byte
  EXPECT_EQ(complete_utf8_prefix("a\xE2\x82\xAC"), 4u);
  EXPECT_EQ(complete_utf8_prefix("\xF0\x9F\x98"), 0u);       // an emoji's first three bytes
  EXPECT_EQ(complete_utf8_prefix("\xF0\x9F\x98\x80!"), 5u);
  EXPECT_EQ(complete_utf8_prefix("a\x80\x80"), 3u);          // stray continuation bytes: nothing to wait for
}

}  // namespace
}  // namespace weft::test
