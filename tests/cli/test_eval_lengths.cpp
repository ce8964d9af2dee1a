// weft eval --lengths (the length-extrapolation evaluator) through the weft binary, on a tiny transformer
// trained briefly on the built-in stories: nonoverlap at the training length is today's `weft eval` loss;
// sliding with S = L is nonoverlap, a smaller S scores the same tokens with more context and a lower loss;
// the JSON lines agree for 1 and 2 ranks and any --batch-size (the same windows, tokens and bins; losses to 1e-6
// relative, since a BLAS may pick its kernel by row count) (and plain eval under mpirun prints once,
// --batches counting in total); every registered family runs at L and L / 2 and a family with a finite
// max_seq_len reports 2 L as an error line while the others still print; bad input exits 2 naming the flag.
// Every family also scores a --task pairs (1 and 2 ranks: identical lines) and a --task choice file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/family_runs.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

ProcessResult weft(const std::string& args) { return run_shell(std::string(WEFT_BINARY) + " " + args); }
// The JSON lines of a run's output (the table on stderr interleaves with them).
ProcessResult json_lines(ProcessResult r) {
  std::istringstream in(r.out);
  std::string line, kept;
  while (std::getline(in, line))
    if (line.rfind("{", 0) == 0) kept += line + "\n";
  r.out = kept;
  return r;
}
ProcessResult weft_stdout(const std::string& args) {
  return json_lines(run_shell(std::string(WEFT_BINARY) + " " + args));
}

// Empty when A and B are the same text up to their numbers and every number of A is within REL (relative) of
// B's; else the first difference. The structure (keys, counts, bins, errors) must match exactly.
std::string differs_beyond(const std::string& a, const std::string& b, double rel) {
  static const std::regex number(R"(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
  std::sregex_iterator ia(a.begin(), a.end(), number), ib(b.begin(), b.end(), number), end;
  size_t pa = 0, pb = 0;
  for (; ia != end && ib != end; ++ia, ++ib) {
    if (a.substr(pa, ia->position() - pa) != b.substr(pb, ib->position() - pb)) return "text before " + ia->str();
    const double x = std::stod(ia->str()), y = std::stod(ib->str());
    const bool integral = ia->str().find_first_of(".eE") == std::string::npos;
    if (integral ? ia->str() != ib->str() : std::fabs(x - y) > rel * std::max(std::fabs(x), std::fabs(y)))
      return ia->str() + " vs " + ib->str();
    pa = ia->position() + ia->length();
    pb = ib->position() + ib->length();
  }
  if (ia != end || ib != end || a.substr(pa) != b.substr(pb)) return "different lengths or endings";
  return "";
}

// The output line whose "length" is L ("" if none).
std::string line_of(const std::string& out, int64_t L) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("{\"length\": " + std::to_string(L) + ",", 0) == 0) return line;
  return "";
}

class EvalLengths : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_eval_lengths_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ProcessResult r = weft("prepare --builtin stories --out " + dir_ + "/data --tokens 60000");
    ASSERT_EQ(r.code, 0) << r.out;
    r = weft("train --data " + dir_ + "/data --out " + dir_ +
             "/run --d-model 32 --n-layers 2 --n-heads 2 --seq-len 16"
             " --position learned --batch-size 8 --threads 1 --steps 800 --lr 3e-3 --warmup 30 --eval-every 0"
             " --log-every 400 --seed 3");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string eval(const std::string& extra) {
    return "eval --checkpoint " + dir_ + "/run --threads 1 " + extra;
  }
  static std::string dir_;
};
std::string EvalLengths::dir_;

