// The gradient checker itself: it must pass a correct backward and FAIL a wrong one, otherwise every
// gradcheck test in tests/ops would prove nothing.
#include <gtest/gtest.h>

#include "runtime/kernels.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

// y = x^2 with a backward scaled by `factor` (1 = correct).
Var square_with_backward(Graph& g, Var x, float factor) {
  Var out = g.output(g.alloc(x->value.dtype, x->value.shape), g.needs_grad({x}));
  const double* xp = x->value.ptr<double>();
  for (int64_t i = 0; i < x->value.numel(); ++i) out->value.ptr<double>()[i] = xp[i] * xp[i];
  g.record(out, [&g, x, out, factor] {
    double* gx = g.grad(x).ptr<double>();
    for (int64_t i = 0; i < x->value.numel(); ++i)
      gx[i] += factor * 2.0 * x->value.ptr<double>()[i] * out->grad.ptr<double>()[i];
  });
  return out;
}

TEST(GradcheckHarness, AcceptsCorrectBackward) {
  std::vector<GradInput> in;
  in.push_back({random_f64({3, 7}, 1), true});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{square_with_backward(g, v[0], 1.0f)};
  });
  EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
}

TEST(GradcheckHarness, RejectsBackwardOffByOnePercent) {
  std::vector<GradInput> in;
  in.push_back({random_f64({3, 7}, 1), true});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{square_with_backward(g, v[0], 1.01f)};
  });
  EXPECT_GT(r.max_rel_error, 1e-3) << r.report;
}

TEST(GradcheckHarness, RejectsMissingGradient) {
  std::vector<GradInput> in;
  in.push_back({random_f64({5}, 2), true});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{square_with_backward(g, v[0], 0.0f)};
  });
  EXPECT_GT(r.max_rel_error, 0.5) << r.report;
}

}  // namespace
}  // namespace weft::test
