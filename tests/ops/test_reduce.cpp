// Reduce ops: fp64 gradient checks of sum and mean over every axis (with and without keepdim) and of
// sum_all on odd shapes.
#include <gtest/gtest.h>

#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

constexpr double kTol = 1e-6;

TEST(SumMeanGrad, EveryAxisKeepdim) {
  for (int axis : {0, 1, 2, -1})
    for (bool keep : {false, true})
      for (bool is_mean : {false, true}) {
        std::vector<GradInput> in;
        in.push_back({random_f64({3, 7, 33}, 6), true});
        auto r = gradcheck(in, [=](Graph& g, const std::vector<Var>& v) {
          return std::vector<Var>{is_mean ? ops::mean(g, v[0], axis, keep) : ops::sum(g, v[0], axis, keep)};
        });
        EXPECT_LT(r.max_rel_error, kTol) << (is_mean ? "mean" : "sum") << " axis " << axis << " keep " << keep
                                         << "\n" << r.report;
      }
}

TEST(SumAllGrad, Fp64) {
  for (Shape s : {Shape{1}, Shape{3, 7}, Shape{33, 1, 3}}) {
    std::vector<GradInput> in;
    in.push_back({random_f64(s, 7), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::sum_all(g, v[0])}; });
    EXPECT_LT(r.max_rel_error, kTol) << s.str() << "\n" << r.report;
  }
}

}  // namespace
}  // namespace weft::test
