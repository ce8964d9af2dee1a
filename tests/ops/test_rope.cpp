// RoPE: fp64 gradient checks (full and partial rotation, odd head counts) and a check of the rotation
// against a direct evaluation of the formula, incl. the pass-through channels and a position offset.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

TEST(RopeGrad, Fp64FullAndPartialRotation) {
  struct Case {
    Shape s;
    int64_t n_rot;
  };
  for (Case c : {Case{{1, 1, 1, 2}, 2}, Case{{2, 7, 3, 8}, 8}, Case{{1, 33, 1, 6}, 2}, Case{{2, 3, 3, 8}, 4}}) {
    std::vector<GradInput> in;
    in.push_back({random_f64(c.s, 3), true});
    auto r = gradcheck(in, [&](Graph& g, const std::vector<Var>& v) {
      return std::vector<Var>{ops::rope(g, v[0], c.n_rot, 10000.0f, 5)};
    });
    EXPECT_LT(r.max_rel_error, 1e-6) << c.s.str() << " n_rot " << c.n_rot << "\n" << r.report;
  }
}

TEST(Rope, MatchesFormula) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  const int64_t T = 5, HS = 6, n_rot = 4, off = 3;
  OwnedTensor x = random_f64({1, T, 1, HS}, 4);
  Var y = ops::rope(g, g.constant(x), n_rot, 100.0f, off);
  for (int64_t t = 0; t < T; ++t) {
    const double* xi = x.ptr<double>() + t * HS;
    const double* yi = y->value.ptr<double>() + t * HS;
    for (int64_t i = 0; i < n_rot / 2; ++i) {
      double a = (t + off) * std::pow(100.0, -2.0 * i / n_rot);
      EXPECT_NEAR(yi[i], xi[i] * std::cos(a) - xi[i + 2] * std::sin(a), 1e-12);
      EXPECT_NEAR(yi[i + 2], xi[i + 2] * std::cos(a) + xi[i] * std::sin(a), 1e-12);
    }
    EXPECT_EQ(yi[4], xi[4]);
    EXPECT_EQ(yi[5], xi[5]);
  }
  EXPECT_THROW(ops::rope(g, g.constant(x), 3), Error);  // odd n_rot
}

}  // namespace
}  // namespace weft::test
