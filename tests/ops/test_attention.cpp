// Attention: fp64 gradient checks on the cases of tests/cases/attention_cases.h (causal and not, no bias,
// ALiBi slopes, a Sandwich-like table, odd T, NH, HS, more than one query block, the CUDA head sizes and the
// ones CUDA pads (1, 6, 41, 82, 100) at short lengths), an f32 check against softmax(scale Q K^T + materialised bias and
// mask) V built from transpose12 + matmul + add + softmax (values and gradients), thread-count
// independence, and shape and bias errors that name the op.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cases/attention_cases.h"
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
  // Sandwich-like: a smooth decreasing function of the distance, longer than the sequence needs.
  for (int64_t d = 0; d < T + 3; ++d) s.table.push_back(-std::log1p(static_cast<float>(d)) * 2.0f);
  return s;
}

void bind(BiasSetup& s) {
  s.bias.slopes = s.slopes.data();
  s.bias.table = s.table.data();
  s.bias.table_len = static_cast<int64_t>(s.table.size());
}

using K = PositionBias::Kind;

void check_case(const cases::AttentionCase& c) {
  BiasSetup bias = make_bias(static_cast<K>(c.bias), c.NH, c.T);
  bind(bias);
  std::vector<GradInput> in;
  for (int i = 0; i < 3; ++i)
    in.push_back({random_f64({c.B, c.T, c.NH, c.HS}, 10 + i, -1.5, 1.5), (c.grads >> i & 1) != 0});
  auto r = gradcheck(in, [&](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::attention(g, v[0], v[1], v[2], bias.bias, 0.0f, c.causal)};
  });
  EXPECT_LT(r.max_rel_error, 1e-6) << cases::describe(c) << "\n" << r.report;
}

TEST(AttentionGrad, SmallCases) {
  for (const cases::AttentionCase& c : cases::kAttentionSmallCases)
    if (cases::runs_in(c.runners, cases::kGradcheck)) check_case(c);
}

TEST(AttentionGrad, OddHeadSizeCases) {
  for (const cases::AttentionCase& c : cases::kAttentionOddHeadCases)
    if (cases::runs_in(c.runners, cases::kGradcheck)) check_case(c);
}

TEST(AttentionGrad, CudaGridCases) {
  for (const cases::AttentionCase& c : cases::kAttentionGridCases)
    if (cases::runs_in(c.runners, cases::kGradcheck)) check_case(c);
}

// Values and gradients of the fused op and of the composite on the same f32 inputs.
void expect_fused_matches_composite(int64_t B, int64_t T, int64_t NH, int64_t HS, PositionBias::Kind kind,
                                    bool causal) {
  SCOPED_TRACE(::testing::Message() << "T " << T << " kind " << int(kind) << " causal " << causal);
  BiasSetup bias = make_bias(kind, NH, T);
  bind(bias);
  // The bias and the causal mask as a (B, NH, T, T) constant, for the composite only.
  OwnedTensor mask(DType::f32, {B, NH, T, T});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j)
          mask.ptr<float>()[((b * NH + h) * T + i) * T + j] = causal && j > i ? -1e30f : bias.bias(h, i, j);
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
  Var fused = ops::attention(g, a[0], a[1], a[2], bias.bias, 0.0f, causal);
  Var q = ops::transpose12(g, c[0]), k = ops::transpose12(g, c[1]), v = ops::transpose12(g, c[2]);  // (B, NH, T, HS)
  Var scores = ops::add(g, ops::scale(g, ops::matmul(g, q, k, false, true), 1.0f / std::sqrt(float(HS))),
                        g.constant(mask));                                                    // (B, NH, T, T)
  Var composite = ops::transpose12(g, ops::matmul(g, ops::softmax(g, scores), v));  // (B, T, NH, HS)
  OwnedTensor seed = random_f32({B, T, NH, HS}, 30);
  g.backward({fused, composite}, {seed.tensor(), seed.tensor()});
  auto fv = to_host_doubles(fused->value), cv = to_host_doubles(composite->value);
  for (size_t i = 0; i < fv.size(); ++i) ASSERT_NEAR(fv[i], cv[i], 1e-5 * (1 + std::fabs(cv[i]))) << "output " << i;
  for (int n = 0; n < 3; ++n) {
    auto ga = to_host_doubles(a[n]->grad), gc = to_host_doubles(c[n]->grad);
    for (size_t i = 0; i < ga.size(); ++i) ASSERT_NEAR(ga[i], gc[i], 1e-5 * (1 + std::fabs(gc[i]))) << "input " << n;
  }
}

