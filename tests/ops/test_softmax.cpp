// softmax over the last dim: fp64 gradient checks on the cases of tests/cases/softmax_cases.h (plain and
// masked), an f32 check against exp(x) / sum(exp(x)) composed from basic ops (values and gradients),
// large logits that must not overflow, and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cases/softmax_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

// The cases of tests/cases/softmax_cases.h, plain and masked (-inf entries get zero gradient both ways).
TEST(SoftmaxGrad, EveryCasePlainAndMasked) {
  for (const cases::SoftmaxCase& c : cases::kSoftmaxCases)
    for (bool masked : cases::kSoftmaxMasked) {
      if (!cases::runs_in(c.runners, cases::kGradcheck) || c.shift) continue;
      Shape s = c.lead > 1 ? Shape{c.lead, c.N, c.C} : Shape{c.N, c.C};
      std::vector<GradInput> in;
      in.push_back({random_f64(s, 6, masked ? -40 : -3, masked ? 40 : 3), true});
      if (masked)
        for (int64_t i = 0; i < in[0].value.numel(); ++i)
          if (cases::softmax_masked_out(i, c.C)) in[0].value.ptr<double>()[i] = -INFINITY;
      auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::softmax(g, v[0])}; });
      EXPECT_LT(r.max_rel_error, 1e-6) << cases::describe(c, masked) << "\n" << r.report;
    }
}

// logsumexp: the same cases (masked rows keep one finite entry, so the value is finite).
TEST(LogSumExpGrad, EveryCasePlainAndMasked) {
  for (const cases::SoftmaxCase& c : cases::kSoftmaxCases)
    for (bool masked : cases::kSoftmaxMasked) {
      if (!cases::runs_in(c.runners, cases::kGradcheck) || c.shift) continue;
      Shape s = c.lead > 1 ? Shape{c.lead, c.N, c.C} : Shape{c.N, c.C};
      std::vector<GradInput> in;
      in.push_back({random_f64(s, 16, masked ? -40 : -3, masked ? 40 : 3), true});
      if (masked)
        for (int64_t i = 0; i < in[0].value.numel(); ++i)
          if (cases::softmax_masked_out(i, c.C)) in[0].value.ptr<double>()[i] = -INFINITY;
      auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::logsumexp(g, v[0])}; });
      // 1e-5: each finite difference resolves a ~1e-3 gradient entry out of a value of order log(C) + 3
      EXPECT_LT(r.max_rel_error, 1e-5) << cases::describe(c, masked) << "\n" << r.report;
    }
}

// Against log(sum(exp(x))) built from basic ops where that does not overflow, and finite where it would.
TEST(LogSumExp, MatchesLogOfSumOfExpAndStaysFinite) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = random_f32({5, 9}, 3, -4, 4);
  Var a = g.input(x, true), b = g.input(x, true);
  Var fused = ops::logsumexp(g, a);
  Var composite = ops::unary(g, UnaryOp::log, ops::sum(g, ops::unary(g, UnaryOp::exp, b), -1, true));
  ASSERT_EQ(fused->value.shape, (Shape{5, 1}));
  OwnedTensor seed = random_f32({5, 1}, 4);
  g.backward({fused, composite}, {seed.tensor(), seed.tensor()});
  auto fv = to_host_doubles(fused->value), cv = to_host_doubles(composite->value);
  for (size_t i = 0; i < fv.size(); ++i) EXPECT_NEAR(fv[i], cv[i], 1e-5 * (1 + std::fabs(cv[i]))) << i;
  auto ga = to_host_doubles(a->grad), gb = to_host_doubles(b->grad);
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-5) << i;
  for (DType dt : {DType::f32, DType::f64}) {
    OwnedTensor big = from_values(dt, {2, 2}, {1000, 1000, -1e4, -INFINITY});
    auto y = to_host_doubles(ops::logsumexp(g, g.constant(big))->value);
    EXPECT_NEAR(y[0], 1000 + std::log(2.0), 1e-3) << dtype_name(dt);
    EXPECT_NEAR(y[1], -1e4, 1e-3) << dtype_name(dt);
  }
}

TEST(SoftmaxFused, MatchesExpOverSum) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = random_f32({7, 33}, 6, -3, 3);
  Var a = g.input(x, true), b = g.input(x, true);
  Var fused = ops::softmax(g, a);
  // exp(x) * exp(-log(sum(exp(x)))): the division built from basic ops.
  Var e = ops::unary(g, UnaryOp::exp, b);
  Var inv = ops::unary(g, UnaryOp::exp, ops::scale(g, ops::unary(g, UnaryOp::log, ops::sum(g, e, -1, true)), -1.0f));
  Var composite = ops::mul(g, e, inv);
  OwnedTensor seed = random_f32({7, 33}, 7);
  g.backward({fused, composite}, {seed.tensor(), seed.tensor()});
  auto fv = to_host_doubles(fused->value), cv = to_host_doubles(composite->value);
  for (size_t i = 0; i < fv.size(); ++i) EXPECT_NEAR(fv[i], cv[i], 1e-5 * (1 + std::fabs(cv[i]))) << i;
  auto ga = to_host_doubles(a->grad), gb = to_host_doubles(b->grad);
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-5 * (1 + std::fabs(gb[i]))) << i;
}

TEST(Softmax, LargeLogitsStayFiniteAndSumToOne) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  for (DType dt : {DType::f32, DType::f64}) {
    OwnedTensor x = from_values(dt, {2, 3}, {1000, 999, -1000, -1e4, -1e4 - 1, -1e4});
    auto y = to_host_doubles(ops::softmax(g, g.constant(x))->value);
    for (int r = 0; r < 2; ++r) {
      double s = 0;
      for (int c = 0; c < 3; ++c) {
        EXPECT_TRUE(std::isfinite(y[r * 3 + c])) << dtype_name(dt);
        s += y[r * 3 + c];
      }
      EXPECT_NEAR(s, 1.0, 1e-6) << dtype_name(dt);
    }
    EXPECT_NEAR(y[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6) << dtype_name(dt);
    EXPECT_NEAR(y[3], y[5], 1e-7) << dtype_name(dt);
  }
}

TEST(SoftmaxErrors, NonFloatInputNamesTheOp) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor ids(DType::i32, {3, 4});
  try {
    ops::softmax(g, g.constant(ids));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[softmax] needs a non-empty float tensor"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weft::test
