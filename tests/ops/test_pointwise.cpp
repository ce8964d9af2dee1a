// Pointwise ops: fp64 gradient checks of every unary activation, broadcasting add/sub/mul, scale, SwiGLU
// and dropout on the cases of tests/cases/pointwise_cases.h; f32 checks of the fused SwiGLU against
// silu * split; dropout statistics; cast.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cases/pointwise_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

constexpr double kTol = 1e-6;

Shape shape_of(const cases::Dims& d) { return Shape::from(d.d, d.d + d.rank); }

GradCheckResult check_unary(UnaryOp op, Shape shape, uint64_t seed) {
  bool positive = op == UnaryOp::log || op == UnaryOp::rsqrt;
  std::vector<GradInput> in;
  in.push_back({random_f64(shape, seed, positive ? 0.3 : -2.0, 2.0), true});
  if (op == UnaryOp::relu)  // keep away from the kink at 0, where the derivative jumps
    for (int64_t i = 0; i < in[0].value.numel(); ++i) {
      double& v = in[0].value.ptr<double>()[i];
      if (std::fabs(v) < 0.05) v = v < 0 ? -0.05 : 0.05;
    }
  return gradcheck(in, [op](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::unary(g, op, v[0])}; });
}

class UnaryGrad : public ::testing::TestWithParam<int> {};

TEST_P(UnaryGrad, Fp64FiniteDifference) {
  UnaryOp op = static_cast<UnaryOp>(GetParam());
  for (const cases::UnaryCase& c : cases::kUnaryCases) {
    if (!cases::runs_in(c.runners, cases::kGradcheck) || c.shift) continue;
    auto r = check_unary(op, shape_of(c.x), 17);
    EXPECT_LT(r.max_rel_error, kTol) << unary_name(op) << " " << cases::describe(c) << "\n" << r.report;
  }
}

// x feeding two unary ops: the first backward writes x's gradient, the second accumulates into it.
TEST(UnaryGrad, InputSharedByTwoOpsWritesThenAccumulates) {
  std::vector<GradInput> in;
  in.push_back({random_f64({3, 7}, 5, -2.0, 2.0), true});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::unary(g, UnaryOp::gelu_tanh, v[0]), ops::unary(g, UnaryOp::tanh, v[0])};
  });
  EXPECT_LT(r.max_rel_error, kTol) << r.report;
}

INSTANTIATE_TEST_SUITE_P(AllUnaryOps, UnaryGrad, ::testing::Range(0, static_cast<int>(UnaryOp::count)),
                         [](const auto& info) { return std::string(unary_name(static_cast<UnaryOp>(info.param))); });

TEST(BinaryGrad, AddSubMulEveryCase) {
  for (const cases::BinaryCase& c : cases::kBinaryCases)
    for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul}) {
      if (!cases::runs_in(c.runners, cases::kGradcheck)) continue;
      std::vector<GradInput> in;
      in.push_back({random_f64(shape_of(c.a), 1), true});
      in.push_back({random_f64(shape_of(c.b), 2), true});
      auto r = gradcheck(in, [op](Graph& g, const std::vector<Var>& v) {
        return std::vector<Var>{ops::binary(g, op, v[0], v[1])};
      });
      EXPECT_LT(r.max_rel_error, kTol) << "op " << int(op) << " " << cases::describe(c) << "\n" << r.report;
    }
}

TEST(ScaleGrad, EveryCase) {
  for (const cases::Dims& d : cases::kScaleCases) {
    std::vector<GradInput> in;
    in.push_back({random_f64(shape_of(d), 3), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::scale(g, v[0], -2.5f)}; });
    EXPECT_LT(r.max_rel_error, kTol) << cases::dims_str(d) << "\n" << r.report;
  }
}

TEST(SwigluGrad, EveryCase) {
  for (const cases::Dims& d : cases::kSwigluCases) {
    std::vector<GradInput> in;
    in.push_back({random_f64(shape_of(d), 4, -2, 2), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::swiglu(g, v[0])}; });
    EXPECT_LT(r.max_rel_error, kTol) << cases::dims_str(d) << "\n" << r.report;
  }
}

TEST(SwigluFused, MatchesSiluTimesSplitForwardAndBackward) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = random_f32({5, 2 * 19}, 5, -3, 3);
  Var a = g.input(x, true), b = g.input(x, true);
  Var fused = ops::swiglu(g, a);
  auto halves = ops::split(g, b, {19, 19}, -1);
  Var composite = ops::mul(g, ops::silu(g, halves[0]), halves[1]);
  OwnedTensor seed = random_f32({5, 19}, 6);
  g.backward({fused, composite}, {seed.tensor(), seed.tensor()});
  auto f = to_host_doubles(fused->value), c = to_host_doubles(composite->value);
  for (size_t i = 0; i < f.size(); ++i) EXPECT_NEAR(f[i], c[i], 1e-5 * (1 + std::fabs(c[i])));
  auto ga = to_host_doubles(a->grad), gb = to_host_doubles(b->grad);
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-5 * (1 + std::fabs(gb[i])));
}