TEST(AttentionFused, MatchesComposedMatmulSoftmax) {
  for (PositionBias::Kind kind : {K::none, K::alibi, K::table})
    for (bool causal : {true, false}) {
      expect_fused_matches_composite(2, 9, 3, 8, kind, causal);
      expect_fused_matches_composite(1, 70, 2, 4, kind, causal);  // two query blocks
    }
}

// Forward and backward with 1 and 2 threads give bitwise equal results.
TEST(Attention, ResultsDoNotDependOnThreadCount) {
  const int64_t B = 2, T = 100, NH = 2, HS = 16;
  BiasSetup bias = make_bias(K::alibi, NH, T);
  bind(bias);
  std::vector<OwnedTensor> qkv;
  for (int i = 0; i < 3; ++i) qkv.push_back(random_f32({B, T, NH, HS}, 40 + i));
  OwnedTensor seed = random_f32({B, T, NH, HS}, 44);
  std::vector<std::vector<double>> runs[2];
  for (int threads : {1, 2}) {
    Exec ex = cpu_exec(threads);
    Arena arena;
    Graph g(ex, arena);
    std::vector<Var> in;
    for (auto& t : qkv) in.push_back(g.input(t, true));
    Var out = ops::attention(g, in[0], in[1], in[2], bias.bias);
    g.backward({out}, {seed.tensor()});
    auto& r = runs[threads - 1];
    r.push_back(to_host_doubles(out->value));
    for (Var x : in) r.push_back(to_host_doubles(x->grad));
  }
  cpu_exec();  // restore the default BLAS thread count
  for (size_t k = 0; k < runs[0].size(); ++k) EXPECT_EQ(runs[0][k], runs[1][k]) << "tensor " << k;
}

TEST(AttentionErrors, ShapeMismatchAndBiasErrorsNameTheOp) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor q = random_f32({1, 5, 2, 4}, 1), k = random_f32({1, 4, 2, 4}, 2), flat = random_f32({5, 8}, 3);
  std::string e = error_of([&] { ops::attention(g, g.constant(q), g.constant(k), g.constant(q)); });
  EXPECT_NE(e.find("[attention] shape mismatch: (1, 5, 2, 4) vs (1, 4, 2, 4)"), std::string::npos) << e;
  e = error_of([&] { ops::attention(g, g.constant(flat), g.constant(flat), g.constant(flat)); });
  EXPECT_NE(e.find("[attention] q must be float (B, T, NH, HS)"), std::string::npos) << e;
  BiasSetup bias = make_bias(K::table, 2, 1);  // 4 distances
  bind(bias);
  e = error_of([&] { ops::attention(g, g.constant(q), g.constant(q), g.constant(q), bias.bias); });
  EXPECT_NE(e.find("[attention] the bias table covers 4 distances but the sequence has 5"), std::string::npos) << e;
  PositionBias no_slopes;
  no_slopes.kind = K::alibi;
  e = error_of([&] { ops::attention(g, g.constant(q), g.constant(q), g.constant(q), no_slopes); });
  EXPECT_NE(e.find("[attention] the positional bias has no per-head slopes"), std::string::npos) << e;
}

}  // namespace
}  // namespace weft::test
