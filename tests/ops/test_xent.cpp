// Fused cross-entropy: fp64 gradient checks (ignored rows, explicit normaliser), the all-ignored batch,
// an f32 check against -mean(log softmax) gathered with a one-hot mask, and target range errors.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

TEST(CrossEntropyGrad, IgnoreIndexAndNormalizer) {
  for (auto [N, V] : {std::pair{1, 1}, {3, 7}, {7, 33}})
    for (float norm : {0.0f, 10.0f}) {
      OwnedTensor targets = random_ids({N}, 2, V);
      if (N > 1) targets.ptr<int32_t>()[1] = -100;
      std::vector<GradInput> in;
      in.push_back({random_f64({N, V}, 1, -3, 3), true});
      in.push_back({std::move(targets), false});
      auto r = gradcheck(in, [norm](Graph& g, const std::vector<Var>& v) {
        return std::vector<Var>{ops::cross_entropy(g, v[0], v[1], -100, norm)};
      });
      EXPECT_LT(r.max_rel_error, 1e-6) << N << "x" << V << " norm " << norm << "\n" << r.report;
    }
}

TEST(CrossEntropy, AllIgnoredGivesZeroLossAndGradient) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor logits = random_f32({3, 5}, 1);
  OwnedTensor targets = from_values(DType::i32, {3}, {-100, -100, -100});
  Var x = g.input(logits, true);
  Var loss = ops::cross_entropy(g, x, g.constant(targets));
  EXPECT_EQ(to_host_doubles(loss->value)[0], 0.0);
  g.backward(loss);
  for (double v : to_host_doubles(x->grad)) EXPECT_EQ(v, 0.0);
}

TEST(CrossEntropyFused, MatchesLogSoftmaxGather) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  const int N = 6, V = 11;
  OwnedTensor logits = random_f32({N, V}, 3, -4, 4);
  OwnedTensor targets = random_ids({N}, 4, V);
  OwnedTensor onehot(DType::f32, {N, V});
  for (int r = 0; r < N; ++r) onehot.ptr<float>()[r * V + targets.ptr<int32_t>()[r]] = 1.0f;
  Var a = g.input(logits, true), b = g.input(logits, true);
  Var fused = ops::cross_entropy(g, a, g.constant(targets));
  Var logp = ops::unary(g, UnaryOp::log, ops::softmax(g, b));
  Var composite = ops::scale(g, ops::sum_all(g, ops::mul(g, logp, g.constant(onehot))), -1.0f / N);
  OwnedTensor one = from_values(DType::f32, {1}, {1.0});
  g.backward({fused, composite}, {one.tensor(), one.tensor()});  // one reverse pass seeds both
  EXPECT_NEAR(to_host_doubles(fused->value)[0], to_host_doubles(composite->value)[0], 1e-5);
  auto ga = to_host_doubles(a->grad), gb = to_host_doubles(b->grad);
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-5);
}

TEST(CrossEntropyErrors, TargetOutsideVocabularyNamesTheRow) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor logits = random_f32({3, 5}, 1);
  OwnedTensor targets = from_values(DType::i32, {3}, {0, 7, 1});
  try {
    ops::cross_entropy(g, g.constant(logits), g.constant(targets));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target 7 at row 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weft::test