TEST(DropoutGrad, EveryCaseSameMaskForwardAndBackward) {
  for (const cases::DropoutCase& c : cases::kDropoutCases) {
    if (!cases::runs_in(c.runners, cases::kGradcheck)) continue;
    Rng rng(123, 0);
    std::vector<GradInput> in;
    in.push_back({random_f64(shape_of(c.x), 7), true});
    RngState start = rng.state();
    const float p = c.p;
    auto r = gradcheck(in, [&rng, start, p](Graph& g, const std::vector<Var>& v) {
      rng.set_state(start);  // every evaluation draws the same mask
      return std::vector<Var>{ops::dropout(g, v[0], p, rng)};
    });
    EXPECT_LT(r.max_rel_error, kTol) << cases::describe(c) << "\n" << r.report;
  }
}

TEST(Dropout, KeepsAboutOneMinusPAndScales) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  Rng rng(7, 3);
  OwnedTensor ones(DType::f32, {100000});
  std::fill(ones.ptr<float>(), ones.ptr<float>() + ones.numel(), 1.0f);
  Var y = ops::dropout(g, g.constant(ones), 0.25f, rng);
  auto v = to_host_doubles(y->value);
  int kept = 0;
  for (double e : v) {
    if (e != 0.0) {
      ++kept;
      EXPECT_NEAR(e, 1.0 / 0.75, 1e-6);
    }
  }
  EXPECT_NEAR(kept / 100000.0, 0.75, 0.01);
  // The next call draws fresh counters: a different mask.
  Var y2 = ops::dropout(g, g.constant(ones), 0.25f, rng);
  EXPECT_NE(to_host_doubles(y2->value), v);
  // Evaluation mode is the identity.
  EXPECT_EQ(ops::dropout(g, g.constant(ones), 0.25f, rng, false)->value.data, ones.tensor().data);
}

TEST(Cast, RoundTripAndGradientFlowsBack) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = from_values(DType::f32, {4}, {1.0, -2.5, 3.140625, 1.0 + 1.0 / 256});
  Var xv = g.input(x, true);
  Var b = ops::cast(g, xv, DType::bf16);
  Var back = ops::cast(g, b, DType::f32);
  auto v = to_host_doubles(back->value);
  EXPECT_EQ(v, (std::vector<double>{1.0, -2.5, 3.140625, 1.0}));  // last one rounds to even
  OwnedTensor seed = from_values(DType::f32, {4}, {0.5, 1.0, -1.0, 2.0});
  g.backward({back}, {seed.tensor()});
  EXPECT_EQ(to_host_doubles(xv->grad), (std::vector<double>{0.5, 1.0, -1.0, 2.0}));
}

TEST(BinaryErrors, NonBroadcastableShapesNameTheOp) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor a(DType::f32, {3, 4}), b(DType::f32, {5});
  try {
    ops::add(g, g.constant(a), g.constant(b));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[add] shapes (3, 4) and (5) do not broadcast"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weft::test

namespace weft::test {
namespace {

// The f32 GELU uses a vectorised exp: compare it with the double-precision formula over a wide range.
TEST(GeluTanhF32, FastPathMatchesDoubleFormula) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  const int64_t n = 20001;
  OwnedTensor x(DType::f32, {n});
  for (int64_t i = 0; i < n; ++i) x.ptr<float>()[i] = -12.0f + 24.0f * static_cast<float>(i) / (n - 1);
  Var xv = g.input(x, true);
  Var y = ops::gelu_tanh(g, xv);
  OwnedTensor seed(DType::f32, {n});
  std::fill(seed.ptr<float>(), seed.ptr<float>() + n, 1.0f);
  g.backward({y}, {seed.tensor()});
  for (int64_t i = 0; i < n; ++i) {
    double v = x.ptr<float>()[i];
    double ref = unary_value<double>(UnaryOp::gelu_tanh, v);
    double dref = unary_derivative<double>(UnaryOp::gelu_tanh, v, ref);
    ASSERT_NEAR(y->value.ptr<float>()[i], ref, 2e-6 * (1 + std::fabs(ref))) << v;
    ASSERT_NEAR(xv->grad.ptr<float>()[i], dref, 2e-6 * (1 + std::fabs(dref))) << v;
  }
  // A second use of x: its backward accumulates (the vectorised path's accumulate mode).
  Graph g2(ex, arena);
  Var x2 = g2.input(x, true);
  Var y1 = ops::gelu_tanh(g2, x2), y2 = ops::gelu_tanh(g2, x2);
  g2.backward({y1, y2}, {seed.tensor(), seed.tensor()});
  for (int64_t i = 0; i < n; ++i) {
    double v = x.ptr<float>()[i];
    double dref = unary_derivative<double>(UnaryOp::gelu_tanh, v, unary_value<double>(UnaryOp::gelu_tanh, v));
    ASSERT_NEAR(x2->grad.ptr<float>()[i], 2 * dref, 4e-6 * (1 + std::fabs(dref))) << v;
  }
}

}  // namespace
}  // namespace weft::test
