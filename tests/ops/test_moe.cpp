// The moe family (ops::route_by_expert, ops::grouped_matmul; spec moeut.md A.10c) on the cases of
// tests/cases/moe_cases.h: fp64 finite-difference gradients (x and w, only x, only w); forward, input gradient
// and weight gradient against a naive per-row reference (each row times its expert's matrix), accumulated onto
// gradients that were not zero (an expert without rows keeps its gradient bit for bit), in f64 and f32; the
// route's order stable and its offsets right; an id out of range and mismatched shapes are errors naming the op.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/cases/moe_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

bool runs_here(const cases::MoeCase& c) { return cases::runs_in(c.runners, cases::kGradcheck); }

OwnedTensor expert_ids(const cases::MoeCase& c) {
  const std::vector<int32_t> ids = cases::case_experts(c);
  return from_values(DType::i32, {c.M}, std::vector<double>(ids.begin(), ids.end()));
}

// x (M, C) and w (E, C, O) differentiable or not.
void gradcheck_case(const cases::MoeCase& c, bool dx, bool dw) {
  std::vector<GradInput> in;
  in.push_back({random_f64({c.M, c.C}, 1), dx});
  in.push_back({random_f64({c.E, c.C, c.O}, 2), dw});
  in.push_back({expert_ids(c), false});
  const int64_t E = c.E;
  auto r = gradcheck(in, [E](Graph& g, const std::vector<Var>& v) {
    const ops::ExpertRoute route = ops::route_by_expert(g, v[2]->value, E);
    return std::vector<Var>{ops::grouped_matmul(g, v[0], v[1], route)};
  });
  EXPECT_LT(r.max_rel_error, 1e-6) << cases::describe(c) << (dx ? " dx" : "") << (dw ? " dw" : "") << "\n" << r.report;
}

TEST(MoeGrad, Fp64FiniteDifference) {
  for (const cases::MoeCase& c : cases::kMoeCases)
    if (runs_here(c)) gradcheck_case(c, true, true);
}

TEST(MoeGrad, Fp64FiniteDifferenceOnlyXOrOnlyW) {
  for (const cases::MoeCase& c : cases::kMoeCases)
    if (runs_here(c)) {
      gradcheck_case(c, true, false);
      gradcheck_case(c, false, true);
    }
}

// y = x[m] @ w[e], dx += dy w[e]^T, dw[e] += sum over the rows of e of x[m]^T dy[m], by plain loops in double;
// the op runs in dt (f64 or f32) onto prefilled gradients.
void expect_matches_naive_reference(const cases::MoeCase& c, DType dt) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c));
  const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  auto make = [dt](Shape s, uint64_t seed) { return dt == DType::f64 ? random_f64(s, seed) : random_f32(s, seed); };
  OwnedTensor x = make({c.M, c.C}, 3), w = make({c.E, c.C, c.O}, 4), dx = make({c.M, c.C}, 5),
              dw = make({c.E, c.C, c.O}, 6), dy = make({c.M, c.O}, 7), ids = expert_ids(c);
  const std::vector<double> X = to_host_doubles(x), Wv = to_host_doubles(w), DY = to_host_doubles(dy);
  std::vector<double> want_dx = to_host_doubles(dx), want_dw = to_host_doubles(dw);
  const std::vector<double> dw_before = want_dw;
  const std::vector<int32_t> e_of = cases::case_experts(c);
  std::vector<double> want_y(c.M * c.O, 0.0);
  for (int64_t m = 0; m < c.M; ++m) {
    const int64_t e = e_of[m];
    for (int64_t i = 0; i < c.C; ++i)
      for (int64_t o = 0; o < c.O; ++o) {
        const double wv = Wv[(e * c.C + i) * c.O + o];
        want_y[m * c.O + o] += X[m * c.C + i] * wv;
        want_dx[m * c.C + i] += DY[m * c.O + o] * wv;
        want_dw[(e * c.C + i) * c.O + o] += X[m * c.C + i] * DY[m * c.O + o];
      }
  }
  const ops::ExpertRoute route = ops::route_by_expert(g, ids, c.E);
  Var y = ops::grouped_matmul(g, g.leaf(x, dx), g.leaf(w, dw), route);
  ASSERT_EQ(y->value.shape, (Shape{c.M, c.O}));
  const std::vector<double> got_y = to_host_doubles(y->value);
  for (int64_t i = 0; i < c.M * c.O; ++i) ASSERT_NEAR(got_y[i], want_y[i], tol) << "y[" << i << "]";
  g.backward({y}, {dy.tensor()});
  const std::vector<double> got_dx = to_host_doubles(dx), got_dw = to_host_doubles(dw);
  for (int64_t i = 0; i < c.M * c.C; ++i) ASSERT_NEAR(got_dx[i], want_dx[i], tol) << "dx[" << i << "]";
  for (int64_t e = 0; e < c.E; ++e) {
    const bool empty = std::find(e_of.begin(), e_of.end(), e) == e_of.end();
    for (int64_t k = e * c.C * c.O; k < (e + 1) * c.C * c.O; ++k) {
      if (empty) {
        ASSERT_EQ(got_dw[k], dw_before[k]) << "dw of expert " << e << " (no rows) changed at " << k;
      } else {
        ASSERT_NEAR(got_dw[k], want_dw[k], tol) << "dw[" << k << "]";
      }
    }
  }
}

