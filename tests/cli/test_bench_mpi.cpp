// `mpirun -np 2 weft bench --model moeut --expert-parallel E` (label mpi; skipped without mpirun): with E = 2
// tokens travel to the other rank's experts, so the all-to-all bytes per step are > 0 (and at least the
// forward dispatch of the routed rows); with E = 1 (two data-parallel ranks) they are 0. Both report the
// logical model's parameters, the spec's MACs and the tokens of both ranks.
#include <gtest/gtest.h>

#include <unistd.h>

#include "tests/cli/bench_runs.h"

namespace weft::test {
namespace {

std::string mpirun2() {
  std::string cmd = "mpirun -np 2 --oversubscribe --bind-to none";
  if (geteuid() == 0) cmd += " --allow-run-as-root";
  return cmd + " ";
}

std::map<std::string, std::string> bench_two_ranks(int experts, std::string& out) {
  const std::string json = bench_json_path("ep" + std::to_string(experts));
  ProcessResult r = run_shell(mpirun2() + weft_binary() + tiny_moeut_bench_args() + "--expert-parallel " +
                              std::to_string(experts) + " --json " + json);
  out = r.out;
  EXPECT_EQ(r.code, 0) << r.out;
  auto f = last_json_line(json);
  std::filesystem::remove(json);
  return f;
}

class BenchMpi : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run_shell("command -v mpirun").code != 0) GTEST_SKIP() << "mpirun not found";
  }
};

TEST_F(BenchMpi, ExpertParallelTwoRanksSendsBytes) {
  std::string out;
  auto f = bench_two_ranks(2, out);
  ASSERT_TRUE(f.count("all_to_all_bytes_per_step")) << out;
  const models::MoeutConfig c = tiny_moeut();
  // Forward dispatch alone: some of each rank's 2 x 32 x K rows per applied layer leave the rank (d floats each).
  EXPECT_GT(std::stod(f["all_to_all_bytes_per_step"]), 0.0) << out;
  EXPECT_EQ(f["ranks"], "2");
  EXPECT_EQ(f["expert_parallel"], "2");
  EXPECT_EQ(f["parameters"], std::to_string(c.param_count())) << out;  // every expert shard counted once
  EXPECT_DOUBLE_EQ(std::stod(f["macs_per_token"]), c.macs_per_token(32));
  EXPECT_NE(out.find("expert parallel E=2 x data parallel D=1"), std::string::npos) << out;
}

TEST_F(BenchMpi, DataParallelTwoRanksSendsNoBytes) {
  std::string out;
  auto f = bench_two_ranks(1, out);
  ASSERT_TRUE(f.count("all_to_all_bytes_per_step")) << out;
  EXPECT_EQ(std::stod(f["all_to_all_bytes_per_step"]), 0.0) << out;
  EXPECT_EQ(f["ranks"], "2");
  EXPECT_EQ(f["expert_parallel"], "1");
}

}  // namespace
}  // namespace weft::test