TEST_F(EvalLengths, NonoverlapAtTheTrainingLengthIsPlainEval) {
  ProcessResult plain = weft_stdout(eval(""));
  ASSERT_EQ(plain.code, 0) << plain.out;
  ProcessResult lengths = weft_stdout(eval("--lengths 16,8 --batch-size 5"));
  ASSERT_EQ(lengths.code, 0) << lengths.out;
  const std::string at16 = line_of(lengths.out, 16);
  ASSERT_FALSE(at16.empty()) << lengths.out;
  EXPECT_EQ(json_field(at16, "loss"), json_field(plain.out, "loss")) << at16 << "\n" << plain.out;
  EXPECT_EQ(json_field(at16, "tokens"), json_field(plain.out, "tokens"));
  EXPECT_EQ(json_field(at16, "mode"), "\"nonoverlap\"");
  EXPECT_EQ(json_field(at16, "position_bins"), "[0, 1, 2, 4, 8, 16]");
  EXPECT_EQ(json_field(line_of(lengths.out, 8), "position_bins"), "[0, 1, 2, 4, 8]");
  // The early-token curse: the first position (no context) is harder than the last bin.
  const std::string bins = json_field(at16, "position_loss");
  const double first = std::stod(bins.substr(1)), last = std::stod(bins.substr(bins.rfind(", ") + 2));
  EXPECT_GT(first, last) << bins;
}

TEST_F(EvalLengths, SlidingScoresEveryTargetOnceWithMoreContext) {
  ProcessResult nonoverlap = weft_stdout(eval("--lengths 16 --positions-out " + dir_ + "/pos_n.jsonl"));
  ProcessResult full_stride = weft_stdout(eval("--lengths 16 --mode sliding --stride 16"));
  ProcessResult sliding =
      weft_stdout(eval("--lengths 16 --mode sliding --stride 4 --positions-out " + dir_ + "/pos_s.jsonl"));
  ASSERT_EQ(nonoverlap.code, 0) << nonoverlap.out;
  ASSERT_EQ(full_stride.code, 0) << full_stride.out;
  ASSERT_EQ(sliding.code, 0) << sliding.out;
  for (const char* key : {"loss", "tokens", "windows", "position_loss"})
    EXPECT_EQ(json_field(full_stride.out, key), json_field(nonoverlap.out, key)) << key;
  EXPECT_EQ(json_field(sliding.out, "tokens"), json_field(nonoverlap.out, "tokens"));
  EXPECT_GT(std::stoll(json_field(sliding.out, "windows")), 3 * std::stoll(json_field(nonoverlap.out, "windows")));
  EXPECT_LE(std::stod(json_field(sliding.out, "loss")), std::stod(json_field(nonoverlap.out, "loss")))
      << sliding.out << "\n"
      << nonoverlap.out;
  // --positions-out: every position's tokens; sliding scores positions < L - S only in the first window.
  std::ifstream n_in(dir_ + "/pos_n.jsonl"), s_in(dir_ + "/pos_s.jsonl");
  std::string n_line, s_line;
  ASSERT_TRUE(std::getline(n_in, n_line) && std::getline(s_in, s_line));
  const std::string n_tokens = json_field(n_line, "position_tokens"), s_tokens = json_field(s_line, "position_tokens");
  const std::string windows = json_field(nonoverlap.out, "windows");
  EXPECT_EQ(n_tokens.substr(0, n_tokens.find(',')), "[" + windows) << n_tokens;
  EXPECT_EQ(s_tokens.substr(0, 4), "[1, ") << s_tokens;
}

