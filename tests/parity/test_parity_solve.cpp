// CPU-vs-CUDA parity of the solve family: spd_solve (Cholesky) forward and backward through ops::spd_solve
// on the cases of tests/cases/solve_cases.h in f32 and bf16, and its not-positive-definite error. SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/solve_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

// A = M M^T + n I (f32, well conditioned), B (n, m).
std::vector<ParityInput> spd_inputs(int64_t n, int64_t m, uint64_t seed) {
  OwnedTensor mm = random_f32({n, n}, seed);
  OwnedTensor a(DType::f32, {n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = i == j ? static_cast<double>(n) : 0.0;
      for (int64_t k = 0; k < n; ++k) s += double(mm.ptr<float>()[i * n + k]) * double(mm.ptr<float>()[j * n + k]);
      a.ptr<float>()[i * n + j] = static_cast<float>(s);
    }
  std::vector<ParityInput> in;
  in.push_back({std::move(a), true});
  in.push_back({random_f32({n, m}, seed + 1), true});
  return in;
}

// f32: same loops and summation order as the CPU (runtime/math/cholesky.h); FMA contraction on the GPU
// changes last bits, amplified by the (small) condition number of M M^T + n I.
// bf16: inputs rounded to bf16 (2^-9 relative), solved in float, outputs rounded again: errors of a few
// 2^-9 times the condition number (a few units for M M^T + n I).
Tolerance solve_tolerance(DType dt) { return dt == DType::bf16 ? Tolerance{5e-2, 5e-2} : Tolerance{1e-4, 1e-4}; }

TEST(ParitySolve, SpdSolveEveryCaseForwardBackward) {
  for (DType dt : {DType::f32, DType::bf16})
    for (const cases::SolveCase& c : cases::kSolveCases) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c));
      auto in = spd_inputs(c.n, c.m, (dt == DType::bf16 ? 50 : 40) + c.n);
      WEFT_PARITY(in,
                  ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::spd_solve(g, v[0], v[1])}; }),
                  dt, solve_tolerance(dt));
    }
}

class SolveKernelParity : public GpuKernelTest {};

TEST_F(SolveKernelParity, SpdSolveNotPositiveDefinite) {
  std::vector<float> a = {1, 2, 2, 1}, b = {1, 1};
  float *ga = upload(a, 0), *gb = upload(b, 0), *gx = upload(std::vector<float>(2), 0),
        *gl = upload(std::vector<float>(4), 0);
  std::string msg = error_of([&] { cuda::spd_solve_forward(gpu_, DType::f32, gx, gl, ga, gb, 2, 1); });
  EXPECT_NE(msg.find("not positive definite (pivot 1"), std::string::npos) << msg;
}

}  // namespace
}  // namespace weft::test
