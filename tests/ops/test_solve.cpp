// spd_solve (Cholesky): fp64 gradient checks on the cases of tests/cases/solve_cases.h, A = M M^T + n I
// (every element perturbed: the upper triangle, which the solver does not read, must get zero gradient),
// plain and with B's gradient already accumulated by another use and A used twice; a residual check; the not-positive-definite error.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cases/solve_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

OwnedTensor spd(int64_t n, uint64_t seed) {
  OwnedTensor m = random_f64({n, n}, seed);
  OwnedTensor a(DType::f64, {n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = i == j ? static_cast<double>(n) : 0.0;
      for (int64_t k = 0; k < n; ++k) s += m.ptr<double>()[i * n + k] * m.ptr<double>()[j * n + k];
      a.ptr<double>()[i * n + j] = s;
    }
  return a;
}

bool runs_here(const cases::SolveCase& c) { return cases::runs_in(c.runners, cases::kGradcheck); }

TEST(SpdSolveGrad, EveryCaseLowerTriangleAndRightHandSide) {
  for (const cases::SolveCase& c : cases::kSolveCases) {
    if (!runs_here(c)) continue;
    const int64_t n = c.n, m = c.m;
    std::vector<GradInput> in;
    in.push_back({spd(n, 1), true});
    in.push_back({random_f64({n, m}, 2), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::spd_solve(g, v[0], v[1])}; });
    EXPECT_LT(r.max_rel_error, 1e-6) << n << "x" << m << "\n" << r.report;
  }
}

// B also feeds a later op (scaled small so its constant term does not swamp the finite differences),
// whose backward runs first: dA must use only the fresh A^-1 dX, not the
// accumulated dB. A is solved against twice (X2 = A^-1 A^-1 B), so dA accumulates too.
TEST(SpdSolveGrad, EveryCaseAccumulatedGradientsAndChainedSolves) {
  for (const cases::SolveCase& c : cases::kSolveCases) {
    if (!runs_here(c)) continue;
    const int64_t n = c.n, m = c.m;
    std::vector<GradInput> in;
    in.push_back({spd(n, 5), true});
    in.push_back({random_f64({n, m}, 6), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
      Var x = ops::spd_solve(g, v[0], v[1]);
      Var x2 = ops::spd_solve(g, v[0], x);
      return std::vector<Var>{x2, ops::scale(g, v[1], 1e-3f)};
    });
    EXPECT_LT(r.max_rel_error, 1e-6) << n << "x" << m << "\n" << r.report;
  }
}

TEST(SpdSolve, ResidualIsSmall) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  const int64_t n = 9, m = 4;
  OwnedTensor a = spd(n, 3), b = random_f64({n, m}, 4);
  Var x = ops::spd_solve(g, g.constant(a), g.constant(b));
  Var ax = ops::matmul(g, g.constant(a), x);
  auto axv = to_host_doubles(ax->value), bv = to_host_doubles(b);
  for (size_t i = 0; i < bv.size(); ++i) EXPECT_NEAR(axv[i], bv[i], 1e-10);
}

TEST(SpdSolveErrors, NotPositiveDefinite) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor a = from_values(DType::f64, {2, 2}, {1, 2, 2, 1}), b = random_f64({2, 1}, 1);
  try {
    ops::spd_solve(g, g.constant(a), g.constant(b));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not positive definite (pivot 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weft::test