TEST_F(EvalLengths, RanksAndBatchSizesGiveTheSameLines) {
  // Not bit for bit: a BLAS may pick its kernel by row count (oneDNN does; OpenBLAS's SkylakeX and Haswell sgemm
  // do on this AMX machine, its Prescott one did not), so the last bits of a loss can move with the batch size
  // (docs/cpu-blas.md). Windows, tokens, bins and errors must be equal; losses to 1e-6 relative.
  const std::string args = "--lengths 16,8,11,32 --mode sliding --stride 5";
  ProcessResult one = weft_stdout(eval(args + " --batch-size 8"));
  ProcessResult small = weft_stdout(eval(args + " --batch-size 3"));
  // stderr dropped inside the subshell: mpirun forwards stdout and stderr in chunks that can split a line.
  ProcessResult two =
      json_lines(run_shell("(" + mpirun(2) + WEFT_BINARY + " " + eval(args + " --batch-size 2") + " 2>/dev/null)"));
  ASSERT_EQ(one.code, 0) << one.out;
  ASSERT_EQ(small.code, 0) << small.out;
  ASSERT_EQ(two.code, 0) << two.out;
  ASSERT_FALSE(line_of(one.out, 11).empty()) << one.out;
  ASSERT_NE(json_field(line_of(one.out, 32), "error"), "") << one.out;  // learned positions: 16 at most
  EXPECT_EQ(differs_beyond(small.out, one.out, 1e-6), "") << small.out << "\n" << one.out;
  EXPECT_EQ(differs_beyond(two.out, one.out, 1e-6), "") << two.out << "\n" << one.out;  // rank 0 alone prints
  // Plain eval under mpirun: one line, and --batches counts batches over all ranks.
  ProcessResult plain = json_lines(
      run_shell("(" + mpirun(2) + WEFT_BINARY + " " + eval("--batches 3 --batch-size 4") + " 2>/dev/null)"));
  ASSERT_EQ(plain.code, 0) << plain.out;
  EXPECT_EQ(plain.out.find("\"loss\""), plain.out.rfind("\"loss\"")) << plain.out;
  EXPECT_EQ(json_field(plain.out, "tokens"), std::to_string(3 * 4 * 16)) << plain.out;
}

TEST_F(EvalLengths, BadInputExitsTwoNamingTheFlag) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--lengths 128,abc", "--lengths"},      {"--lengths 0", "--lengths"},
      {"--lengths ''", "--lengths"},           {"--lengths 16, --mode sliding", "--lengths"},
      {"--lengths 16 --mode wide", "--mode"},  {"--lengths 8,16 --mode sliding --stride 9", "--stride"},
      {"--lengths 16 --stride 4", "--stride"}, {"--lengths 16 --seq-len 16", "--lengths"},
      {"--lengths 8,16,8", "listed twice"},
  };
  for (const auto& [args, flag] : cases) {
    ProcessResult r = weft(eval(args));
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(flag), std::string::npos) << args << "\n" << r.out;
  }
  fs::create_directories(dir_ + "/no_checkpoint/checkpoints");
  for (const std::string& folder : {dir_ + "/no_checkpoint", dir_ + "/data"}) {
    ProcessResult r = weft("eval --checkpoint " + folder + " --lengths 16");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--checkpoint"), std::string::npos) << r.out;
  }
  // No length runs (learned positions: 16 at most): exit 2, the error names the length and the limit.
  ProcessResult r = weft(eval("--lengths 1000000,17"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--lengths 1000000: model 'transformer' supports sequences of at most 16 tokens"),
            std::string::npos)
      << r.out;
  EXPECT_NE(json_field(line_of(r.out, 17), "error"), "") << r.out;
}

// Every registered family: a 2-step run evaluates at L and L / 2; at 2 L a family with a finite max_seq_len
// gets an error line naming its limit (exit 0: other lengths ran), an unbounded one a loss.
class FamilyLengths : public ::testing::TestWithParam<FamilyCase> {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_family_lengths_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ProcessResult r = weft("prepare --builtin stories --out " + dir_ + "/data --tokens 20000");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
};
std::string FamilyLengths::dir_;

