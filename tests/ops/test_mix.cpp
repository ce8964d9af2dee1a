// causal_mix (the masked mixer's token mixing): fp64 finite-difference gradients on the cases of
// tests/cases/mix_cases.h (T = L and T < L, the top-left block), each with and without bias; on the same
// cases the forward against a plain triple loop, the weight gradient's upper triangle exactly zero (the mask
// is in the op, not in the optimizer) and the gradient of w's rows and columns beyond T exactly zero.
#include <gtest/gtest.h>

#include "tests/cases/mix_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

bool runs_here(const cases::MixCase& c) { return cases::runs_in(c.runners, cases::kGradcheck); }

OwnedTensor lower_triangular(int64_t L, uint64_t seed) {
  OwnedTensor w = random_f64({L, L}, seed);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = i + 1; j < L; ++j) w.ptr<double>()[i * L + j] = 0.0;
  return w;
}

TEST(MixGrad, Fp64FiniteDifference) {
  for (const cases::MixCase& c : cases::kMixCases)
    for (bool with_bias : cases::kMixBias) {
      if (!runs_here(c)) continue;
      std::vector<GradInput> in;
      in.push_back({random_f64({c.B, c.T, c.C}, 1), true});
      in.push_back({lower_triangular(c.L, 2), true});
      if (with_bias) in.push_back({random_f64({c.L}, 3), true});
      auto r = gradcheck(in, [with_bias](Graph& g, const std::vector<Var>& v) {
        return std::vector<Var>{ops::causal_mix(g, v[0], v[1], with_bias ? v[2] : nullptr)};
      });
      EXPECT_LT(r.max_rel_error, 1e-6) << cases::describe(c, with_bias) << "\n" << r.report;
    }
}

void expect_forward_matches_definition_and_gradient_keeps_mask(const cases::MixCase& c, bool with_bias) {
  SCOPED_TRACE(cases::describe(c, with_bias));
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = random_f64({c.B, c.T, c.C}, 4), w = lower_triangular(c.L, 5), bias = random_f64({c.L}, 6);
  OwnedTensor dw(DType::f64, {c.L, c.L}), dbias(DType::f64, {c.L});
  Var vw = g.leaf(w, dw), vb = with_bias ? g.leaf(bias, dbias) : nullptr;
  Var y = ops::causal_mix(g, g.constant(x), vw, vb);
  const double* X = x.ptr<double>();
  const double* W = w.ptr<double>();
  auto out = to_host_doubles(y->value);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t i = 0; i < c.T; ++i)
      for (int64_t f = 0; f < c.C; ++f) {
        double want = with_bias ? bias.ptr<double>()[i] : 0.0;
        for (int64_t j = 0; j <= i; ++j) want += W[i * c.L + j] * X[(b * c.T + j) * c.C + f];
        ASSERT_NEAR(out[(b * c.T + i) * c.C + f], want, 1e-12) << b << " " << i << " " << f;
      }
  OwnedTensor seed = random_f64(y->value.shape, 7);
  g.backward({y}, {seed.tensor()});
  for (int64_t i = 0; i < c.L; ++i)
    for (int64_t j = 0; j < c.L; ++j) {
      const double v = dw.ptr<double>()[i * c.L + j];
      if (j > i || i >= c.T) {
        ASSERT_EQ(v, 0.0) << "dw[" << i << ", " << j << "]";
      }
    }
  if (with_bias) {
    for (int64_t i = c.T; i < c.L; ++i) ASSERT_EQ(dbias.ptr<double>()[i], 0.0) << "dbias[" << i << "]";
  }
}

TEST(MixGrad, ForwardMatchesTheDefinitionAndGradientKeepsTheMask) {
  for (const cases::MixCase& c : cases::kMixCases)
    for (bool with_bias : cases::kMixBias)
      if (runs_here(c)) expect_forward_matches_definition_and_gradient_keeps_mask(c, with_bias);
}

TEST(Mix, ShapeErrorsNameTheOp) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = random_f64({2, 6, 3}, 1), w = lower_triangular(5, 2);
  EXPECT_NE(error_of([&] { ops::causal_mix(g, g.constant(x), g.constant(w)); }).find("[causal_mix] sequence length 6"),
            std::string::npos);
}

}  // namespace
}  // namespace weft::test
