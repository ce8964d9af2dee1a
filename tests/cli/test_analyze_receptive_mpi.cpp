// weft analyze receptive-field under `mpirun -np 2` (label mpi; skipped when mpirun is missing): for every
// registered family case, 2 ranks write the same HDF5 datasets as 1 rank, bit for bit (windows dealt to ranks
// in fixed global batches, per-window rows all-reduced in fp64 and summed in window order on rank 0), and
// print the same JSON lines.
#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>

#include "tests/cli/receptive_runs.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

std::string json_only(const std::string& out) {
  std::string lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l[0] == '{') lines += l + "\n";
  return lines;
}

class ReceptiveMpi : public ::testing::TestWithParam<FamilyCase> {
 protected:
  static void SetUpTestSuite() {
    if (run_shell("command -v mpirun").code != 0) return;
    dir_ = (fs::temp_directory_path() / ("weft_receptive_mpi_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    failure_ = train_family_runs(dir_);
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (dir_.empty()) GTEST_SKIP() << "mpirun not found";
    ASSERT_EQ(failure_, "") << "training the tiny runs failed";
  }
  static std::string dir_, failure_;
};
std::string ReceptiveMpi::dir_, ReceptiveMpi::failure_;

TEST_P(ReceptiveMpi, TwoRanksWriteTheSameDatasetsAsOne) {
  const FamilyCase& c = GetParam();
  const std::string one = dir_ + "/" + family_case_name(c) + "_1.h5", two = dir_ + "/" + family_case_name(c) + "_2.h5";
  // 6 windows in batches of 4: rank 0 takes the batch of 4, rank 1 the batch of 2.
  const ProcessResult a = run_shell(receptive_command(dir_, c, one));
  ASSERT_EQ(a.code, 0) << a.out;
  const ProcessResult b = run_shell(mpirun(2) + receptive_command(dir_, c, two));
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_EQ(json_only(a.out), json_only(b.out));
  const auto x = read_receptive(one), y = read_receptive(two);
  ASSERT_EQ(x.size(), 2u);
  ASSERT_EQ(y.size(), 2u);
  for (const auto& [L, r1] : x) {
    ASSERT_TRUE(y.count(L)) << L;
    const ReceptiveLength& r2 = y.at(L);
    EXPECT_EQ(r1.window_starts, r2.window_starts) << L;
    EXPECT_EQ(r1.receptive_field, r2.receptive_field) << L;
    EXPECT_EQ(r1.sequences, r2.sequences) << L;
    for (int64_t j = 0; j < L; ++j) {
      EXPECT_EQ(r1.g_hat[j], r2.g_hat[j]) << "L " << L << " position " << j;
      EXPECT_EQ(r1.cumulative[j], r2.cumulative[j]) << "L " << L << " k " << j + 1;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Registered, ReceptiveMpi, ::testing::ValuesIn(family_cases()),
                         [](const ::testing::TestParamInfo<FamilyCase>& i) { return family_case_name(i.param); });

}  // namespace
}  // namespace weft::test
