// dense_mix (the retrieval model's bidirectional token mixing over N slots): fp64 finite-difference
// gradients on odd shapes with and without bias; the forward against the plain double loop; every entry of
// the weight gradient (upper triangle included) equals sum_b dy_b x_b^T; shape errors name the op.
#include <gtest/gtest.h>

#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

struct DenseMixCase {
  int64_t B, N, C;
  bool bias;
};

class DenseMixGrad : public ::testing::TestWithParam<DenseMixCase> {};

TEST_P(DenseMixGrad, Fp64FiniteDifference) {
  const DenseMixCase& c = GetParam();
  std::vector<GradInput> in;
  in.push_back({random_f64({c.B, c.N, c.C}, 1), true});
  in.push_back({random_f64({c.N, c.N}, 2), true});
  if (c.bias) in.push_back({random_f64({c.N}, 3), true});
  auto r = gradcheck(in, [&](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::dense_mix(g, v[0], v[1], c.bias ? v[2] : nullptr)};
  });
  EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
}

TEST_P(DenseMixGrad, ForwardAndWeightGradientMatchTheDefinition) {
  const DenseMixCase& c = GetParam();
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = random_f64({c.B, c.N, c.C}, 4), w = random_f64({c.N, c.N}, 5), bias = random_f64({c.N}, 6);
  OwnedTensor dw(DType::f64, {c.N, c.N}), dbias(DType::f64, {c.N});
  Var vw = g.leaf(w, dw), vb = c.bias ? g.leaf(bias, dbias) : nullptr;
  Var y = ops::dense_mix(g, g.constant(x), vw, vb);
  const double* X = x.ptr<double>();
  const double* W = w.ptr<double>();
  auto out = to_host_doubles(y->value);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t i = 0; i < c.N; ++i)
      for (int64_t f = 0; f < c.C; ++f) {
        double want = c.bias ? bias.ptr<double>()[i] : 0.0;
        for (int64_t j = 0; j < c.N; ++j) want += W[i * c.N + j] * X[(b * c.N + j) * c.C + f];
        EXPECT_NEAR(out[(b * c.N + i) * c.C + f], want, 1e-12) << b << " " << i << " " << f;
      }
  OwnedTensor seed = random_f64(y->value.shape, 7);
  g.backward({y}, {seed.tensor()});
  const double* dY = seed.ptr<double>();
  for (int64_t i = 0; i < c.N; ++i)
    for (int64_t j = 0; j < c.N; ++j) {
      double want = 0.0;
      for (int64_t b = 0; b < c.B; ++b)
        for (int64_t f = 0; f < c.C; ++f) want += dY[(b * c.N + i) * c.C + f] * X[(b * c.N + j) * c.C + f];
      EXPECT_NEAR(dw.ptr<double>()[i * c.N + j], want, 1e-12) << "dw[" << i << ", " << j << "]";
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, DenseMixGrad,
                         ::testing::Values(DenseMixCase{1, 1, 1, true}, DenseMixCase{2, 5, 3, true},
                                           DenseMixCase{3, 7, 4, false}, DenseMixCase{2, 8, 6, true},
                                           DenseMixCase{1, 13, 2, true}));

TEST(DenseMix, ShapeErrorsNameTheOp) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = random_f64({2, 6, 3}, 1), w = random_f64({5, 5}, 2), b = random_f64({6}, 3);
  EXPECT_NE(error_of([&] { ops::dense_mix(g, g.constant(x), g.constant(w)); }).find("[dense_mix] x has 6 slots"),
            std::string::npos);
  OwnedTensor w6 = random_f64({6, 6}, 4), b5 = random_f64({5}, 5);
  EXPECT_NE(error_of([&] { ops::dense_mix(g, g.constant(x), g.constant(w6), g.constant(b5)); }).find("[dense_mix] bias"),
            std::string::npos);
}

}  // namespace
}  // namespace weft::test
