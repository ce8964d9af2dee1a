// Every registered family (each tiny test configuration, ModelFamily::test_configs) under `mpirun -np 2
// weft train` (label mpi; skipped when mpirun is missing): 1 rank x grad-accum 2 and 2 ranks x grad-accum 1
// at the same global batch give the same per-step losses, auxiliary terms and gradient norms (1e-5
// relative) and the same final weights (1e-5), state across steps included (stream ids are global); a
// checkpoint of either layout continued under the other reproduces the uninterrupted run's losses.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/cli/family_runs.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

ProcessResult sh(const std::string& cmd) { return run_shell(cmd); }
std::string weft() { return WEFT_BINARY; }

class FamilyMpi : public ::testing::TestWithParam<FamilyCase> {
 protected:
  static void SetUpTestSuite() {
    if (sh("command -v mpirun").code != 0) return;
    dir_ = (fs::temp_directory_path() / ("weft_families_mpi_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ProcessResult r = sh(weft() + " prepare --builtin stories --out " + dir_ + "/data --tokens 80000");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (dir_.empty()) GTEST_SKIP() << "mpirun not found";
  }
  static std::string train(const FamilyCase& c, const std::string& out, const std::string& extra) {
    return weft() + " train --data " + dir_ + "/data --out " + out + family_args(c) +
           " --batch-size 2 --threads 1 --eval-every 0 --eval-batches 0 --log-every 1 --warmup 2 --seed 3"
           " --steps 6 --decay-steps 6 --save-every 3 " + extra;
  }
  static std::string dir_;
};
std::string FamilyMpi::dir_;

TEST_P(FamilyMpi, OneRankAccumTwoEqualsTwoRanksAccumOne) {
  const FamilyCase& c = GetParam();
  const std::string r1 = dir_ + "/" + family_case_name(c) + "_1x2", r2 = dir_ + "/" + family_case_name(c) + "_2x1";
  ProcessResult a = sh(train(c, r1, "--grad-accum 2"));
  ASSERT_EQ(a.code, 0) << a.out;
  ProcessResult b = sh(mpirun(2) + train(c, r2, "--grad-accum 1"));
  ASSERT_EQ(b.code, 0) << b.out;
  const StepFields m1 = read_metrics(r1), m2 = read_metrics(r2);
  ASSERT_EQ(m1.size(), 6u);
  ASSERT_EQ(m2.size(), 6u);
  const std::vector<std::string> aux = family_aux_names(c);
  for (int step = 1; step <= 6; ++step) {
    std::vector<std::string> keys = {"loss", "grad_norm"};
    keys.insert(keys.end(), aux.begin(), aux.end());
    for (const std::string& key : keys) {
      ASSERT_TRUE(m1.at(step).count(key) && m2.at(step).count(key)) << "'" << key << "' missing at step " << step;
      const double x = std::stod(m1.at(step).at(key)), y = std::stod(m2.at(step).at(key));
      EXPECT_NEAR(y, x, 1e-5 * std::fabs(x)) << key << " at step " << step << ": 2 ranks x accum 1 vs 1 x 2";
    }
    EXPECT_EQ(m1.at(step).at("tokens"), m2.at(step).at("tokens")) << "not the same global batch";
  }
  const std::vector<double> w1 = final_weights(c, r1), w2 = final_weights(c, r2);
  ASSERT_EQ(w1.size(), w2.size());
  double d = 0;
  for (size_t i = 0; i < w1.size(); ++i) d = std::max(d, std::fabs(w2[i] - w1[i]));
  EXPECT_LE(d, 1e-5) << "final weights";
  if (family_model(c)->has_state()) {
    const std::string last = "/checkpoints/step_00000006";
    EXPECT_EQ(manifest_entries(r2 + last, "state"), manifest_entries(r1 + last, "state"))
        << "the 2-rank checkpoint holds another set of streams";
    EXPECT_GT(manifest_entries(r2 + last, "state"), 0) << "no state/ in the 2-rank checkpoint";
  }
}

// Steps 4-6 of `from`, continued from its step-3 checkpoint in a new run under `launch`, match `reference`.
void expect_continues(const std::string& from, const std::string& run, const std::string& launch,
                      const StepFields& reference) {
  fs::create_directories(run + "/checkpoints");
  fs::copy(from + "/checkpoints/step_00000003", run + "/checkpoints/step_00000003");
  std::ofstream(run + "/checkpoints/latest") << "step_00000003\n";
  ProcessResult r = sh(launch + " --resume latest");
  ASSERT_EQ(r.code, 0) << r.out;
  const StepFields got = read_metrics(run);
  for (int step = 4; step <= 6; ++step) {
    ASSERT_TRUE(got.count(step)) << step;
    const double x = std::stod(reference.at(step).at("loss")), y = std::stod(got.at(step).at("loss"));
    EXPECT_NEAR(y, x, 1e-5 * std::fabs(x)) << run << ": loss at step " << step;
  }
}

TEST_P(FamilyMpi, CheckpointContinuesUnderTheOtherLayout) {
  const FamilyCase& c = GetParam();
  const std::string base = dir_ + "/" + family_case_name(c);
  const std::string r1 = base + "_c1x2", r2 = base + "_c2x1";
  ProcessResult a = sh(train(c, r1, "--grad-accum 2"));
  ASSERT_EQ(a.code, 0) << a.out;
  ProcessResult b = sh(mpirun(2) + train(c, r2, "--grad-accum 1"));
  ASSERT_EQ(b.code, 0) << b.out;
  const StepFields reference = read_metrics(r1);
  expect_continues(r2, base + "_from2on1", train(c, base + "_from2on1", "--grad-accum 2"), reference);
  expect_continues(r1, base + "_from1on2", mpirun(2) + train(c, base + "_from1on2", "--grad-accum 1"), reference);
}

INSTANTIATE_TEST_SUITE_P(Registered, FamilyMpi, ::testing::ValuesIn(family_cases()),
                         [](const auto& info) { return family_case_name(info.param); });

}  // namespace
}  // namespace weft::test
