// Reduce ops: fp64 gradient checks of sum and mean on the cases of tests/cases/reduce_cases.h (every axis,
// with and without keepdim) and of sum_all on its cases.
#include <gtest/gtest.h>

#include "tests/cases/reduce_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

constexpr double kTol = 1e-6;

Shape shape_of(const cases::Dims& d) { return Shape::from(d.d, d.d + d.rank); }

TEST(SumMeanGrad, EveryCase) {
  for (const cases::ReduceCase& c : cases::kReduceCases)
    for (bool is_mean : {false, true}) {
      if (!cases::runs_in(c.runners, cases::kGradcheck)) continue;
      std::vector<GradInput> in;
      in.push_back({random_f64(shape_of(c.x), 6), true});
      auto r = gradcheck(in, [&c, is_mean](Graph& g, const std::vector<Var>& v) {
        return std::vector<Var>{is_mean ? ops::mean(g, v[0], c.axis, c.keepdim) : ops::sum(g, v[0], c.axis, c.keepdim)};
      });
      EXPECT_LT(r.max_rel_error, kTol) << (is_mean ? "mean " : "sum ") << cases::describe(c) << "\n" << r.report;
    }
}

TEST(SumAllGrad, EveryCase) {
  for (const cases::Dims& d : cases::kSumAllCases) {
    std::vector<GradInput> in;
    in.push_back({random_f64(shape_of(d), 7), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::sum_all(g, v[0])}; });
    EXPECT_LT(r.max_rel_error, kTol) << cases::dims_str(d) << "\n" << r.report;
  }
}

}  // namespace
}  // namespace weft::test
