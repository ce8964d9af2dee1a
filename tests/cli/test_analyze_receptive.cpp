// weft analyze receptive-field through the binary, on tiny runs of every registered family case: the curve
// of a causal model (sum g^ = 1 = C(L), C non-decreasing, the receptive field the first k reaching the
// threshold, one JSON line per length), a sliding-window transformer's exact zeros beyond its theoretical
// receptive field, a length past the model's max_seq_len refused by name while the others are written, the
// plot, and bad input (exit 2 naming the flag). receptive_curve itself on hand-made profiles.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <numeric>
#include <sstream>

#include "launch/analyze_receptive.h"
#include "tests/cli/receptive_runs.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

TEST(ReceptiveCurve, AveragesNormalisedProfilesAndFindsTheThreshold) {
  // Two windows of L = 4, each already normalised: the mean, its suffix sums, the first k reaching 0.7.
  const std::vector<double> per_window{0.0, 0.1, 0.2, 0.7,   // window 0
                                       0.1, 0.1, 0.4, 0.4};  // window 1
  const launch::ReceptiveCurve c = launch::receptive_curve(per_window, 2, 4, 0.7);
  const std::vector<double> g{0.05, 0.1, 0.3, 0.55};
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(c.g_hat[j], g[j], 1e-15) << j;
  EXPECT_NEAR(c.cumulative[0], 0.55, 1e-15);  // C(1): the last position alone
  EXPECT_NEAR(c.cumulative[1], 0.85, 1e-15);
  EXPECT_NEAR(c.cumulative[3], 1.0, 1e-15);
  EXPECT_EQ(c.receptive_field, 2);
  EXPECT_EQ(launch::receptive_curve(per_window, 2, 4, 0.5).receptive_field, 1);
  EXPECT_EQ(launch::receptive_curve(per_window, 2, 4, 1.0).receptive_field, 4);  // C(L) reaches 1 (or L by rule)
}