TEST_P(FamilyLengths, RunsAtItsLengthAndHalfAndReportsTwiceItsLimit) {
  const FamilyCase& c = GetParam();
  const std::string run = dir_ + "/" + family_case_name(c);
  ProcessResult r = weft("train --data " + dir_ + "/data --out " + run + family_args(c) +
                         " --batch-size 2 --threads 1 --steps 2 --eval-every 0 --eval-batches 0 --log-every 1");
  ASSERT_EQ(r.code, 0) << r.out;
  const int64_t L = kCliSeqLen;
  r = weft("eval --checkpoint " + run + " --threads 1 --batches 4 --batch-size 2 --lengths " + std::to_string(L) + "," +
           std::to_string(2 * L) + "," + std::to_string(L / 2));
  ASSERT_EQ(r.code, 0) << r.out;
  for (int64_t len : {L, L / 2}) EXPECT_NE(json_field(line_of(r.out, len), "loss"), "") << len << "\n" << r.out;
  const std::string twice = line_of(r.out, 2 * L);
  ASSERT_FALSE(twice.empty()) << r.out;
  const int64_t limit = family_model(c)->max_seq_len();
  if (limit < 2 * L) {
    EXPECT_NE(json_field(twice, "error").find("at most " + std::to_string(limit) + " tokens"), std::string::npos)
        << twice;
    EXPECT_NE(r.out.find("--lengths " + std::to_string(2 * L) + ": model"), std::string::npos) << r.out;
  } else {  // unbounded: 2 L runs; a length no window of the split fits is the error instead
    EXPECT_NE(json_field(twice, "loss"), "") << twice;
    r = weft("eval --checkpoint " + run + " --threads 1 --batches 1 --lengths 1000000," + std::to_string(L));
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(json_field(line_of(r.out, 1000000), "error").find("holds no window of 1000000 tokens"), std::string::npos)
        << r.out;
  }
}

// The zero-shot tasks on every registered family (issue 15: every command on every family): a 2-step run scores
// a pairs file and a choice file; the overall line counts every item and its accuracy is a fraction of them.
TEST_P(FamilyLengths, ScoresMinimalPairsAndChoices) {
  const FamilyCase& c = GetParam();
  const std::string run = dir_ + "/" + family_case_name(c) + "_tasks";
  ProcessResult r = weft("train --data " + dir_ + "/data --out " + run + family_args(c) +
                         " --batch-size 2 --threads 1 --steps 2 --eval-every 0 --eval-batches 0 --log-every 1");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string pairs = run + "/pairs.jsonl", choice = run + "/choice.jsonl";
  {
    std::ofstream p(pairs);
    p << R"({"good": "The dog runs.", "bad": "The dog run.", "phenomenon": "agreement"})" << "\n"
      << R"({"good": "She was happy.", "bad": "She were happy.", "phenomenon": "agreement"})" << "\n"
      << R"({"good": "Tom saw an owl.", "bad": "Tom saw a owl.", "phenomenon": "determiner"})" << "\n";
    std::ofstream ch(choice);
    ch << R"({"context": "Once upon a time", "choices": [" a cat.", " cat a."], "answer": 0})" << "\n"
       << R"({"context": "The sun", "choices": [" is hot.", " hot is.", " the the."], "answer": 0})" << "\n";
  }
  // stderr (the table) dropped inside the subshell (run_shell folds stderr in): under mpirun it interleaves.
  r = json_lines(run_shell("(" + std::string(WEFT_BINARY) + " eval --checkpoint " + run + " --threads 1 --task pairs " +
                           pairs + " 2>/dev/null)"));
  ASSERT_EQ(r.code, 0) << r.out;
  std::string overall;
  for (std::istringstream in(r.out); std::getline(in, overall);)
    if (json_field(overall, "phenomenon").empty() || json_field(overall, "phenomenon") == "\"all\"") break;
  EXPECT_EQ(json_field(overall, "pairs"), "3") << r.out;
  const double accuracy = std::stod(json_field(overall, "accuracy"));
  EXPECT_TRUE(accuracy == 0.0 || accuracy == 1.0 / 3 || accuracy == 2.0 / 3 || accuracy == 1.0) << r.out;
  // Items dealt to 2 ranks, counts all-reduced: the same lines.
  ProcessResult two = json_lines(run_shell("(" + mpirun(2) + WEFT_BINARY + " eval --checkpoint " + run +
                                           " --threads 1 --batch-size 1 --task pairs " + pairs + " 2>/dev/null)"));
  ASSERT_EQ(two.code, 0) << two.out;
  EXPECT_EQ(two.out, r.out);
  r = weft_stdout("eval --checkpoint " + run + " --threads 1 --task choice " + choice);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("accuracy_norm"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Registry, FamilyLengths, ::testing::ValuesIn(family_cases()),
                         [](const ::testing::TestParamInfo<FamilyCase>& i) { return family_case_name(i.param); });

}  // namespace
}  // namespace weft::test
