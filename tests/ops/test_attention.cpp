// Attention: fp64 gradient checks on the cases of tests/cases/attention_cases.h (causal and not, no bias,
// ALiBi slopes, a Sandwich-like table, odd T, NH, HS, more than one query block, the CUDA head sizes and the
// ones CUDA pads (1, 6, 24, 40, 41, 82, 100) at short lengths), an f32 check against softmax(scale Q K^T + materialised bias and
// mask) V built from transpose12 + matmul + add + softmax (values and gradients), thread-count
// independence, and shape and bias errors that name the op. Memory (Transformer-XL) cases, Tk > Tq: the
// gradient check, the composite with an offset mask, and the tail of full self-attention over Tk positions.
// Windows (bias.window): the gradient check on kAttentionWindowCases, the composite with a windowed mask, a
// naive fp64 reference (explicit masked softmax over loops), W >= Tk equal to no window, and the errors.
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
  BiasSetup bias = make_bias(static_cast<K>(c.bias), c.NH, c.keys());
  bind(bias);
  bias.bias.window = c.window;
  std::vector<GradInput> in;
  for (int i = 0; i < 3; ++i)
    in.push_back({random_f64({c.B, i == 0 ? c.T : c.keys(), c.NH, c.HS}, 10 + i, -1.5, 1.5), (c.grads >> i & 1) != 0});
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

TEST(AttentionGrad, MemoryCases) {
  for (const cases::AttentionCase& c : cases::kAttentionMemoryCases)
    if (cases::runs_in(c.runners, cases::kGradcheck)) check_case(c);
}

TEST(AttentionGrad, WindowCases) {
  for (const cases::AttentionCase& c : cases::kAttentionWindowCases)
    if (cases::runs_in(c.runners, cases::kGradcheck)) check_case(c);
}

TEST(AttentionGrad, CudaGridCases) {
  for (const cases::AttentionCase& c : cases::kAttentionGridCases)
    if (cases::runs_in(c.runners, cases::kGradcheck)) check_case(c);
}

// Values and gradients of the fused op and of the composite on the same f32 inputs.
void expect_fused_matches_composite(int64_t B, int64_t T, int64_t NH, int64_t HS, PositionBias::Kind kind,
                                    bool causal, int64_t mem = 0, int64_t window = 0) {
  SCOPED_TRACE(::testing::Message() << "T " << T << " kind " << int(kind) << " causal " << causal << " mem " << mem
                                    << " window " << window);
  const int64_t Tk = T + mem;
  BiasSetup bias = make_bias(kind, NH, Tk);
  bind(bias);
  bias.bias.window = window;
  // The bias, causal mask and window as a (B, NH, T, Tk) constant, for the composite only; query i at i + mem.
  OwnedTensor mask(DType::f32, {B, NH, T, Tk});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < Tk; ++j)
          mask.ptr<float>()[((b * NH + h) * T + i) * Tk + j] =
              (causal && j > i + mem) || (window > 0 && i + mem - j >= window) ? -1e30f : bias.bias(h, i + mem, j);
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  std::vector<OwnedTensor> qkv;
  for (int i = 0; i < 3; ++i) qkv.push_back(random_f32({B, i == 0 ? T : Tk, NH, HS}, 20 + i, -1.5, 1.5));
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
      expect_fused_matches_composite(2, 9, 3, 8, kind, causal, 5);
      expect_fused_matches_composite(1, 70, 2, 4, kind, causal, 67);
    }
  for (PositionBias::Kind kind : {K::none, K::alibi, K::table}) {  // windows: W 1, W < T, memory, two blocks
    expect_fused_matches_composite(2, 9, 3, 8, kind, true, 0, 1);
    expect_fused_matches_composite(2, 9, 3, 8, kind, true, 0, 4);
    expect_fused_matches_composite(2, 9, 3, 8, kind, true, 5, 3);
    expect_fused_matches_composite(1, 70, 2, 4, kind, true, 0, 20);
    expect_fused_matches_composite(1, 70, 2, 4, kind, true, 67, 90);
  }
}

