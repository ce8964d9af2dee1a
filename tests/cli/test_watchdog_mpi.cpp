// Hung and dead ranks through `mpirun weft train` (label mpi; skipped without mpirun): a rank stopped
// with SIGSTOP in the middle of training makes the others end the job within --collective-timeout + 10 s,
// exit 5, naming the collective; a rank killed with SIGKILL after a checkpoint leaves a run that
// `--resume latest` continues from that checkpoint. And --threads under mpirun: the default shares the
// node's cores between its ranks (the launch line says how many), an oversubscribing choice is warned about.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "parallel/launcher.h"
#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;
using weft::test::mpirun;
using weft::test::ProcessResult;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

ProcessResult sh(const std::string& cmd) { return weft::test::run_shell(cmd); }

// `command` in the background (its own process group, output to `log`); returns its pid (mpirun's).
pid_t spawn(const std::string& command, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const std::string cmd = "exec " + command + " > " + log + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  return pid;
}

// The pid of the rank `rank` among mpirun's children (from its OMPI_COMM_WORLD_RANK), or -1.
pid_t rank_pid(pid_t mpirun_pid, int rank) {
  ProcessResult ps = sh("pgrep -P " + std::to_string(mpirun_pid));
  std::istringstream pids(ps.out);
  for (pid_t p; pids >> p;) {
    std::ifstream env("/proc/" + std::to_string(p) + "/environ");
    std::string var;
    while (std::getline(env, var, '\0'))
      if (var == "OMPI_COMM_WORLD_RANK=" + std::to_string(rank)) return p;
  }
  return -1;
}

