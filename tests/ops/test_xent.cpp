// Fused cross-entropy: fp64 gradient checks on the cases of tests/cases/xent_cases.h (ignored rows, each
// ignore_index and normaliser) and with fixed targets and an ignore_index inside the vocabulary, the loss
// value against a direct formula, the gradient through a view and onto an existing one, the all-ignored
// batch, an f32 check against -sum(one-hot * log softmax) / count from basic ops, and target range and shape
// errors.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cases/xent_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

// The cases of tests/cases/xent_cases.h, each ignore_index and normaliser.
TEST(CrossEntropyGrad, EveryCaseIgnoreIndexAndNormalizer) {
  for (const cases::XentCase& c : cases::kXentCases)
    for (int32_t ignore : cases::kXentIgnoreIndices)
      for (float norm : cases::kXentNormalizers) {
        if (!cases::runs_in(c.runners, cases::kGradcheck) || c.shift) continue;
        OwnedTensor targets(DType::i32, {c.N});
        for (int64_t r = 0; r < c.N; ++r) targets.ptr<int32_t>()[r] = cases::xent_target(r, c.V, ignore);
        std::vector<GradInput> in;
        in.push_back({random_f64({c.N, c.V}, 1, -3, 3), true});
        in.push_back({std::move(targets), false});
        auto r = gradcheck(in, [ignore, norm](Graph& g, const std::vector<Var>& v) {
          return std::vector<Var>{ops::cross_entropy(g, v[0], v[1], ignore, norm)};
        });
        EXPECT_LT(r.max_rel_error, 1e-6) << cases::describe(c, ignore, norm) << "\n" << r.report;
      }
}

TEST(CrossEntropyGrad, IgnoreIndexInsideVocabulary) {
  OwnedTensor targets = from_values(DType::i32, {7}, {0, 2, 1, 2, 4, 0, 3});  // class 2 is ignored
  std::vector<GradInput> in;
  in.push_back({random_f64({7, 5}, 3, -3, 3), true});
  in.push_back({std::move(targets), false});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::cross_entropy(g, v[0], v[1], 2)};
  });
  EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
}

// The forward writes the logits' gradient; the backward hands it over through a reshape view, scaled by the
// checker's random cotangent, or adds it to a gradient the logits already hold (a second use recorded after
// the loss runs its backward first).
TEST(CrossEntropyGrad, ThroughAViewAndOntoAnExistingGradient) {
  for (bool used_after : {false, true}) {
    std::vector<GradInput> in;
    in.push_back({random_f64({2, 3, 5}, 7, -3, 3), true});
    in.push_back({from_values(DType::i32, {6}, {0, 4, -100, 2, 1, 3}), false});
    in.push_back({random_f64({2, 3, 5}, 8), false});
    auto r = gradcheck(in, [used_after](Graph& g, const std::vector<Var>& v) {
      Var ce = ops::cross_entropy(g, ops::reshape(g, v[0], {6, 5}), v[1]);
      if (!used_after) return std::vector<Var>{ce};
      return std::vector<Var>{ce, ops::sum_all(g, ops::mul(g, v[0], v[2]))};
    });
    EXPECT_LT(r.max_rel_error, 1e-6) << (used_after ? "with a second use\n" : "alone\n") << r.report;
  }
}

// sum over counted rows of logsumexp(row) - row[target], in double.
double reference_loss_sum(const std::vector<double>& x, const std::vector<int32_t>& t, int V, int32_t ignore) {
  double s = 0;
  for (size_t r = 0; r < t.size(); ++r) {
    if (t[r] == ignore) continue;
    double m = -1e300, e = 0;
    for (int v = 0; v < V; ++v) m = std::max(m, x[r * V + v]);
    for (int v = 0; v < V; ++v) e += std::exp(x[r * V + v] - m);
    s += m + std::log(e) - x[r * V + t[r]];
  }
  return s;
}

TEST(CrossEntropy, ValueIsSumOverCountOrNormalizer) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor logits = random_f64({7, 3}, 5, -3, 3);
  std::vector<int32_t> t = {0, -100, 2, 1, -100, 2, 0};  // 5 counted rows
  OwnedTensor targets = from_values(DType::i32, {7}, {0, -100, 2, 1, -100, 2, 0});
  double sum = reference_loss_sum(to_host_doubles(logits), t, 3, -100);
  double by_count = to_host_doubles(ops::cross_entropy(g, g.constant(logits), g.constant(targets))->value)[0];
  double by_norm =
      to_host_doubles(ops::cross_entropy(g, g.constant(logits), g.constant(targets), -100, 16.0f)->value)[0];
  EXPECT_NEAR(by_count, sum / 5, 1e-7 * sum);  // inv_norm travels as a float
  EXPECT_NEAR(by_norm, sum / 16, 1e-12 * sum);
}