// The naive definition in fp64, with loops: for query i (position p = i + Tk - Tq), head h, the keys
// j <= p with p - j < W get weights softmax_j(scale q_i . k_j + bias(h, p, j)); out_i = sum_j w_j v_j.
std::vector<double> naive_windowed_attention(const std::vector<double>& q, const std::vector<double>& k,
                                             const std::vector<double>& v, int64_t B, int64_t Tq, int64_t Tk,
                                             int64_t NH, int64_t HS, const PositionBias& bias) {
  std::vector<double> out(B * Tq * NH * HS, 0.0);
  const double scale = 1.0f / std::sqrt(float(HS));  // the op's default scale is a float
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t p = i + Tk - Tq;
        std::vector<double> s(Tk, -INFINITY);
        double mx = -INFINITY;
        for (int64_t j = 0; j <= p; ++j) {
          if (p - j >= bias.window) continue;  // outside the window: -inf, weight 0
          double dot = 0.0;
          for (int64_t d = 0; d < HS; ++d)
            dot += q[((b * Tq + i) * NH + h) * HS + d] * k[((b * Tk + j) * NH + h) * HS + d];
          s[j] = scale * dot + bias(h, p, j);
          mx = std::max(mx, s[j]);
        }
        double sum = 0.0;
        for (int64_t j = 0; j < Tk; ++j) sum += s[j] == -INFINITY ? 0.0 : std::exp(s[j] - mx);
        for (int64_t j = 0; j < Tk; ++j) {
          if (s[j] == -INFINITY) continue;
          const double w = std::exp(s[j] - mx) / sum;
          for (int64_t d = 0; d < HS; ++d) out[((b * Tq + i) * NH + h) * HS + d] += w * v[((b * Tk + j) * NH + h) * HS + d];
        }
      }
  return out;
}

TEST(AttentionWindow, MatchesNaiveMaskedSoftmax) {
  struct Shape5 {
    int64_t B, Tq, mem, NH, HS, W;
  };
  for (PositionBias::Kind kind : {K::none, K::alibi, K::table})
    for (Shape5 s : {Shape5{2, 9, 0, 3, 5, 1}, Shape5{2, 9, 0, 3, 5, 4}, Shape5{1, 70, 0, 2, 4, 7},
                     Shape5{2, 6, 4, 2, 3, 3}, Shape5{1, 5, 30, 1, 4, 10}}) {
      SCOPED_TRACE(::testing::Message() << "kind " << int(kind) << " Tq " << s.Tq << " mem " << s.mem << " W " << s.W);
      const int64_t Tk = s.Tq + s.mem;
      BiasSetup bias = make_bias(kind, s.NH, Tk);
      bind(bias);
      bias.bias.window = s.W;
      OwnedTensor q = random_f64({s.B, s.Tq, s.NH, s.HS}, 80, -1.5, 1.5), k = random_f64({s.B, Tk, s.NH, s.HS}, 81, -1.5, 1.5),
                  v = random_f64({s.B, Tk, s.NH, s.HS}, 82, -1.5, 1.5);
      Exec ex = cpu_exec();
      Arena arena;
      Graph g(ex, arena);
      Var out = ops::attention(g, g.constant(q), g.constant(k), g.constant(v), bias.bias);
      const auto got = to_host_doubles(out->value);
      const auto want = naive_windowed_attention(to_host_doubles(q.tensor()), to_host_doubles(k.tensor()),
                                                 to_host_doubles(v.tensor()), s.B, s.Tq, Tk, s.NH, s.HS, bias.bias);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-12 * (1 + std::fabs(want[i]))) << i;
      // The window changes the result (the test would catch a kernel that ignored it): W < Tk.
      bias.bias.window = 0;
      const auto full = to_host_doubles(ops::attention(g, g.constant(q), g.constant(k), g.constant(v), bias.bias)->value);
      double diff = 0.0;
      for (size_t i = 0; i < got.size(); ++i) diff = std::max(diff, std::fabs(full[i] - got[i]));
      EXPECT_GT(diff, 1e-3);
    }
}

// W >= Tk hides nothing: output and gradients are bitwise those without a window.
TEST(AttentionWindow, WindowOfAtLeastTheKeysEqualsNoWindow) {
  const int64_t B = 2, Tq = 70, mem = 5, Tk = Tq + mem, NH = 2, HS = 8;
  for (int64_t W : {Tk, Tk + 1, int64_t(1000)}) {
    BiasSetup bias = make_bias(K::alibi, NH, Tk);
    bind(bias);
    OwnedTensor q = random_f32({B, Tq, NH, HS}, 90), k = random_f32({B, Tk, NH, HS}, 91),
                v = random_f32({B, Tk, NH, HS}, 92), seed = random_f32({B, Tq, NH, HS}, 93);
    std::vector<std::vector<double>> runs[2];
    for (int windowed : {0, 1}) {
      Exec ex = cpu_exec();
      Arena arena;
      Graph g(ex, arena);
      std::vector<Var> in = {g.input(q, true), g.input(k, true), g.input(v, true)};
      bias.bias.window = windowed ? W : 0;
      Var out = ops::attention(g, in[0], in[1], in[2], bias.bias);
      g.backward({out}, {seed.tensor()});
      runs[windowed].push_back(to_host_doubles(out->value));
      for (Var x : in) runs[windowed].push_back(to_host_doubles(x->grad));
    }
    for (size_t t = 0; t < runs[0].size(); ++t) EXPECT_EQ(runs[0][t], runs[1][t]) << "W " << W << " tensor " << t;
  }
}

