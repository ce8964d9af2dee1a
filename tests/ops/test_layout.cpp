// Layout ops: fp64 gradient checks of reshape, concat, split, transpose12 on odd shapes and every axis;
// values of concat, split, transpose12 (and of sum / mean, tests/ops/test_reduce.cpp's ops, on the same data).
#include <gtest/gtest.h>

#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

constexpr double kTol = 1e-6;

TEST(ConcatGrad, EveryAxis) {
  for (int axis : {0, 1, 2, -1}) {
    std::vector<GradInput> in;
    Shape a{3, 7, 5}, b{3, 7, 5};
    int ax = axis < 0 ? 2 : axis;
    b.dims[ax] = 1;
    in.push_back({random_f64(a, 1), true});
    in.push_back({random_f64(b, 2), true});
    auto r = gradcheck(in, [axis](Graph& g, const std::vector<Var>& v) {
      return std::vector<Var>{ops::concat(g, {v[0], v[1], v[0]}, axis)};  // v[0] used twice
    });
    EXPECT_LT(r.max_rel_error, kTol) << "axis " << axis << "\n" << r.report;
  }
}

TEST(SplitGrad, EveryAxis) {
  for (int axis : {0, 1, 2}) {
    std::vector<GradInput> in;
    in.push_back({random_f64({7, 9, 33}, 3), true});
    std::vector<int64_t> sizes = axis == 0 ? std::vector<int64_t>{1, 3, 3}
                                 : axis == 1 ? std::vector<int64_t>{2, 7}
                                             : std::vector<int64_t>{1, 32};
    auto r = gradcheck(in, [&](Graph& g, const std::vector<Var>& v) { return ops::split(g, v[0], sizes, axis); });
    EXPECT_LT(r.max_rel_error, kTol) << "axis " << axis << "\n" << r.report;
  }
}

TEST(Transpose12Grad, Rank3And4) {
  for (Shape s : {Shape{3, 7, 5}, Shape{2, 3, 7, 4}, Shape{1, 1, 3, 1}}) {
    std::vector<GradInput> in;
    in.push_back({random_f64(s, 4), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::transpose12(g, v[0])}; });
    EXPECT_LT(r.max_rel_error, kTol) << s.str() << "\n" << r.report;
  }
}

TEST(ReshapeGrad, ViewSharesGradient) {
  std::vector<GradInput> in;
  in.push_back({random_f64({3, 14}, 5), true});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    Var r = ops::reshape(g, v[0], {6, 7});
    return std::vector<Var>{ops::mul(g, r, r)};
  });
  EXPECT_LT(r.max_rel_error, kTol) << r.report;
}

TEST(LayoutValues, ConcatSplitTransposeSum) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor a = from_values(DType::f32, {2, 2}, {1, 2, 3, 4}), b = from_values(DType::f32, {2, 1}, {5, 6});
  Var c = ops::concat(g, {g.constant(a), g.constant(b)}, 1);
  EXPECT_EQ(to_host_doubles(c->value), (std::vector<double>{1, 2, 5, 3, 4, 6}));
  auto parts = ops::split(g, c, {1, 2}, 1);
  EXPECT_EQ(to_host_doubles(parts[1]->value), (std::vector<double>{2, 5, 4, 6}));
  OwnedTensor t = from_values(DType::f32, {1, 2, 3, 1}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(to_host_doubles(ops::transpose12(g, g.constant(t))->value), (std::vector<double>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(to_host_doubles(ops::sum(g, g.constant(a), 0)->value), (std::vector<double>{4, 6}));
  EXPECT_EQ(to_host_doubles(ops::mean(g, g.constant(a), 1)->value), (std::vector<double>{1.5, 3.5}));
  EXPECT_THROW(ops::split(g, c, {1, 1}, 1), Error);
}

}  // namespace
}  // namespace weft::test
