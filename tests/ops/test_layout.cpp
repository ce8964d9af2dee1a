// Layout ops: fp64 gradient checks of concat, split, transpose12 on the cases of tests/cases/layout_cases.h
// (odd shapes, every axis) and of reshape;
// values of concat, split, transpose12 (and of sum / mean, tests/ops/test_reduce.cpp's ops, on the same data).
#include <gtest/gtest.h>

#include "tests/cases/layout_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

constexpr double kTol = 1e-6;

Shape shape_of(const cases::Dims& d) { return Shape::from(d.d, d.d + d.rank); }

TEST(ConcatGrad, EveryCase) {
  for (const cases::ConcatCase& c : cases::kConcatCases) {
    if (!cases::runs_in(c.runners, cases::kGradcheck)) continue;
    Shape a = shape_of(c.a), b = a;
    b[c.axis] = c.b_len;
    std::vector<GradInput> in;
    in.push_back({random_f64(a, 1), true});
    in.push_back({random_f64(b, 2), true});
    const int axis = c.axis;
    auto r = gradcheck(in, [axis](Graph& g, const std::vector<Var>& v) {
      return std::vector<Var>{ops::concat(g, {v[0], v[1], v[0]}, axis)};  // v[0] used twice
    });
    EXPECT_LT(r.max_rel_error, kTol) << cases::describe(c) << "\n" << r.report;
  }
}

TEST(SplitGrad, EveryCase) {
  for (const cases::SplitCase& c : cases::kSplitCases) {
    if (!cases::runs_in(c.runners, cases::kGradcheck)) continue;
    std::vector<GradInput> in;
    in.push_back({random_f64(shape_of(c.x), 3), true});
    std::vector<int64_t> sizes;
    for (int64_t n : c.sizes)
      if (n) sizes.push_back(n);
    const int axis = c.axis;
    auto r = gradcheck(in, [&sizes, axis](Graph& g, const std::vector<Var>& v) { return ops::split(g, v[0], sizes, axis); });
    EXPECT_LT(r.max_rel_error, kTol) << cases::describe(c) << "\n" << r.report;
  }
}

TEST(Transpose12Grad, EveryCase) {
  for (const cases::Dims& d : cases::kTransposeCases) {
    std::vector<GradInput> in;
    in.push_back({random_f64(shape_of(d), 4), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::transpose12(g, v[0])}; });
    EXPECT_LT(r.max_rel_error, kTol) << cases::dims_str(d) << "\n" << r.report;
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
