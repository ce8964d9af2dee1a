// layernorm, rmsnorm, softmax: fp64 gradient checks on odd shapes (with and without affine parameters)
// and f32 checks of the fused ops against the same math composed from basic ops (values and gradients).
#include <gtest/gtest.h>

#include <cmath>

#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

constexpr double kTol = 1e-6;

TEST(LayernormGrad, WithAndWithoutAffine) {
  for (Shape s : {Shape{1, 1}, Shape{3, 7}, Shape{2, 3, 33}})
    for (bool affine : {true, false}) {
      std::vector<GradInput> in;
      in.push_back({random_f64(s, 1, -2, 2), true});
      in.push_back({random_f64({s.last()}, 2, 0.5, 1.5), true});
      in.push_back({random_f64({s.last()}, 3), true});
      auto r = gradcheck(in, [affine](Graph& g, const std::vector<Var>& v) {
        return std::vector<Var>{affine ? ops::layernorm(g, v[0], v[1], v[2]) : ops::layernorm(g, v[0], nullptr, nullptr)};
      });
      EXPECT_LT(r.max_rel_error, kTol) << s.str() << " affine " << affine << "\n" << r.report;
    }
}

TEST(RmsnormGrad, WithAndWithoutWeight) {
  for (Shape s : {Shape{1, 1}, Shape{3, 7}, Shape{2, 3, 33}})
    for (bool weighted : {true, false}) {
      std::vector<GradInput> in;
      in.push_back({random_f64(s, 4, -2, 2), true});
      in.push_back({random_f64({s.last()}, 5, 0.5, 1.5), true});
      // With C = 1, y = x / sqrt(x^2 + eps) is flat (gradient ~ eps / |x|^3): a large eps keeps the
      // gradient well above finite-difference noise.
      float eps = s.last() == 1 ? 0.5f : 1e-6f;
      auto r = gradcheck(in, [weighted, eps](Graph& g, const std::vector<Var>& v) {
        return std::vector<Var>{ops::rmsnorm(g, v[0], weighted ? v[1] : nullptr, eps)};
      });
      EXPECT_LT(r.max_rel_error, kTol) << s.str() << " weighted " << weighted << "\n" << r.report;
    }
}

TEST(SoftmaxGrad, OddShapes) {
  for (Shape s : {Shape{1, 1}, Shape{3, 7}, Shape{7, 33}}) {
    std::vector<GradInput> in;
    in.push_back({random_f64(s, 6, -3, 3), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::softmax(g, v[0])}; });
    EXPECT_LT(r.max_rel_error, kTol) << s.str() << "\n" << r.report;
  }
}

// Runs fused and composite graphs on the same f32 inputs; compares outputs and input gradients.
void expect_fused_matches_composite(const std::vector<OwnedTensor>& inputs, const BuildFn& fused,
                                    const BuildFn& composite, double tol) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  std::vector<Var> a, b;
  for (const auto& t : inputs) {
    a.push_back(g.input(t, true));
    b.push_back(g.input(t, true));
  }
  Var f = fused(g, a)[0], c = composite(g, b)[0];
  OwnedTensor seed = random_f32(f->value.shape, 77);
  g.backward({f, c}, {seed.tensor(), seed.tensor()});
  auto fv = to_host_doubles(f->value), cv = to_host_doubles(c->value);
  ASSERT_EQ(fv.size(), cv.size());
  for (size_t i = 0; i < fv.size(); ++i) EXPECT_NEAR(fv[i], cv[i], tol * (1 + std::fabs(cv[i]))) << "output " << i;
  for (size_t k = 0; k < a.size(); ++k) {
    auto ga = to_host_doubles(a[k]->grad), gb = to_host_doubles(b[k]->grad);
    for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], tol * (1 + std::fabs(gb[i]))) << "grad " << k;
  }
}

TEST(LayernormFused, MatchesComposite) {
  std::vector<OwnedTensor> in;
  in.push_back(random_f32({5, 33}, 1, -2, 2));
  in.push_back(random_f32({33}, 2, 0.5, 1.5));
  in.push_back(random_f32({33}, 3));
  expect_fused_matches_composite(
      in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::layernorm(g, v[0], v[1], v[2], 1e-5f)}; },
      [](Graph& g, const std::vector<Var>& v) {
        Var xc = ops::sub(g, v[0], ops::mean(g, v[0], -1, true));
        OwnedTensor eps = from_values(DType::f32, {1}, {1e-5});
        Var var = ops::mean(g, ops::unary(g, UnaryOp::square, xc), -1, true);
        Var rstd = ops::unary(g, UnaryOp::rsqrt, ops::add(g, var, g.constant(eps)));
        return std::vector<Var>{ops::add(g, ops::mul(g, ops::mul(g, xc, rstd), v[1]), v[2])};
      },
      1e-5);
}

TEST(RmsnormFused, MatchesComposite) {
  std::vector<OwnedTensor> in;
  in.push_back(random_f32({5, 33}, 4, -2, 2));
  in.push_back(random_f32({33}, 5, 0.5, 1.5));
  expect_fused_matches_composite(
      in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::rmsnorm(g, v[0], v[1], 1e-6f)}; },
      [](Graph& g, const std::vector<Var>& v) {
        OwnedTensor eps = from_values(DType::f32, {1}, {1e-6});
        Var ms = ops::mean(g, ops::unary(g, UnaryOp::square, v[0]), -1, true);
        Var rstd = ops::unary(g, UnaryOp::rsqrt, ops::add(g, ms, g.constant(eps)));
        return std::vector<Var>{ops::mul(g, ops::mul(g, v[0], rstd), v[1])};
      },
      1e-5);
}

TEST(SoftmaxFused, MatchesExpOverSum) {
  std::vector<OwnedTensor> in;
  in.push_back(random_f32({7, 33}, 6, -3, 3));
  expect_fused_matches_composite(
      in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::softmax(g, v[0])}; },
      [](Graph& g, const std::vector<Var>& v) {
        Var e = ops::unary(g, UnaryOp::exp, v[0]);
        Var s = ops::sum(g, e, -1, true);
        return std::vector<Var>{ops::mul(g, e, ops::unary(g, UnaryOp::exp, ops::scale(g, ops::unary(g, UnaryOp::log, s), -1.0f)))};
      },
      1e-5);
}

TEST(NormErrors, WeightShapeNamed) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x(DType::f32, {3, 4}), w(DType::f32, {5});
  try {
    ops::layernorm(g, g.constant(x), g.constant(w), nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[layernorm] weight must be (4), got (5)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weft::test
