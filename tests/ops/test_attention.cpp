// Attention: fp64 gradient checks (causal and not, no bias, ALiBi slopes, a Sandwich-like table, odd T,
// NH, HS) and an f32 check against softmax(scale Q K^T + materialised bias and mask) V built from
// transpose12 + matmul + add + softmax, for values and gradients.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

struct BiasSetup {
  PositionBias bias;
  std::vector<float> slopes, table;
};

BiasSetup make_bias(PositionBias::Kind kind, int64_t NH, int64_t T) {
  BiasSetup s;
  s.bias.kind = kind;
  for (int64_t h = 0; h < NH; ++h) s.slopes.push_back(std::pow(2.0f, -static_cast<float>(h + 1)));
  for (int64_t d = 0; d < T; ++d) s.table.push_back(-std::log1p(static_cast<float>(d)) * 2.0f);
  return s;
}

void bind(BiasSetup& s) {
  s.bias.slopes = s.slopes.data();
  s.bias.table = s.table.data();
  s.bias.table_len = static_cast<int64_t>(s.table.size());
}

struct Case {
  int64_t B, T, NH, HS;
  PositionBias::Kind kind;
  bool causal;
};

class AttentionGrad : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionGrad, Fp64FiniteDifference) {
  Case c = GetParam();
  BiasSetup bias = make_bias(c.kind, c.NH, c.T);
  bind(bias);
  std::vector<GradInput> in;
  for (int i = 0; i < 3; ++i) in.push_back({random_f64({c.B, c.T, c.NH, c.HS}, 10 + i, -1.5, 1.5), true});
  auto r = gradcheck(in, [&](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::attention(g, v[0], v[1], v[2], bias.bias, 0.0f, c.causal)};
  });
  EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionGrad,
    ::testing::Values(Case{1, 1, 1, 1, PositionBias::Kind::none, true}, Case{2, 3, 3, 4, PositionBias::Kind::none, true},
                      Case{1, 7, 1, 8, PositionBias::Kind::none, false},
                      Case{2, 7, 3, 4, PositionBias::Kind::alibi, true},
                      Case{1, 33, 1, 4, PositionBias::Kind::alibi, true},
                      Case{1, 7, 3, 8, PositionBias::Kind::table, true},
                      Case{2, 3, 1, 1, PositionBias::Kind::table, false}));

TEST(AttentionFused, MatchesComposedMatmulSoftmax) {
  const int64_t B = 2, T = 9, NH = 3, HS = 8;
  for (PositionBias::Kind kind : {PositionBias::Kind::none, PositionBias::Kind::alibi, PositionBias::Kind::table}) {
    BiasSetup bias = make_bias(kind, NH, T);
    bind(bias);
    // The bias and the causal mask as a (B, NH, T, T) constant, for the composite only.
    OwnedTensor mask(DType::f32, {B, NH, T, T});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h)
        for (int64_t i = 0; i < T; ++i)
          for (int64_t j = 0; j < T; ++j)
            mask.ptr<float>()[((b * NH + h) * T + i) * T + j] = j > i ? -1e30f : bias.bias(h, i, j);
    Exec ex = cpu_exec();
    Arena arena;
    Graph g(ex, arena);
    std::vector<OwnedTensor> qkv;
    for (int i = 0; i < 3; ++i) qkv.push_back(random_f32({B, T, NH, HS}, 20 + i, -1.5, 1.5));
    std::vector<Var> a, c;
    for (auto& t : qkv) {
      a.push_back(g.input(t, true));
      c.push_back(g.input(t, true));
    }
    Var fused = ops::attention(g, a[0], a[1], a[2], bias.bias);
    Var q = ops::transpose12(g, c[0]), k = ops::transpose12(g, c[1]), v = ops::transpose12(g, c[2]);  // (B, NH, T, HS)
    Var scores = ops::add(g, ops::scale(g, ops::matmul(g, q, k, false, true), 1.0f / std::sqrt(float(HS))),
                          g.constant(mask));
    Var composite = ops::transpose12(g, ops::matmul(g, ops::softmax(g, scores), v));  // (B, T, NH, HS)
    OwnedTensor seed = random_f32({B, T, NH, HS}, 30);
    g.backward({fused, composite}, {seed.tensor(), seed.tensor()});
    auto fv = to_host_doubles(fused->value), cv = to_host_doubles(composite->value);
    for (size_t i = 0; i < fv.size(); ++i) ASSERT_NEAR(fv[i], cv[i], 1e-5 * (1 + std::fabs(cv[i])));
    for (int k2 = 0; k2 < 3; ++k2) {
      auto ga = to_host_doubles(a[k2]->grad), gc = to_host_doubles(c[k2]->grad);
      for (size_t i = 0; i < ga.size(); ++i) ASSERT_NEAR(ga[i], gc[i], 1e-5 * (1 + std::fabs(gc[i]))) << "input " << k2;
    }
  }
}

TEST(AttentionErrors, TableTooShortAndShapeMismatch) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor q = random_f32({1, 5, 2, 4}, 1), k = random_f32({1, 4, 2, 4}, 2);
  EXPECT_THROW(ops::attention(g, g.constant(q), g.constant(k), g.constant(k)), Error);
  BiasSetup bias = make_bias(PositionBias::Kind::table, 2, 3);
  bind(bias);
  try {
    ops::attention(g, g.constant(q), g.constant(q), g.constant(q), bias.bias);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("covers 3 distances but the sequence has 5"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weft::test