TEST(CrossEntropy, AllIgnoredGivesZeroLossAndGradient) {
  for (float norm : {0.0f, 4.0f}) {
    Exec ex = cpu_exec();
    Arena arena;
    Graph g(ex, arena);
    OwnedTensor logits = random_f32({3, 5}, 1);
    OwnedTensor targets = from_values(DType::i32, {3}, {-100, -100, -100});
    Var x = g.input(logits, true);
    Var loss = ops::cross_entropy(g, x, g.constant(targets), -100, norm);
    EXPECT_EQ(to_host_doubles(loss->value)[0], 0.0) << "normalizer " << norm;
    g.backward(loss);
    for (double v : to_host_doubles(x->grad)) EXPECT_EQ(v, 0.0) << "normalizer " << norm;
  }
}

TEST(CrossEntropyFused, MatchesLogSoftmaxGather) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  const int N = 7, V = 33;
  OwnedTensor logits = random_f32({N, V}, 3, -4, 4);
  OwnedTensor targets = random_ids({N}, 4, V);
  targets.ptr<int32_t>()[2] = -100;  // ignored: a zero one-hot row, and not counted
  OwnedTensor onehot(DType::f32, {N, V});
  int counted = 0;
  for (int r = 0; r < N; ++r) {
    int32_t t = targets.ptr<int32_t>()[r];
    if (t == -100) continue;
    onehot.ptr<float>()[r * V + t] = 1.0f;
    ++counted;
  }
  Var a = g.input(logits, true), b = g.input(logits, true);
  Var fused = ops::cross_entropy(g, a, g.constant(targets));
  Var logp = ops::unary(g, UnaryOp::log, ops::softmax(g, b));
  Var composite = ops::scale(g, ops::sum_all(g, ops::mul(g, logp, g.constant(onehot))), -1.0f / counted);
  OwnedTensor one = from_values(DType::f32, {1}, {1.0});
  g.backward({fused, composite}, {one.tensor(), one.tensor()});  // one reverse pass seeds both
  double fv = to_host_doubles(fused->value)[0], cv = to_host_doubles(composite->value)[0];
  EXPECT_NEAR(fv, cv, 1e-5 * (1 + std::fabs(cv)));
  auto ga = to_host_doubles(a->grad), gb = to_host_doubles(b->grad);
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-5 * (1 + std::fabs(gb[i]))) << i;
  for (int v = 0; v < V; ++v) EXPECT_EQ(ga[2 * V + v], 0.0) << "ignored row got a gradient";
}

TEST(CrossEntropyErrors, TargetOutsideVocabularyNamesTheRowAndValue) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor logits = random_f32({3, 5}, 1);
  OwnedTensor too_big = from_values(DType::i32, {3}, {0, 7, 1}), negative = from_values(DType::i32, {3}, {0, 1, -1});
  for (float norm : {0.0f, 3.0f}) {  // counted on the host, or checked by the kernel only
    std::string e1 = error_of([&] { ops::cross_entropy(g, g.constant(logits), g.constant(too_big), -100, norm); });
    EXPECT_NE(e1.find("[cross_entropy] target 7 at row 1"), std::string::npos) << e1;
    std::string e2 = error_of([&] { ops::cross_entropy(g, g.constant(logits), g.constant(negative), -100, norm); });
    EXPECT_NE(e2.find("target -1 at row 2"), std::string::npos) << e2;
  }
}

TEST(CrossEntropyErrors, ShapeMismatchNamesTheOp) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor logits = random_f32({3, 5}, 1), flat = random_f32({15}, 2);
  OwnedTensor targets = from_values(DType::i32, {4}, {0, 1, 2, 3}), ftargets(DType::f32, {3});
  EXPECT_NE(error_of([&] { ops::cross_entropy(g, g.constant(logits), g.constant(targets)); })
                .find("[cross_entropy] targets must be i32 (3), got i32(4)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::cross_entropy(g, g.constant(logits), g.constant(ftargets)); })
                .find("[cross_entropy] targets must be i32"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::cross_entropy(g, g.constant(flat), g.constant(targets)); })
                .find("[cross_entropy] logits must be float (N, V)"),
            std::string::npos);
}

}  // namespace
}  // namespace weft::test