// Waits for `pid` up to `limit`; on timeout kills its process group (the test must not hang) and fails.
int wait_for(pid_t pid, std::chrono::seconds limit, bool& timed_out) {
  const auto t0 = Clock::now();
  int status = 0;
  timed_out = false;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() - t0 > limit) {
      timed_out = true;
      kill(-pid, SIGCONT);
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(50ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class WatchdogMpi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (sh("command -v mpirun").code != 0) return;
    dir_ = (fs::temp_directory_path() / ("weft_watchdog_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ASSERT_EQ(sh(std::string(WEFT_BINARY) + " prepare --builtin stories --out " + dir_ + "/data --tokens 80000").code, 0);
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (dir_.empty()) GTEST_SKIP() << "mpirun not found";
  }
  static std::string train(const std::string& out, const std::string& extra) {
    return std::string(WEFT_BINARY) + " train --data " + dir_ + "/data --out " + out +
           " --d-model 16 --n-layers 2 --n-heads 2 --seq-len 16 --eval-every 0 --eval-batches 0 --batch-size 2 " +
           extra;
  }
  static std::string dir_;
};
std::string WatchdogMpi::dir_;

TEST_F(WatchdogMpi, StoppedRankEndsTheJobWithinTheTimeout) {
  const std::string run = dir_ + "/stopped", log = dir_ + "/stopped.log";
  pid_t job = spawn(mpirun(2) + train(run, "--threads 1 --steps 100000000 --log-every 1 --collective-timeout 5"), log);
  // Training has started once metrics appear; then rank 1 stops (as a hung node would) and stays stopped.
  const auto t_start = Clock::now();
  while (!fs::exists(run + "/metrics.jsonl") && Clock::now() - t_start < 60s) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(fs::exists(run + "/metrics.jsonl")) << read_file(log);
  const pid_t victim = rank_pid(job, 1);
  ASSERT_GT(victim, 0) << "rank 1 not found among mpirun's children";
  const auto t_stop = Clock::now();
  ASSERT_EQ(kill(victim, SIGSTOP), 0);
  bool timed_out = false;
  const int code = wait_for(job, 60s, timed_out);
  const double took = std::chrono::duration<double>(Clock::now() - t_stop).count();
  kill(victim, SIGCONT);  // whatever mpirun left of it
  kill(victim, SIGKILL);
  ASSERT_FALSE(timed_out) << "the job hangs with a stopped rank\n" << read_file(log);
  const std::string out = read_file(log);
  EXPECT_EQ(code, 5) << out;
  EXPECT_LT(took, 5 + 10) << out;
  EXPECT_GE(took, 4.5) << "ended before the timeout: " << out;
  EXPECT_NE(out.find("rank 0: collective #"), std::string::npos) << out;
  EXPECT_NE(out.find("did not complete within 5 s (--collective-timeout)"), std::string::npos) << out;
  EXPECT_NE(out.find(" bytes, mpi, 2 ranks)"), std::string::npos) << out;
}

TEST_F(WatchdogMpi, KilledRankAfterACheckpointResumesFromIt) {
  const std::string run = dir_ + "/killed", log = dir_ + "/killed.log";
  const std::string flags = "--threads 1 --decay-steps 100000 --warmup 2 --seed 4 --log-every 1 --save-every 10";
  pid_t job = spawn(mpirun(2) + train(run, flags + " --steps 100000000"), log);
  const auto t0 = Clock::now();
  while (!fs::exists(run + "/checkpoints/latest") && Clock::now() - t0 < 90s) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(fs::exists(run + "/checkpoints/latest")) << read_file(log);
  const pid_t victim = rank_pid(job, 1);
  ASSERT_GT(victim, 0);
  // Best effort: the moment a later save is in progress (its step_N.tmp folder exists), else after 10 s.
  bool during_save = false;
  for (const auto t1 = Clock::now(); !during_save && Clock::now() - t1 < 10s;) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(run + "/checkpoints", ec))
      during_save = during_save || e.path().extension() == ".tmp";
    if (!during_save) std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  std::printf("rank 1 killed %s\n", during_save ? "while a checkpoint was being written" : "between checkpoints");
  bool timed_out = false;
  const int code = wait_for(job, 60s, timed_out);
  ASSERT_FALSE(timed_out) << "the job hangs after a rank died\n" << read_file(log);
  EXPECT_NE(code, 0) << read_file(log);
  std::string latest;
  std::ifstream(run + "/checkpoints/latest") >> latest;
  ASSERT_EQ(latest.rfind("step_", 0), 0u) << latest;
  const long saved = std::stol(latest.substr(5));
  ASSERT_GE(saved, 10);
  const std::string target = std::to_string(saved + 3);
  ProcessResult r = sh(mpirun(2) + train(run, flags + " --steps " + target + " --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("at step " + std::to_string(saved)), std::string::npos) << r.out;
  EXPECT_NE(read_file(run + "/metrics.jsonl").find("\"step\": " + target), std::string::npos);
}

TEST_F(WatchdogMpi, DefaultThreadsShareTheNodeAndOversubscriptionWarns) {
  cpu_set_t mask;  // --bind-to none: both ranks inherit this process's mask and share its cores
  ASSERT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
  const int cores = CPU_COUNT(&mask);
  const int fair = weft::par::default_threads(cores, 2);
  ProcessResult r = sh(mpirun(2) + train(dir_ + "/threads", "--steps 1"));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string line = std::to_string(fair) + " CPU thread" + (fair == 1 ? "" : "s");
  EXPECT_NE(r.out.find("local rank 0 of 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(line), std::string::npos) << "expected '" << line << "' in the launch line:\n" << r.out;
  EXPECT_EQ(r.out.find("warning: --threads"), std::string::npos) << r.out;

  const int many = cores;  // x 2 ranks: twice the cores
  r = sh(mpirun(2) + train(dir_ + "/threads_many", "--steps 1 --threads " + std::to_string(many)));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string warning = "warning: --threads " + std::to_string(many) + " on each of the 2 ranks sharing " +
                              std::to_string(cores) + (cores == 1 ? " core on " : " cores on ");
  ASSERT_NE(r.out.find(warning), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(warning), r.out.rfind(warning)) << "rank 0 alone warns:\n" << r.out;
  EXPECT_NE(r.out.find("--threads 0 gives each rank " + std::to_string(fair)), std::string::npos) << r.out;
}

TEST_F(WatchdogMpi, NegativeTimeoutIsAUsageError) {
  ProcessResult r = sh(train(dir_ + "/negative", "--steps 1 --collective-timeout -1"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--collective-timeout must be a number of seconds >= 0"), std::string::npos) << r.out;
}

}  // namespace
