// Data parallelism over MPI, end to end through `mpirun weft train` (label mpi; skipped when mpirun is
// missing): equal losses and weights for 1x4, 2x2 and 4x1 (ranks x grad-accum) at the same global batch,
// a 2-rank checkpoint continued on 1 and 3 ranks, a killed rank that brings the job down, SIGUSR1 that
// makes all ranks save and stop with a bit-exact resume, and a launcher environment that contradicts MPI.
#include <gtest/gtest.h>

#include "tests/harness/process.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "launch/checkpoint.h"
#include "tests/harness/training_run.h"

namespace {

namespace fs = std::filesystem;

using Result = weft::test::ProcessResult;
using weft::test::logged_losses;
using weft::test::max_abs_difference;
using weft::test::mpirun;
Result sh(const std::string& cmd) { return weft::test::run_shell(cmd); }

class Mpi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (sh("command -v mpirun").code != 0) return;
    dir_ = (fs::temp_directory_path() / ("weft_mpi_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ASSERT_EQ(sh(std::string(WEFT_BINARY) + " prepare --builtin stories --out " + dir_ + "/data --tokens 80000").code, 0);
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (dir_.empty()) GTEST_SKIP() << "mpirun not found";
  }
  static std::string train(const std::string& out, int64_t batch, const std::string& extra) {
    return std::string(WEFT_BINARY) + " train --data " + dir_ + "/data --out " + out +
           " " + weft::test::kTinyTransformerFlags + " --threads 1 --eval-every 0 --eval-batches 0"
           " --log-every 1 --batch-size " + std::to_string(batch) + " " + extra;
  }
  static std::vector<double> weights(const std::string& run) {
    return weft::test::tiny_transformer_weights(weft::launch::resolve_checkpoint(run, "latest"));
  }
  static std::string dir_;
};
std::string Mpi::dir_;

TEST_F(Mpi, SameGlobalBatchSameLossesAndWeights) {
  const std::string flags = "--steps 20 --warmup 2 --seed 3";
  const std::string r1 = dir_ + "/r1", r2 = dir_ + "/r2", r4 = dir_ + "/r4";
  Result a = sh(train(r1, 4, flags + " --grad-accum 4"));
  ASSERT_EQ(a.code, 0) << a.out;
  // 2 KiB buckets: dozens of all-reduces start during the backward; a bucket started before all of its
  // gradients were final would change the result.
  Result b = sh(mpirun(2) + train(r2, 4, flags + " --grad-accum 2 --bucket-mb 0.002"));
  ASSERT_EQ(b.code, 0) << b.out;
  Result c = sh(mpirun(4) + train(r4, 4, flags + " --grad-accum 1"));
  ASSERT_EQ(c.code, 0) << c.out;
  auto l1 = logged_losses(r1), l2 = logged_losses(r2), l4 = logged_losses(r4);
  ASSERT_EQ(l1.size(), 20u);
  for (int step = 1; step <= 20; ++step) {
    EXPECT_NEAR(l2[step], l1[step], 1e-5 * std::fabs(l1[step])) << "2 ranks, step " << step;
    EXPECT_NEAR(l4[step], l1[step], 1e-5 * std::fabs(l1[step])) << "4 ranks, step " << step;
  }
  auto w1 = weights(r1), w2 = weights(r2), w4 = weights(r4);
  EXPECT_LE(max_abs_difference(w2, w1), 1e-5);
  EXPECT_LE(max_abs_difference(w4, w1), 1e-5);
}

TEST_F(Mpi, ZeroOneMatchesTheReplicatedRun) {
  const std::string flags = "--steps 20 --warmup 2 --seed 3 --decay-steps 20 --save-every 10";
  const std::string r1 = dir_ + "/z1", r2 = dir_ + "/z2", r4 = dir_ + "/z4";
  Result a = sh(train(r1, 4, flags + " --grad-accum 4"));
  ASSERT_EQ(a.code, 0) << a.out;
  Result b = sh(mpirun(2) + train(r2, 4, flags + " --grad-accum 2 --zero 1"));
  ASSERT_EQ(b.code, 0) << b.out;
  Result c = sh(mpirun(4) + train(r4, 4, flags + " --grad-accum 1 --zero 1"));
  ASSERT_EQ(c.code, 0) << c.out;
  auto l1 = logged_losses(r1), l2 = logged_losses(r2), l4 = logged_losses(r4);
  for (int step = 1; step <= 20; ++step) {
    EXPECT_NEAR(l2[step], l1[step], 1e-5 * std::fabs(l1[step])) << "ZeRO-1 on 2 ranks, step " << step;
    EXPECT_NEAR(l4[step], l1[step], 1e-5 * std::fabs(l1[step])) << "ZeRO-1 on 4 ranks, step " << step;
  }
  auto w1 = weights(r1), w4 = weights(r4);
  EXPECT_LE(max_abs_difference(w4, w1), 1e-5);
  // A ZeRO-1 checkpoint (gathered moments) resumes on 1 rank without ZeRO and continues the curve.
  const std::string cont = dir_ + "/z_cont";
  fs::create_directories(cont + "/checkpoints");
  fs::copy(r4 + "/checkpoints/step_00000010", cont + "/checkpoints/step_00000010");
  std::ofstream(cont + "/checkpoints/latest") << "step_00000010\n";
  Result r = sh(train(cont, 4, flags + " --grad-accum 4 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  auto lc = logged_losses(cont);
  for (int step = 11; step <= 20; ++step)
    EXPECT_NEAR(lc[step], l1[step], 1e-5 * std::fabs(l1[step])) << "resumed without ZeRO, step " << step;
}

TEST_F(Mpi, TwoRankCheckpointContinuesOnOneAndThreeRanks) {
  const std::string flags = "--decay-steps 10 --warmup 2 --seed 5";
  const std::string base = dir_ + "/base";
  Result r = sh(mpirun(2) + train(base, 3, flags + " --steps 10 --save-every 5 --keep-checkpoints 5"));
  ASSERT_EQ(r.code, 0) << r.out;
  auto ref = logged_losses(base);
  for (auto [ranks, batch] : {std::pair{1, 6}, std::pair{3, 2}}) {
    std::string run = dir_ + "/cont" + std::to_string(ranks);
    fs::create_directories(run + "/checkpoints");
    fs::copy(base + "/checkpoints/step_00000005", run + "/checkpoints/step_00000005");
    std::ofstream(run + "/checkpoints/latest") << "step_00000005\n";
    r = sh((ranks > 1 ? mpirun(ranks) : std::string()) + train(run, batch, flags + " --steps 10 --resume latest"));
    ASSERT_EQ(r.code, 0) << r.out;
    auto got = logged_losses(run);
    for (int step = 6; step <= 10; ++step)
      EXPECT_NEAR(got[step], ref[step], 1e-5 * std::fabs(ref[step])) << ranks << " ranks, step " << step;
  }
}

TEST_F(Mpi, KilledRankBringsTheJobDown) {
  const std::string run = dir_ + "/killed";
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = "exec " + mpirun(2) + train(run, 2, "--steps 1000000") + " > /dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  Result ps = sh("pgrep -P " + std::to_string(pid));  // the ranks are mpirun's children
  ASSERT_EQ(ps.code, 0) << "no weft rank found";
  int victim = std::stoi(ps.out);
  auto t0 = std::chrono::steady_clock::now();
  kill(victim, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    ASSERT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30)) << "the job hangs";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(sh("pgrep -f '[w]eft train.*" + run + " '").code, 0) << "a rank survived";
}

TEST_F(Mpi, Usr1OnOneRankStopsAllAndResumesBitExactly) {
  const std::string flags = "--decay-steps 100000 --warmup 2 --seed 9";
  const std::string run = dir_ + "/usr1";
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = "exec " + mpirun(2) + train(run, 2, flags + " --steps 100000") + " > " + dir_ + "/usr1.log 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  Result ps = sh("pgrep -P " + std::to_string(pid));  // the ranks are mpirun's children
  ASSERT_EQ(ps.code, 0);
  kill(std::stoi(ps.out.substr(ps.out.find('\n') + 1)), SIGUSR1);  // the second rank only
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3) << "documented exit code after a signal-triggered save";
  std::string latest;
  std::ifstream(run + "/checkpoints/latest") >> latest;
  ASSERT_FALSE(latest.empty());
  const int stopped = std::stoi(latest.substr(5));
  ASSERT_LT(stopped, 100000);
  const std::string target = " --steps " + std::to_string(stopped + 5);
  Result r = sh(mpirun(2) + train(run, 2, flags + target + " --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string ref = dir_ + "/usr1_ref";
  r = sh(mpirun(2) + train(ref, 2, flags + target));
  ASSERT_EQ(r.code, 0) << r.out;
  auto a = logged_losses(run), b = logged_losses(ref);
  for (int step = stopped + 1; step <= stopped + 5; ++step) EXPECT_EQ(a[step], b[step]) << "step " << step;
}

TEST_F(Mpi, LauncherEnvironmentContradictingMpiIsAnError) {
  Result r = sh("SLURM_NTASKS=3 SLURM_PROCID=0 " + train(dir_ + "/env", 2, "--steps 1"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("SLURM_NTASKS=3 but MPI reports world size 1"), std::string::npos) << r.out;
}

}  // namespace
