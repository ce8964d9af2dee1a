// CPU execution contexts: cpu_exec sets the process's BLAS thread count (the run's --threads); host_exec, the
// context models use for small host-side work (a row cast, constants), must leave it alone. Before host_exec
// existed, bag's carry update and the infinity-former's host reads made a cpu_exec(1) every step, silently
// turning every later GEMM of a --threads 2 run single-threaded.
#include <gtest/gtest.h>

#include "runtime/exec.h"

extern "C" int openblas_get_num_threads(void);

namespace {

TEST(Exec, HostExecLeavesTheBlasThreadCountAlone) {
  weft::Exec run = weft::cpu_exec(2);
  const int before = openblas_get_num_threads();
  if (before < 2) GTEST_SKIP() << "OpenBLAS runs " << before << " thread here: nothing to keep";
  weft::Exec host = weft::host_exec();
  EXPECT_EQ(host.threads, 1);
  EXPECT_EQ(host.device, weft::Device::cpu);
  EXPECT_EQ(openblas_get_num_threads(), before);
  weft::Exec one = weft::cpu_exec(1);  // what the models used to do
  EXPECT_EQ(openblas_get_num_threads(), 1) << "cpu_exec sets the BLAS thread count (the test's premise)";
  (void)run;
  (void)one;
}

}  // namespace
