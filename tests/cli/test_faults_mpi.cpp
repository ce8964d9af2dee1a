// Numeric faults on two ranks (label mpi; skipped without mpirun): --inject-nan-at makes rank 0's loss NaN after
// the loss reduction, so rank 1 sees a finite loss and gradient norm and skips only because the ranks agree on
// the verdict. Replicated (--zero 0), ZeRO-1 and expert parallelism (MoEUT, E = 2): the run finishes with one
// warning, and a checkpoint saved at the skipped step resumes bit-exactly. Had rank 1 applied the update, the
// ranks' weights would differ (rank 0 writes the checkpoint, so the resumed run would not match; ZeRO-1 would not
// even complete its all-gather). Also: K consecutive skips on two ranks exit 4 on both, after saving.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/cli/family_runs.h"
#include "tests/harness/process.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

ProcessResult sh(const std::string& cmd) { return run_shell(cmd); }
std::string weft() { return WEFT_BINARY; }

class FaultsMpi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (sh("command -v mpirun").code != 0) return;
    dir_ = (fs::temp_directory_path() / ("weft_faults_mpi_" + std::to_string(::getpid()))).string();
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
  static std::string train(const std::string& out, const std::string& model, const std::string& extra) {
    return mpirun(2) + weft() + " train --data " + dir_ + "/data --out " + out + " " + model +
           " --seq-len 16 --batch-size 2 --threads 1 --eval-every 0 --eval-batches 0 --log-every 1 --warmup 2"
           " --seed 3 --lr 3e-3 " + extra;
  }
  // A run with NaN at step 3 against a run that stops at 3 (saving there) and resumes: identical steps 4-6.
  static void check_skip_and_resume(const std::string& name, const std::string& model, const std::string& flags) {
    const std::string a = dir_ + "/" + name + "_a", b = dir_ + "/" + name + "_b";
    const std::string common = flags + " --decay-steps 6 --inject-nan-at 3";
    ProcessResult r = sh(train(a, model, common + " --steps 6"));
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("warning: step 3: loss is nan: update skipped (1 in a row, 1 in total)"), std::string::npos)
        << r.out;
    StepFields ma = read_metrics(a);
    EXPECT_EQ(ma[3]["skipped"], "1");
    r = sh(train(b, model, common + " --steps 3"));
    ASSERT_EQ(r.code, 0) << r.out;
    r = sh(train(b, model, common + " --steps 6 --resume latest"));
    ASSERT_EQ(r.code, 0) << r.out;
    StepFields mb = read_metrics(b);
    for (int step = 4; step <= 6; ++step) {
      ASSERT_TRUE(ma.count(step) && mb.count(step)) << step;
      EXPECT_EQ(ma[step]["loss"], mb[step]["loss"]) << name << ": step " << step;
      EXPECT_EQ(ma[step]["grad_norm"], mb[step]["grad_norm"]) << name << ": step " << step;
    }
    EXPECT_NE(ma[4]["loss"], ma[6]["loss"]);  // it trained
  }
  static std::string dir_;
};
std::string FaultsMpi::dir_;

const char* kTransformer = "--d-model 16 --n-layers 2 --n-heads 2";

TEST_F(FaultsMpi, NanOnRankZeroSkipsOnBothRanksReplicated) { check_skip_and_resume("zero0", kTransformer, "--zero 0"); }

TEST_F(FaultsMpi, NanOnRankZeroSkipsOnBothRanksZero1) { check_skip_and_resume("zero1", kTransformer, "--zero 1"); }

TEST_F(FaultsMpi, NanOnRankZeroSkipsOnBothRanksExpertParallel) {
  const std::string moeut =
      "--model moeut --d-model 16 --n-layers 4 --n-groups 2 --n-heads 2 --head-dim 8 --n-experts 8 --expert-size 8 "
      "--top-k 2 --att-experts 3 --att-top-k 2";
  check_skip_and_resume("experts", moeut, "--expert-parallel 2");
}

TEST_F(FaultsMpi, ConsecutiveSkipsStopEveryRankWithExit4) {
  const std::string run = dir_ + "/give_up";
  ProcessResult r = sh(train(run, kTransformer, "--steps 10 --zero 1 --inject-nan-at 2,3 --max-skipped-steps 2"));
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("error: 2 consecutive updates skipped (steps 2-3"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(run + "/checkpoints/step_00000003")) << r.out;
  r = sh(train(run, kTransformer, "--steps 5 --zero 1 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_metrics(run)[5]["skipped_total"], "2");
}

}  // namespace
}  // namespace weft::test