// With a memory of Tk - Tq keys, the queries are the last Tq rows of self-attention over Tk positions: the
// op's output and its dk, dv equal those of the full causal attention whose first rows get no cotangent.
TEST(AttentionMemory, EqualsTheTailOfFullSelfAttention) {
  const int64_t B = 2, Tq = 70, mem = 75, Tk = Tq + mem, NH = 2, HS = 8;
  for (PositionBias::Kind kind : {K::none, K::alibi, K::table}) {
    SCOPED_TRACE(::testing::Message() << "kind " << int(kind));
    BiasSetup bias = make_bias(kind, NH, Tk);
    bind(bias);
    OwnedTensor qfull = random_f32({B, Tk, NH, HS}, 50, -1.5, 1.5), k = random_f32({B, Tk, NH, HS}, 51, -1.5, 1.5),
                v = random_f32({B, Tk, NH, HS}, 52, -1.5, 1.5), seed = random_f32({B, Tq, NH, HS}, 53);
    Exec ex = cpu_exec();
    Arena arena;
    Graph g(ex, arena);
    Var qf = g.input(qfull, true), k1 = g.input(k, true), v1 = g.input(v, true), k2 = g.input(k, true),
        v2 = g.input(v, true);
    Var full = ops::attention(g, qf, k1, v1, bias.bias);                        // (B, Tk, NH, HS)
    Var tail = ops::split(g, full, {mem, Tq}, 1)[1];                           // its last Tq rows
    Var q_tail = g.constant(ops::split(g, g.constant(qfull), {mem, Tq}, 1)[1]->value);
    Var with_memory = ops::attention(g, q_tail, k2, v2, bias.bias);            // (B, Tq, NH, HS)
    g.backward({tail, with_memory}, {seed.tensor(), seed.tensor()});
    auto a = to_host_doubles(tail->value), b = to_host_doubles(with_memory->value);
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5 * (1 + std::fabs(a[i]))) << "output " << i;
    for (auto [x, y] : {std::pair{k1, k2}, std::pair{v1, v2}}) {
      auto gx = to_host_doubles(x->grad), gy = to_host_doubles(y->grad);
      for (size_t i = 0; i < gx.size(); ++i) ASSERT_NEAR(gx[i], gy[i], 1e-5 * (1 + std::fabs(gx[i]))) << "grad " << i;
    }
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
  EXPECT_NE(e.find("[attention] shape mismatch: (1, 5, 2, 4) vs (1, 4, 2, 4) (k and v must be (B, Tk, NH, HS) "
                   "with Tk >= Tq)"),
            std::string::npos)
      << e;  // fewer keys than queries
  OwnedTensor k7 = random_f32({1, 7, 2, 4}, 4), v6 = random_f32({1, 6, 2, 4}, 5);
  e = error_of([&] { ops::attention(g, g.constant(q), g.constant(k7), g.constant(v6)); });
  EXPECT_NE(e.find("[attention] shape mismatch: (1, 7, 2, 4) vs (1, 6, 2, 4)"), std::string::npos) << e;
  BiasSetup short_table = make_bias(K::table, 2, 4);  // 7 distances, 7 keys: fine; 8 keys are not
  bind(short_table);
  OwnedTensor k8 = random_f32({1, 8, 2, 4}, 6);
  e = error_of([&] { ops::attention(g, g.constant(q), g.constant(k8), g.constant(k8), short_table.bias); });
  EXPECT_NE(e.find("[attention] the bias table covers 7 distances but the sequence has 8"), std::string::npos) << e;
  e = error_of([&] { ops::attention(g, g.constant(flat), g.constant(flat), g.constant(flat)); });
  EXPECT_NE(e.find("[attention] q must be float (B, T, NH, HS)"), std::string::npos) << e;
  BiasSetup bias = make_bias(K::table, 2, 1);  // 4 distances
  bind(bias);
  e = error_of([&] { ops::attention(g, g.constant(q), g.constant(q), g.constant(q), bias.bias); });
  EXPECT_NE(e.find("[attention] the bias table covers 4 distances but the sequence has 5"), std::string::npos) << e;
  PositionBias windowed;
  windowed.window = -1;
  e = error_of([&] { ops::attention(g, g.constant(q), g.constant(q), g.constant(q), windowed); });
  EXPECT_NE(e.find("[attention] the window must be >= 0 (0: none), got -1"), std::string::npos) << e;
  windowed.window = 3;
  e = error_of([&] { ops::attention(g, g.constant(q), g.constant(q), g.constant(q), windowed, 0.0f, false); });
  EXPECT_NE(e.find("[attention] a window (3) needs the causal mask"), std::string::npos) << e;
  PositionBias no_slopes;
  no_slopes.kind = K::alibi;
  e = error_of([&] { ops::attention(g, g.constant(q), g.constant(q), g.constant(q), no_slopes); });
  EXPECT_NE(e.find("[attention] the positional bias has no per-head slopes"), std::string::npos) << e;
}

}  // namespace
}  // namespace weft::test