class Receptive : public ::testing::TestWithParam<FamilyCase> {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_receptive_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    failure_ = train_family_runs(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void SetUp() override { ASSERT_EQ(failure_, "") << "training the tiny runs failed"; }
  static std::string dir_, failure_;
};
std::string Receptive::dir_, Receptive::failure_;

TEST_P(Receptive, CausalCurveIsNormalisedAndReachesOne) {
  const FamilyCase& c = GetParam();
  const std::string out = dir_ + "/" + family_case_name(c) + ".h5";
  const ProcessResult r = run_shell(receptive_command(dir_, c, out));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::vector<std::string> lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  const auto results = read_receptive(out);
  ASSERT_EQ(results.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const int64_t L = i == 0 ? 8 : 16;
    ASSERT_TRUE(results.count(L)) << L;
    const ReceptiveLength& x = results.at(L);
    EXPECT_EQ(x.sequences, 6);
    EXPECT_EQ(x.threshold, 0.99);
    // Every position up to the last is in the gradient's domain: the normalised profile sums to 1.
    double sum = 0.0;
    for (double v : x.g_hat) {
      EXPECT_GE(v, 0.0);
      sum += v;
    }
    EXPECT_NEAR(sum, 1.0, 1e-12) << L;
    EXPECT_NEAR(x.cumulative.back(), 1.0, 1e-12) << L;
    EXPECT_GT(x.g_hat.back(), 0.0) << "the last position's own input must matter";
    EXPECT_DOUBLE_EQ(x.cumulative[0], x.g_hat.back());
    for (int64_t k = 1; k < L; ++k) EXPECT_GE(x.cumulative[k], x.cumulative[k - 1]) << k;
    int64_t first = L;
    for (int64_t k = 1; k <= L; ++k)
      if (x.cumulative[k - 1] >= 0.99) {
        first = k;
        break;
      }
    EXPECT_EQ(x.receptive_field, first) << L;
    EXPECT_EQ(json_field(lines[i], "length"), std::to_string(L));
    EXPECT_EQ(json_field(lines[i], "receptive_field"), std::to_string(first));
    EXPECT_EQ(json_field(lines[i], "sequences"), "6");
    for (int64_t s : x.window_starts) EXPECT_EQ(s % (L + 1), 0) << "non-overlapping windows of L + 1 tokens";
  }
  const ckpt::H5File f = ckpt::H5File::open_read(out);
  EXPECT_EQ(f.attr_string("model"), c.family);
  EXPECT_EQ(f.attr_int("step"), 2);
  EXPECT_NE(f.attr_string("checkpoint").find("step_00000002"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Registered, Receptive, ::testing::ValuesIn(family_cases()),
                         [](const ::testing::TestParamInfo<FamilyCase>& i) { return family_case_name(i.param); });

// A fixture of its own runs for the single-family cases below.
class ReceptiveCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_receptive_cli_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ProcessResult r =
        run_shell(std::string(WEFT_BINARY) + " prepare --builtin stories --tokens 60000 --out " + dir_ + "/data");
    ASSERT_EQ(r.code, 0) << r.out;
    r = run_shell(train("mixer --d-model 8 --n-layers 2 --d-ff 12", "mx"));
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string train(const std::string& model, const std::string& name) {
    return std::string(WEFT_BINARY) + " train --data " + dir_ + "/data --out " + dir_ + "/" + name + " --model " +
           model + " --seq-len 16 --batch-size 2 --threads 1 --steps 2 --warmup 1 --eval-every 0 --eval-batches 0"
           " --save-every 2 --seed 3";
  }
  static ProcessResult analyze(const std::string& args) {
    return run_shell(std::string(WEFT_BINARY) + " analyze receptive-field --threads 1 --device cpu " + args);
  }
  static std::string dir_;
};
std::string ReceptiveCli::dir_;

// The spec's check of the measure: with a sliding window of W positions (itself and W - 1 before) in each of
// N layers, the last position sees back N (W - 1) positions, so g^_j is exactly 0 for j < L - 1 - N (W - 1).
TEST_F(ReceptiveCli, SlidingWindowTransformerIsZeroBeyondItsTheoreticalField) {
  const ProcessResult help = run_shell(std::string(WEFT_BINARY) + " train --model transformer --help");
  if (help.out.find("attention-window") == std::string::npos)
    GTEST_SKIP() << "the transformer has no --attention-window flag in this build yet (issue 15, another change)";
  const int64_t N = 2, W = 3, L = 16;
  ProcessResult r = run_shell(train("transformer --d-model 16 --n-heads 2 --n-layers 2 --attention-window 3", "swa"));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string out = dir_ + "/swa.h5";
  r = analyze("--checkpoint " + dir_ + "/swa --lengths 16 --sequences 4 --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  const ReceptiveLength x = read_receptive(out).at(L);
  const int64_t reach = L - 1 - N * (W - 1);  // 11: the earliest position the last one depends on
  for (int64_t j = 0; j < reach; ++j) EXPECT_EQ(x.g_hat[j], 0.0) << "position " << j;
  for (int64_t j = reach; j < L; ++j) EXPECT_GT(x.g_hat[j], 0.0) << "position " << j;
  EXPECT_LE(x.receptive_field, N * (W - 1) + 1);
}

TEST_F(ReceptiveCli, LengthPastTheModelIsRefusedByNameOthersWritten) {
  const std::string out = dir_ + "/long.h5", plot = dir_ + "/long.svg";
  const ProcessResult r =
      analyze("--checkpoint " + dir_ + "/mx --lengths 4,32,16 --sequences 2 --out " + out + " --plot " + plot);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("length 32: model 'mixer' supports sequences of at most 16"), std::string::npos) << r.out;
  EXPECT_EQ(json_lines(r.out).size(), 2u) << r.out;
  const auto results = read_receptive(out);
  EXPECT_EQ(results.size(), 2u);
  EXPECT_TRUE(results.count(4) && results.count(16));
  std::ifstream in(plot);
  std::stringstream svg;
  svg << in.rdbuf();
  EXPECT_NE(svg.str().find("L = 4"), std::string::npos);
  EXPECT_NE(svg.str().find("L = 16"), std::string::npos);
}

TEST_F(ReceptiveCli, SameWindowsAndCurveForAnyBatchSize) {
  const std::string a = dir_ + "/b1.h5", b = dir_ + "/b3.h5";
  ProcessResult r = analyze("--checkpoint " + dir_ + "/mx --lengths 12 --sequences 5 --batch-size 1 --out " + a);
  ASSERT_EQ(r.code, 0) << r.out;
  r = analyze("--checkpoint " + dir_ + "/mx --lengths 12 --sequences 5 --batch-size 3 --out " + b);
  ASSERT_EQ(r.code, 0) << r.out;
  const ReceptiveLength x = read_receptive(a).at(12), y = read_receptive(b).at(12);
  EXPECT_EQ(x.window_starts, y.window_starts);
  for (int64_t j = 0; j < 12; ++j) EXPECT_NEAR(x.g_hat[j], y.g_hat[j], 1e-6 * (1e-3 + y.g_hat[j])) << j;
}

TEST_F(ReceptiveCli, BadInputExitsTwoNamingTheFlag) {
  const std::string ck = " --checkpoint " + dir_ + "/mx --out " + dir_ + "/bad.h5";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--lengths 8,abc" + ck, "--lengths"},
      {"--lengths 8,,16" + ck, "--lengths"},
      {"--lengths 0" + ck, "--lengths"},
      {"--lengths -4" + ck, "--lengths"},
      {"--lengths 8,8" + ck, "--lengths"},
      {"--lengths 8 --sequences 0" + ck, "--sequences"},
      {"--lengths 8 --threshold 1.5" + ck, "--threshold"},
      {"--lengths 8 --batch-size 0" + ck, "--batch-size"},
      {"--lengths 8 --out " + dir_ + "/bad.h5 --checkpoint " + dir_ + "/missing", "--checkpoint"},
      {"--lengths 8 --checkpoint " + dir_ + "/mx", "--out"},
  };
  for (const auto& [args, flag] : cases) {
    const ProcessResult r = analyze(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(flag), std::string::npos) << args << "\n" << r.out;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/bad.h5"));
}

}  // namespace
}  // namespace weft::test
