// layernorm, rmsnorm: fp64 gradient checks on the cases of tests/cases/norm_cases.h (every affine
// option), f32 checks of the fused ops against the same math composed from basic ops (values and gradients), and
// shape errors that name the op.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cases/norm_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

using cases::affine_name;
using cases::describe;
using cases::has_bias;
using cases::has_weight;

constexpr double kTol = 1e-6;

Shape x_shape(const cases::NormCase& c) { return c.lead > 1 ? Shape{c.lead, c.N, c.C} : Shape{c.N, c.C}; }
bool runs_here(const cases::NormCase& c) { return cases::runs_in(c.runners, cases::kGradcheck) && c.shift == 0; }

TEST(LayernormGrad, EveryCaseAndAffine) {
  for (const cases::NormCase& c : cases::kNormCases)
    for (cases::Affine a : cases::kAffines) {
      if (!runs_here(c)) continue;
      std::vector<GradInput> in;
      in.push_back({random_f64(x_shape(c), 1, -2, 2), true});
      in.push_back({random_f64({c.C}, 2, 0.5, 1.5), true});
      in.push_back({random_f64({c.C}, 3), true});
      auto r = gradcheck(in, [a](Graph& g, const std::vector<Var>& v) {
        return std::vector<Var>{
            ops::layernorm(g, v[0], has_weight(a) ? v[1] : nullptr, has_bias(a) ? v[2] : nullptr)};
      });
      EXPECT_LT(r.max_rel_error, kTol) << describe(c) << " " << affine_name(a) << "\n" << r.report;
    }
}

TEST(RmsnormGrad, EveryCaseWithAndWithoutWeight) {
  for (const cases::NormCase& c : cases::kNormCases)
    for (cases::Affine a : {cases::Affine::weight, cases::Affine::none}) {
      if (!runs_here(c)) continue;
      std::vector<GradInput> in;
      in.push_back({random_f64(x_shape(c), 4, -2, 2), true});
      in.push_back({random_f64({c.C}, 5, 0.5, 1.5), true});
      // With C = 1, y = x / sqrt(x^2 + eps) is flat (gradient ~ eps / |x|^3): a large eps keeps the
      // gradient well above finite-difference noise.
      float eps = c.C == 1 ? 0.5f : 1e-6f;
      auto r = gradcheck(in, [a, eps](Graph& g, const std::vector<Var>& v) {
        return std::vector<Var>{ops::rmsnorm(g, v[0], has_weight(a) ? v[1] : nullptr, eps)};
      });
      EXPECT_LT(r.max_rel_error, kTol) << describe(c) << " " << affine_name(a) << "\n" << r.report;
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
    if (!a[k]->grad.defined() && !b[k]->grad.defined()) continue;  // an input the op did not use
    auto ga = to_host_doubles(a[k]->grad), gb = to_host_doubles(b[k]->grad);
    ASSERT_EQ(ga.size(), gb.size());
    for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], tol * (1 + std::fabs(gb[i]))) << "grad " << k;
  }
}

// (x - mean) * rsqrt(mean((x - mean)^2) + eps), each step a basic op.
Var layernorm_composite(Graph& g, Var x, float eps) {
  Var xc = ops::sub(g, x, ops::mean(g, x, -1, true));
  Var var = ops::mean(g, ops::unary(g, UnaryOp::square, xc), -1, true);
  OwnedTensor e = from_values(DType::f32, {1}, {eps});
  return ops::mul(g, xc, ops::unary(g, UnaryOp::rsqrt, ops::add(g, var, g.constant(e))));
}

TEST(LayernormFused, MatchesComposite) {
  std::vector<OwnedTensor> in;
  in.push_back(random_f32({2, 5, 33}, 1, -2, 2));
  in.push_back(random_f32({33}, 2, 0.5, 1.5));
  in.push_back(random_f32({33}, 3));
  expect_fused_matches_composite(
      in,
      [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::layernorm(g, v[0], v[1], v[2], 1e-5f)}; },
      [](Graph& g, const std::vector<Var>& v) {
        return std::vector<Var>{ops::add(g, ops::mul(g, layernorm_composite(g, v[0], 1e-5f), v[1]), v[2])};
      },
      1e-5);
}

TEST(LayernormFused, WithoutAffineMatchesComposite) {
  std::vector<OwnedTensor> in;
  in.push_back(random_f32({7, 3}, 4, -2, 2));
  expect_fused_matches_composite(
      in,
      [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::layernorm(g, v[0], nullptr, nullptr)}; },
      [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{layernorm_composite(g, v[0], 1e-5f)}; }, 1e-5);
}

// x * rsqrt(mean(x^2) + eps) (* w)
Var rmsnorm_composite(Graph& g, Var x, Var w, float eps) {
  OwnedTensor e = from_values(DType::f32, {1}, {eps});
  Var ms = ops::mean(g, ops::unary(g, UnaryOp::square, x), -1, true);
  Var y = ops::mul(g, x, ops::unary(g, UnaryOp::rsqrt, ops::add(g, ms, g.constant(e))));
  return w ? ops::mul(g, y, w) : y;
}

TEST(RmsnormFused, MatchesComposite) {
  std::vector<OwnedTensor> in;
  in.push_back(random_f32({5, 33}, 4, -2, 2));
  in.push_back(random_f32({33}, 5, 0.5, 1.5));
  expect_fused_matches_composite(
      in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::rmsnorm(g, v[0], v[1], 1e-6f)}; },
      [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{rmsnorm_composite(g, v[0], v[1], 1e-6f)}; },
      1e-5);
}

TEST(RmsnormFused, WithoutWeightMatchesComposite) {
  std::vector<OwnedTensor> in;
  in.push_back(random_f32({3, 7}, 6, -2, 2));
  expect_fused_matches_composite(
      in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::rmsnorm(g, v[0], nullptr, 1e-6f)}; },
      [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{rmsnorm_composite(g, v[0], nullptr, 1e-6f)}; },
      1e-5);
}

TEST(NormErrors, ShapeMismatchesNameTheOp) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x(DType::f32, {3, 4}), w(DType::f32, {5}), w64(DType::f64, {4}), ids(DType::i32, {3, 4});
  EXPECT_NE(error_of([&] { ops::layernorm(g, g.constant(x), g.constant(w), nullptr); })
                .find("[layernorm] weight must be (4), got (5)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::layernorm(g, g.constant(x), nullptr, g.constant(w)); })
                .find("[layernorm] bias must be (4), got (5)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::rmsnorm(g, g.constant(x), g.constant(w)); })
                .find("[rmsnorm] weight must be (4), got (5)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::rmsnorm(g, g.constant(x), g.constant(w64)); }).find("[rmsnorm]"), std::string::npos);
  EXPECT_NE(error_of([&] { ops::layernorm(g, g.constant(ids), nullptr, nullptr); }).find("[layernorm] needs a float"),
            std::string::npos);
}

}  // namespace
}  // namespace weft::test