TEST(Moe, ForwardAndGradientsMatchNaiveReferenceF64) {
  for (const cases::MoeCase& c : cases::kMoeCases)
    if (runs_here(c)) expect_matches_naive_reference(c, DType::f64);
}

TEST(Moe, ForwardAndGradientsMatchNaiveReferenceF32) {
  for (const cases::MoeCase& c : cases::kMoeCases)
    if (runs_here(c)) expect_matches_naive_reference(c, DType::f32);
}

TEST(Moe, RouteIsStableAndOffsetsAreRight) {
  for (const cases::MoeCase& c : cases::kMoeCases) {  // every case, the route-only ones too
    SCOPED_TRACE(cases::describe(c));
    Exec ex = cpu_exec();
    Arena arena;
    Graph g(ex, arena);
    const std::vector<int32_t> e_of = cases::case_experts(c);
    const ops::ExpertRoute r = ops::route_by_expert(g, expert_ids(c), c.E);
    ASSERT_EQ(r.n_experts, c.E);
    ASSERT_EQ(r.offsets.size(), size_t(c.E + 1));
    ASSERT_EQ(r.order.shape, (Shape{c.M}));
    ASSERT_EQ(r.offsets[0], 0);
    const int32_t* order = r.order.ptr<int32_t>();
    for (int64_t e = 0; e < c.E; ++e) {
      ASSERT_EQ(r.offsets[e + 1] - r.offsets[e], std::count(e_of.begin(), e_of.end(), int32_t(e))) << "expert " << e;
      for (int64_t s = r.offsets[e]; s < r.offsets[e + 1]; ++s) {
        ASSERT_EQ(e_of[order[s]], e) << "slot " << s;
        if (s > r.offsets[e]) {
          ASSERT_LT(order[s - 1], order[s]) << "not stable at slot " << s;
        }
      }
    }
    ASSERT_EQ(r.offsets[c.E], c.M);
  }
}

TEST(Moe, RouteOfNoRows) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  const ops::ExpertRoute r = ops::route_by_expert(g, OwnedTensor(DType::i32, {0}), 3);
  EXPECT_EQ(r.offsets, (std::vector<int64_t>{0, 0, 0, 0}));
}

// An expert-parallel rank may receive no rows at all: the chain gather -> grouped_matmul -> relu ->
// grouped_matmul over zero rows runs forward and backward, leaving the weight gradient untouched.
TEST(Moe, ZeroRowsThroughTheExpertChain) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  Var x = g.input(random_f32({3, 4}, 1), true);
  Var w1 = g.input(random_f32({2, 4, 5}, 2), true), w2 = g.input(random_f32({2, 5, 4}, 3), true);
  const OwnedTensor none(DType::i32, {0});
  Var rows = ops::gather_rows(g, x, g.constant(none));  // (0, 4)
  const ops::ExpertRoute r = ops::route_by_expert(g, none, 2);
  Var y = ops::grouped_matmul(g, ops::relu(g, ops::grouped_matmul(g, rows, w1, r)), w2, r);  // (0, 4)
  ASSERT_EQ(y->value.shape, (Shape{0, 4}));
  Var total = ops::add(g, ops::sum_all(g, y), ops::sum_all(g, x));  // the zero rows plus something real
  g.backward(total);
  for (double v : to_host_doubles(w1->grad)) EXPECT_EQ(v, 0.0);
  for (double v : to_host_doubles(x->grad)) EXPECT_EQ(v, 1.0);
}

TEST(Moe, ExpertIdOutOfRangeIsAnError) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  EXPECT_NE(error_of([&] {
              ops::route_by_expert(g, from_values(DType::i32, {4}, {0, 3, 4, 1}), 4);
            }).find("[route_by_expert] expert id 4 of row 2 is out of [0, 4)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              ops::route_by_expert(g, from_values(DType::i32, {3}, {0, -1, 1}), 4);
            }).find("[route_by_expert] expert id -1 of row 1 is out of [0, 4)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              ops::route_by_expert(g, from_values(DType::f64, {2}, {0, 1}), 4);
            }).find("[route_by_expert] expert ids must be i32"),
            std::string::npos);
}

TEST(Moe, ShapeErrorsNameTheOp) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  const ops::ExpertRoute r = ops::route_by_expert(g, from_values(DType::i32, {3}, {0, 1, 1}), 2);
  OwnedTensor x = random_f64({3, 4}, 1), w = random_f64({2, 4, 5}, 2), w3 = random_f64({3, 4, 5}, 3),
              wc = random_f64({2, 5, 5}, 4), x2 = random_f64({2, 4}, 5);
  EXPECT_NE(error_of([&] {
              ops::grouped_matmul(g, g.constant(x), g.constant(w3), r);
            }).find("[grouped_matmul] the route groups rows into 2 experts but w has 3"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::grouped_matmul(g, g.constant(x), g.constant(wc), r); }).find("[grouped_matmul] w "),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              ops::grouped_matmul(g, g.constant(x2), g.constant(w), r);
            }).find("[grouped_matmul] the route covers 3 rows"),
            std::string::npos);
}

}  // namespace
}  // namespace weft::test
