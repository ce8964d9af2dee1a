// causal_mix (the masked mixer's token mixing): fp64 finite-difference gradients on odd shapes, with and
// without bias, at T = L and T < L (the top-left block); the forward against a plain triple loop; the
// weight gradient's upper triangle exactly zero (the mask is in the op, not in the optimizer); the
// gradient of w's rows and columns beyond T exactly zero.
#include <gtest/gtest.h>

#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

struct MixCase {
  int64_t B, T, C, L;
  bool bias;
};

OwnedTensor lower_triangular(int64_t L, uint64_t seed) {
  OwnedTensor w = random_f64({L, L}, seed);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = i + 1; j < L; ++j) w.ptr<double>()[i * L + j] = 0.0;
  return w;
}

class MixGrad : public ::testing::TestWithParam<MixCase> {};

TEST_P(MixGrad, Fp64FiniteDifference) {
  const MixCase& c = GetParam();
  std::vector<GradInput> in;
  in.push_back({random_f64({c.B, c.T, c.C}, 1), true});
  in.push_back({lower_triangular(c.L, 2), true});
  if (c.bias) in.push_back({random_f64({c.L}, 3), true});
  auto r = gradcheck(in, [&](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::causal_mix(g, v[0], v[1], c.bias ? v[2] : nullptr)};
  });
  EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
}

TEST_P(MixGrad, ForwardMatchesTheDefinitionAndGradientKeepsTheMask) {
  const MixCase& c = GetParam();
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = random_f64({c.B, c.T, c.C}, 4), w = lower_triangular(c.L, 5), bias = random_f64({c.L}, 6);
  OwnedTensor dw(DType::f64, {c.L, c.L}), dbias(DType::f64, {c.L});
  Var vw = g.leaf(w, dw), vb = c.bias ? g.leaf(bias, dbias) : nullptr;
  Var y = ops::causal_mix(g, g.constant(x), vw, vb);
  const double* X = x.ptr<double>();
  const double* W = w.ptr<double>();
  auto out = to_host_doubles(y->value);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t i = 0; i < c.T; ++i)
      for (int64_t f = 0; f < c.C; ++f) {
        double want = c.bias ? bias.ptr<double>()[i] : 0.0;
        for (int64_t j = 0; j <= i; ++j) want += W[i * c.L + j] * X[(b * c.T + j) * c.C + f];
        EXPECT_NEAR(out[(b * c.T + i) * c.C + f], want, 1e-12) << b << " " << i << " " << f;
      }
  OwnedTensor seed = random_f64(y->value.shape, 7);
  g.backward({y}, {seed.tensor()});
  for (int64_t i = 0; i < c.L; ++i)
    for (int64_t j = 0; j < c.L; ++j) {
      const double v = dw.ptr<double>()[i * c.L + j];
      if (j > i || i >= c.T) EXPECT_EQ(v, 0.0) << "dw[" << i << ", " << j << "]";
    }
  if (c.bias)
    for (int64_t i = c.T; i < c.L; ++i) EXPECT_EQ(dbias.ptr<double>()[i], 0.0) << "dbias[" << i << "]";
}

INSTANTIATE_TEST_SUITE_P(Shapes, MixGrad,
                         ::testing::Values(MixCase{1, 1, 1, 1, true}, MixCase{2, 5, 3, 5, true},
                                           MixCase{3, 7, 4, 7, false}, MixCase{2, 4, 6, 9, true},  // T < L
                                           MixCase{1, 13, 2, 13, true}));

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
