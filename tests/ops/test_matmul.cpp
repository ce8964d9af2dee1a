// matmul / linear / linear_gelu: fp64 gradient checks on the cases of tests/cases/matmul_cases.h (every
// transpose combination, batched and shared-B forms; linear and linear_gelu each with and without bias);
// f32 checks of the fused linear against matmul + broadcast add and of linear_gelu against gelu_tanh(linear)
// (bit-identical on the CPU, gradients included).
#include <gtest/gtest.h>

#include "tests/cases/matmul_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

constexpr double kTol = 1e-6;

Shape shape_of(const cases::Dims& d) { return Shape::from(d.d, d.d + d.rank); }
Shape x_shape(const cases::LinearCase& c) { return c.lead > 1 ? Shape{c.lead, c.N, c.C} : Shape{c.N, c.C}; }

TEST(MatmulGrad, EveryCase) {
  for (const cases::MatmulCase& c : cases::kMatmulCases) {
    if (!cases::runs_in(c.runners, cases::kGradcheck)) continue;
    std::vector<GradInput> in;
    in.push_back({random_f64(shape_of(c.a), 1), true});
    in.push_back({random_f64(shape_of(c.b), 2), true});
    auto r = gradcheck(in, [&c](Graph& g, const std::vector<Var>& v) {
      return std::vector<Var>{ops::matmul(g, v[0], v[1], c.ta, c.tb)};
    });
    EXPECT_LT(r.max_rel_error, kTol) << cases::describe(c) << "\n" << r.report;
  }
}

// linear (fused = false) or linear_gelu (fused = true) on every case, with and without bias.
void check_linear(bool gelu, uint64_t seed) {
  for (const cases::LinearCase& c : cases::kLinearCases)
    for (bool with_bias : cases::kLinearBias) {
      if (!cases::runs_in(c.runners, cases::kGradcheck)) continue;
      std::vector<GradInput> in;
      in.push_back({random_f64(x_shape(c), seed), true});
      in.push_back({random_f64({c.OC, c.C}, seed + 1), true});
      if (with_bias) in.push_back({random_f64({c.OC}, seed + 2), true});
      auto r = gradcheck(in, [gelu, with_bias](Graph& g, const std::vector<Var>& v) {
        Var b = with_bias ? v[2] : nullptr;
        return std::vector<Var>{gelu ? ops::linear_gelu(g, v[0], v[1], b) : ops::linear(g, v[0], v[1], b)};
      });
      EXPECT_LT(r.max_rel_error, kTol) << (gelu ? "linear_gelu " : "linear ") << cases::describe(c, with_bias)
                                       << "\n" << r.report;
    }
}

TEST(LinearGrad, EveryCaseWithAndWithoutBias) { check_linear(false, 3); }

TEST(LinearGeluGrad, EveryCaseWithAndWithoutBias) { check_linear(true, 8); }

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

// On the CPU the fused op runs the kernels of linear then gelu_tanh: outputs and gradients are bit-identical.
TEST(LinearGeluFused, EqualsGeluOfLinearExactly) {
  for (bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias ? "bias" : "no bias");
    Exec ex = cpu_exec();
    Arena arena;
    Graph g(ex, arena);
    // Inputs scaled so pre-activations reach both tails of the GELU.
    // 37 outputs: the vectorised epilogue's full vectors and its scalar tail.
    OwnedTensor x = random_f32({2, 9, 13}, 1, -2.0, 2.0), w = random_f32({37, 13}, 2), b = random_f32({37}, 3);
    Var xs[2] = {g.input(x.tensor(), true), g.input(x.tensor(), true)};
    Var ws[2] = {g.input(w.tensor(), true), g.input(w.tensor(), true)};
    Var bs[2] = {g.input(b.tensor(), true), g.input(b.tensor(), true)};
    Var fused = ops::linear_gelu(g, xs[0], ws[0], with_bias ? bs[0] : nullptr);
    Var composite = ops::gelu_tanh(g, ops::linear(g, xs[1], ws[1], with_bias ? bs[1] : nullptr));
    ASSERT_EQ(fused->value.shape, composite->value.shape);
    OwnedTensor seed = random_f32({2, 9, 37}, 4);
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
