// RoPE: fp64 gradient checks on the cases of tests/cases/rope_cases.h (full, partial and no rotation), and
// a check of the rotation against a direct evaluation of the formula, incl. the pass-through channels and
// a position offset.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cases/rope_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

TEST(RopeGrad, EveryCase) {
  for (const cases::RopeCase& c : cases::kRopeCases) {
    if (!cases::runs_in(c.runners, cases::kGradcheck)) continue;
    std::vector<GradInput> in;
    in.push_back({random_f64({c.B, c.T, c.NH, c.HS}, 3), true});
    auto r = gradcheck(in, [&](Graph& g, const std::vector<Var>& v) {
      return std::vector<Var>{ops::rope(g, v[0], c.n_rot, cases::kRopeBase, c.pos_offset)};
    });
    EXPECT_LT(r.max_rel_error, 1e-6) << cases::describe(c) << "\n" << r.report;
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
