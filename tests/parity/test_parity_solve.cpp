// CPU-vs-CUDA parity of the solve family: spd_solve (Cholesky) forward and backward through ops::spd_solve
// in f32 and bf16, and its not-positive-definite error. SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
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

TEST(ParitySolve, SpdSolveF32ForwardBackward) {
  for (auto [n, m] : {std::pair<int64_t, int64_t>{1, 1}, {5, 7}, {33, 1}, {70, 300}, {130, 65}}) {
    SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(m));
    auto in = spd_inputs(n, m, 40 + n);
    // Same loops and summation order as the CPU (runtime/math/cholesky.h); FMA contraction on the GPU
    // changes last bits, amplified by the (small) condition number of M M^T + n I.
    WEFT_PARITY(in,
                ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::spd_solve(g, v[0], v[1])}; }),
                DType::f32, (Tolerance{1e-4, 1e-4}));
  }
}

TEST(ParitySolve, SpdSolveBf16ForwardBackward) {
  for (auto [n, m] : {std::pair<int64_t, int64_t>{3, 2}, {17, 9}}) {
    SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(m));
    auto in = spd_inputs(n, m, 50 + n);
    // Inputs rounded to bf16 (2^-9 relative), solved in float, outputs rounded again: errors of a few
    // 2^-9 times the condition number (a few units for M M^T + n I).
    WEFT_PARITY(in,
                ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::spd_solve(g, v[0], v[1])}; }),
                DType::bf16, (Tolerance{5e-2, 5e-2}));
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
