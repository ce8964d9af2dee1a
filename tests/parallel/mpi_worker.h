// Multi-rank unit tests from one GoogleTest binary: a driver test re-runs the binary under `mpirun -np N`
// with WEFT_TEST_MPI_WORKER=1 and a filter selecting the worker suites, which skip outside that mode and
// inside it run on MPI_COMM_WORLD (every rank runs the same tests in the same order). Drivers skip when
// mpirun is missing or the build has no MPI.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "parallel/comm.h"
#include "tests/harness/process.h"

namespace weft::test {

inline bool in_mpi_worker() { return std::getenv("WEFT_TEST_MPI_WORKER") != nullptr; }

// The world communicator of a worker (MPI initialised on first use, finalized after the last test).
inline par::Communicator& mpi_world() {
  static std::unique_ptr<par::Communicator> world = par::make_mpi_communicator();
  return *world;
}

class MpiFinalizer : public ::testing::Environment {
 public:
  void TearDown() override {
    if (in_mpi_worker()) par::mpi_finalize_if_initialized();
  }
};
inline ::testing::Environment* const kMpiFinalizer = ::testing::AddGlobalTestEnvironment(new MpiFinalizer);

// Runs this binary's tests matching `filter` on n ranks; the result's code is mpirun's. extra: more
// mpirun arguments (-x NAME=VALUE for the workers' environment).
inline ProcessResult run_mpi_workers(int n, const std::string& filter, const std::string& extra = "") {
  std::string cmd = "timeout 300 mpirun -np " + std::to_string(n) + " --oversubscribe --bind-to none";
  if (geteuid() == 0) cmd += " --allow-run-as-root";
  cmd += " -x WEFT_TEST_MPI_WORKER=1 -x OMP_NUM_THREADS=1" + extra + " " + std::filesystem::read_symlink("/proc/self/exe").string();
  return run_shell(cmd + " --gtest_filter='" + filter + "'");
}

}  // namespace weft::test

// In a worker suite: skip unless running under the driver's mpirun.
#define WEFT_MPI_WORKER_ONLY() \
  if (!::weft::test::in_mpi_worker()) GTEST_SKIP() << "runs under mpirun from its driver test"

// A driver: the worker suites matching `filter` on n ranks must all pass.
#define WEFT_RUN_MPI_WORKERS(n, filter)                                                                     \
  do {                                                                                                      \
    if (::weft::test::in_mpi_worker()) GTEST_SKIP() << "driver";                                            \
    if (!::weft::par::mpi_available()) GTEST_SKIP() << "built without MPI";                                 \
    if (::weft::test::run_shell("command -v mpirun").code != 0) GTEST_SKIP() << "mpirun not found";         \
    ::weft::test::ProcessResult r_ = ::weft::test::run_mpi_workers(n, filter);                              \
    EXPECT_EQ(r_.code, 0) << r_.out;                                                                        \
    EXPECT_EQ(r_.out.find("FAILED"), std::string::npos) << r_.out;                                          \
    EXPECT_NE(r_.out.find("PASSED"), std::string::npos) << r_.out;                                          \
  } while (0)
