// Token-representation norms on two ranks (label mpi; skipped when mpirun is missing): `weft analyze norms`
// under mpirun writes the same file as one process; `weft train --log-norms-every` on 2 data-parallel ranks
// records what one rank with grad-accum 2 records; a MoEUT run with --expert-parallel 2 measures through its
// collective forward (every rank takes part) and matches the single-rank run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/checkpoint/h5.h"
#include "tests/cli/family_runs.h"
#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;
using namespace weft::test;

ProcessResult sh(const std::string& cmd) { return run_shell(cmd); }
std::string weft() { return WEFT_BINARY; }

// Every f64 dataset of the two files (and /eval_ids) agree within rtol (0: bit for bit).
void expect_same_norms(const std::string& a, const std::string& b, double rtol) {
  weft::ckpt::H5File fa = weft::ckpt::H5File::open_read(a), fb = weft::ckpt::H5File::open_read(b);
  const std::vector<std::string> names = fa.dataset_names();
  ASSERT_EQ(names, fb.dataset_names());
  for (const std::string& n : names) {
    const weft::Shape s = fa.shape_of(n);
    ASSERT_EQ(s, fb.shape_of(n)) << n;
    if (fa.dtype_of(n) != weft::DType::f64) continue;
    std::vector<double> x(static_cast<size_t>(s.numel())), y(x.size());
    fa.read(n, weft::DType::f64, s, x.data());
    fb.read(n, weft::DType::f64, s, y.data());
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(x[i])) {
        EXPECT_TRUE(std::isnan(y[i])) << n << "[" << i << "]";
        continue;
      }
      if (rtol == 0) EXPECT_EQ(x[i], y[i]) << n << "[" << i << "]";
      else EXPECT_NEAR(x[i], y[i], rtol * (1e-3 + std::fabs(x[i]))) << n << "[" << i << "]";
    }
  }
}

class NormsMpi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (sh("command -v mpirun").code != 0) return;
    dir_ = (fs::temp_directory_path() / ("weft_norms_mpi_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ProcessResult r = sh(weft() + " prepare --builtin stories --tokens 60000 --out " + dir_ + "/data");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (dir_.empty()) GTEST_SKIP() << "mpirun not found";
  }
  static std::string train(const std::string& model, const std::string& run, const std::string& extra) {
    return weft() + " train " + model + " --data " + dir_ + "/data --out " + dir_ + "/" + run +
           " --seq-len 16 --batch-size 2 --warmup 2 --eval-every 0 --eval-batches 0 --log-every 10 --threads 1"
           " --steps 6 --decay-steps 6 --seed 3 --log-norms-every 3 " + extra;
  }
  static std::string dir_;
};
std::string NormsMpi::dir_;

TEST_F(NormsMpi, AnalyzeOnTwoRanksWritesTheSameFile) {
  ProcessResult r = sh(train("--model transformer --d-model 16 --n-layers 2 --n-heads 2", "tr", "--grad-accum 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string args = " analyze norms --threads 1 --checkpoint " + dir_ + "/tr --out ";
  r = sh(weft() + args + dir_ + "/one.h5");
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(mpirun(2) + weft() + args + dir_ + "/two.h5");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same_norms(dir_ + "/one.h5", dir_ + "/two.h5", 0.0);
}

TEST_F(NormsMpi, TrainingLogOnTwoRanksMatchesOneRank) {
  ProcessResult r = sh(train("--model transformer --d-model 16 --n-layers 2 --n-heads 2", "tr1", "--grad-accum 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(mpirun(2) + train("--model transformer --d-model 16 --n-layers 2 --n-heads 2", "tr2", "--grad-accum 1"));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same_norms(dir_ + "/tr1/norms.h5", dir_ + "/tr2/norms.h5", 1e-4);
}

TEST_F(NormsMpi, ExpertParallelMeasuresCollectively) {
  const std::string moeut = "--model moeut --d-model 16 --n-layers 4 --n-groups 2 --n-heads 2 --head-dim 8 "
                            "--n-experts 8 --expert-size 8 --top-k 2 --att-experts 3 --att-top-k 2";
  ProcessResult r = sh(train(moeut, "ep1", "--grad-accum 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(mpirun(2) + train(moeut, "ep2", "--grad-accum 1 --expert-parallel 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same_norms(dir_ + "/ep1/norms.h5", dir_ + "/ep2/norms.h5", 1e-4);
}

}  // namespace
