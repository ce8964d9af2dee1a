// matmul / linear: fp64 gradient checks on odd shapes, every transpose combination, batched and
// shared-B forms; f32 check of the fused linear against matmul + broadcast add.
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
