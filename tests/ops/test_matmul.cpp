// matmul / linear / linear_gelu: fp64 gradient checks on odd shapes, every transpose combination, batched
// and shared-B forms; f32 checks of the fused linear against matmul + broadcast add and of linear_gelu against
// gelu_tanh(linear) (bit-identical on the CPU, gradients included).
#include <gtest/gtest.h>

#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

constexpr double kTol = 1e-6;

struct MatmulCase {
  Shape a, b;
  bool ta, tb;
};

class MatmulGrad : public ::testing::TestWithParam<MatmulCase> {};

TEST_P(MatmulGrad, Fp64FiniteDifference) {
  const MatmulCase& c = GetParam();
  std::vector<GradInput> in;
  in.push_back({random_f64(c.a, 1), true});
  in.push_back({random_f64(c.b, 2), true});
  auto r = gradcheck(in, [&](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::matmul(g, v[0], v[1], c.ta, c.tb)};
  });
  EXPECT_LT(r.max_rel_error, kTol) << r.report;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MatmulGrad,
    ::testing::Values(MatmulCase{{3, 7}, {7, 5}, false, false}, MatmulCase{{7, 3}, {7, 5}, true, false},
                      MatmulCase{{3, 7}, {5, 7}, false, true}, MatmulCase{{7, 3}, {5, 7}, true, true},
                      MatmulCase{{1, 1}, {1, 33}, false, false},
                      MatmulCase{{2, 3, 7}, {2, 7, 5}, false, false},    // batched
                      MatmulCase{{2, 7, 3}, {2, 5, 7}, true, true},      // batched, both transposed
                      MatmulCase{{2, 3, 3, 7}, {7, 5}, false, false},    // shared B
                      MatmulCase{{2, 3, 3, 7}, {5, 7}, false, true},     // shared B, transposed
                      MatmulCase{{3, 7, 3}, {7, 5}, true, false},        // shared B, A transposed
                      MatmulCase{{3, 7, 3}, {5, 7}, true, true}));

TEST(LinearGrad, Fp64FiniteDifference) {
  for (auto [N, C, OC] : {std::tuple{1, 1, 1}, {3, 7, 5}, {33, 3, 7}}) {
    std::vector<GradInput> in;
    in.push_back({random_f64({N, C}, 3), true});
    in.push_back({random_f64({OC, C}, 4), true});
    in.push_back({random_f64({OC}, 5), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
      return std::vector<Var>{ops::linear(g, v[0], v[1], v[2])};
    });
    EXPECT_LT(r.max_rel_error, kTol) << "N=" << N << " C=" << C << " OC=" << OC << "\n" << r.report;
  }
}

TEST(LinearGrad, ThreeDimInputNoBias) {
  std::vector<GradInput> in;
  in.push_back({random_f64({2, 3, 7}, 6), true});
  in.push_back({random_f64({5, 7}, 7), true});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::linear(g, v[0], v[1])};
  });
  EXPECT_LT(r.max_rel_error, kTol) << r.report;
}

TEST(LinearFused, MatchesMatmulPlusBias) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = random_f32({9, 13}, 1), w = random_f32({6, 13}, 2), b = random_f32({6}, 3);
  Var fused = ops::linear(g, g.constant(x), g.constant(w), g.constant(b));
  Var composite = ops::add(g, ops::matmul(g, g.constant(x), g.constant(w), false, true), g.constant(b));
  auto f = to_host_doubles(fused->value), c = to_host_doubles(composite->value);
  ASSERT_EQ(f.size(), c.size());
  for (size_t i = 0; i < f.size(); ++i) EXPECT_NEAR(f[i], c[i], 1e-5);
}

TEST(LinearGeluGrad, Fp64FiniteDifference) {
  for (auto [N, C, OC, with_bias] : {std::tuple{1, 1, 1, true}, {3, 7, 5, true}, {33, 3, 7, false}, {5, 4, 8, true}}) {
    std::vector<GradInput> in;
    in.push_back({random_f64({N, C}, 8), true});
    in.push_back({random_f64({OC, C}, 9), true});
    if (with_bias) in.push_back({random_f64({OC}, 10), true});
    auto r = gradcheck(in, [with_bias](Graph& g, const std::vector<Var>& v) {
      return std::vector<Var>{ops::linear_gelu(g, v[0], v[1], with_bias ? v[2] : nullptr)};
    });
    EXPECT_LT(r.max_rel_error, kTol) << "N=" << N << " C=" << C << " OC=" << OC << (with_bias ? "" : " no bias")
                                     << "\n" << r.report;
  }
}

TEST(LinearGeluGrad, ThreeDimInput) {
  std::vector<GradInput> in;
  in.push_back({random_f64({2, 3, 7}, 11), true});
  in.push_back({random_f64({5, 7}, 12), true});
  in.push_back({random_f64({5}, 13), true});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::linear_gelu(g, v[0], v[1], v[2])};
  });
  EXPECT_LT(r.max_rel_error, kTol) << r.report;
}

// On the CPU the fused op runs the kernels of linear then gelu_tanh: outputs and gradients are bit-identical.
TEST(LinearGeluFused, EqualsGeluOfLinearExactly) {
  for (bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias ? "bias" : "no bias");
    Exec ex = cpu_exec();
    Arena arena;
    Graph g(ex, arena);
    // Inputs scaled so pre-activations reach both tails of the GELU.
    OwnedTensor x = random_f32({2, 9, 13}, 1, -2.0, 2.0), w = random_f32({20, 13}, 2), b = random_f32({20}, 3);
    Var xs[2] = {g.input(x.tensor(), true), g.input(x.tensor(), true)};
    Var ws[2] = {g.input(w.tensor(), true), g.input(w.tensor(), true)};
    Var bs[2] = {g.input(b.tensor(), true), g.input(b.tensor(), true)};
    Var fused = ops::linear_gelu(g, xs[0], ws[0], with_bias ? bs[0] : nullptr);
    Var composite = ops::gelu_tanh(g, ops::linear(g, xs[1], ws[1], with_bias ? bs[1] : nullptr));
    ASSERT_EQ(fused->value.shape, composite->value.shape);
    OwnedTensor seed = random_f32({2, 9, 20}, 4);
    g.backward({fused, composite}, {seed.tensor(), seed.tensor()});
    auto same = [](const Tensor& a, const Tensor& b, const char* what) {
      auto av = to_host_doubles(a), bv = to_host_doubles(b);
      ASSERT_EQ(av.size(), bv.size()) << what;
      for (size_t i = 0; i < av.size(); ++i) ASSERT_EQ(av[i], bv[i]) << what << " [" << i << "]";
    };
    same(fused->value, composite->value, "out");
    same(xs[0]->grad, xs[1]->grad, "dx");
    same(ws[0]->grad, ws[1]->grad, "dw");
    if (with_bias) same(bs[0]->grad, bs[1]->grad, "dbias");
  }
}

TEST(MatmulErrors, NameTheOpAndShapes) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor a = random_f32({3, 4}, 1), b = random_f32({5, 6}, 2);
  try {
    ops::matmul(g, g.constant(a), g.constant(b));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[matmul] inner dims differ: (3, 4) @ (5, 6)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weft::test
