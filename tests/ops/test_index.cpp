// Indexing ops: fp64 gradient checks of embedding, gather_rows, scatter_add_rows and top-k values on the
// cases of tests/cases/index_cases.h, and on explicitly repeated indices; top-k ordering and ties;
// scatter-adds bit-identical for any thread count; out-of-range indices are errors naming the position.
#include <gtest/gtest.h>

#include <cstring>

#include "runtime/kernels.h"
#include "tests/cases/index_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

constexpr double kTol = 1e-6;

bool runs_here(unsigned runners) { return cases::runs_in(runners, cases::kGradcheck); }

TEST(EmbeddingGrad, EveryCase) {
  for (const cases::RowsCase& c : cases::kRowsCases) {
    if (!runs_here(c.runners)) continue;
    std::vector<GradInput> in;
    in.push_back({random_ids(c.lead > 1 ? Shape{c.lead, c.ids} : Shape{c.ids}, 1, int32_t(c.rows)), false});
    in.push_back({random_f64({c.rows, c.C}, 2), true});
    auto r = gradcheck(in, [&c](Graph& g, const std::vector<Var>& v) {
      Var out = ops::embedding(g, v[0], v[1]);
      EXPECT_EQ(out->value.shape, c.lead > 1 ? Shape({c.lead, c.ids, c.C}) : Shape({c.ids, c.C}));
      return std::vector<Var>{out};
    });
    EXPECT_LT(r.max_rel_error, kTol) << cases::describe(c) << "\n" << r.report;
  }
}

TEST(GatherRowsGrad, EveryCase) {  // x (rows, C), idx (lead * ids)
  for (const cases::RowsCase& c : cases::kRowsCases) {
    if (!runs_here(c.runners)) continue;
    std::vector<GradInput> in;
    in.push_back({random_f64({c.rows, c.C}, 8), true});
    in.push_back({random_ids({c.lead * c.ids}, 9, int32_t(c.rows)), false});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::gather_rows(g, v[0], v[1])}; });
    EXPECT_LT(r.max_rel_error, kTol) << cases::describe(c) << "\n" << r.report;
  }
}

TEST(ScatterAddRowsGrad, EveryCase) {  // src (lead * ids, C), idx (lead * ids) into rows
  for (const cases::RowsCase& c : cases::kRowsCases) {
    if (!runs_here(c.runners)) continue;
    std::vector<GradInput> in;
    in.push_back({random_f64({c.lead * c.ids, c.C}, 10), true});
    in.push_back({random_ids({c.lead * c.ids}, 11, int32_t(c.rows)), false});
    const int64_t rows = c.rows;
    auto r = gradcheck(in, [rows](Graph& g, const std::vector<Var>& v) {
      return std::vector<Var>{ops::scatter_add_rows(g, v[0], v[1], rows)};
    });
    EXPECT_LT(r.max_rel_error, kTol) << cases::describe(c) << "\n" << r.report;
  }
}

TEST(GatherRowsGrad, RepeatedIndices) {
  std::vector<GradInput> in;
  in.push_back({random_f64({7, 5}, 3), true});
  in.push_back({from_values(DType::i32, {9}, {0, 6, 6, 3, 0, 1, 6, 2, 2}), false});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::gather_rows(g, v[0], v[1])}; });
  EXPECT_LT(r.max_rel_error, kTol) << r.report;
}

TEST(ScatterAddRowsGrad, RepeatedIndices) {
  std::vector<GradInput> in;
  in.push_back({random_f64({9, 33}, 4), true});
  in.push_back({from_values(DType::i32, {9}, {0, 6, 6, 3, 0, 1, 6, 2, 2}), false});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::scatter_add_rows(g, v[0], v[1], 7)};
  });
  EXPECT_LT(r.max_rel_error, kTol) << r.report;
}

TEST(EmbeddingBackward, DeterministicAcrossThreadCounts) {
  const int64_t N = 4099, V = 13, C = 197;
  OwnedTensor ids = random_ids({N}, 12, V), dout = random_f32({N, C}, 13);
  std::vector<float> serial(V * C, 0.0f);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t c = 0; c < C; ++c) serial[ids.ptr<int32_t>()[i] * C + c] += dout.ptr<float>()[i * C + c];
  for (int threads : {1, 2, 3, 8}) {
    Exec ex = cpu_exec(threads);
    std::vector<float> dtable(V * C, 0.0f);
    cpu::embedding_backward(ex, DType::f32, dtable.data(), dout.ptr<float>(), ids.ptr<int32_t>(), N, V, C);
    EXPECT_EQ(std::memcmp(dtable.data(), serial.data(), serial.size() * sizeof(float)), 0) << threads << " threads";
  }
}

// Every case on distinct random values (a tie is not differentiable): the values' gradient goes to the chosen
// entries; the indices are an output without a gradient.
TEST(TopkGrad, EveryCaseValuesGradientGoesToChosenEntries) {
  for (const cases::TopkCase& c : cases::kTopkCases) {
    if (!runs_here(c.runners)) continue;
    std::vector<GradInput> in;
    in.push_back({random_f64(c.lead > 1 ? Shape{c.lead, c.N, c.C} : Shape{c.N, c.C}, 5), true});
    const int64_t K = c.K;
    auto r = gradcheck(in, [K](Graph& g, const std::vector<Var>& v) {
      auto t = ops::topk(g, v[0], K);
      return std::vector<Var>{t.values, t.indices};
    });
    EXPECT_LT(r.max_rel_error, kTol) << cases::describe(c) << "\n" << r.report;
  }
}

TEST(Topk, OrderAndTies) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = from_values(DType::f32, {2, 5}, {0.1, 0.9, 0.5, 0.9, -1, 3, 2, 1, 0, -1});
  auto t = ops::topk(g, g.constant(x), 3);
  EXPECT_EQ(to_host_doubles(t.indices->value), (std::vector<double>{1, 3, 2, 0, 1, 2}));
  EXPECT_EQ(to_host_doubles(t.values->value)[0], static_cast<double>(0.9f));
  EXPECT_THROW(ops::topk(g, g.constant(x), 6), Error);
}

TEST(IndexErrors, OutOfRangeNamesThePosition) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor table = random_f32({4, 3}, 1);
  OwnedTensor ids = from_values(DType::i32, {3}, {0, 4, 1});
  try {
    ops::embedding(g, g.constant(ids), g.constant(table));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[embedding] index 4 at position 1"), std::string::npos) << e.what();
  }
  OwnedTensor x = random_f32({5, 2}, 2), idx = from_values(DType::i32, {4}, {0, 1, 2, -1});
  EXPECT_THROW(ops::gather_rows(g, g.constant(x), g.constant(idx)), Error);
  EXPECT_THROW(ops::scatter_add_rows(g, g.constant(random_f32({4, 2}, 3)), g.constant(idx), 5), Error);
  OwnedTensor big = from_values(DType::i32, {2}, {0, 3});
  EXPECT_THROW(ops::scatter_add_rows(g, g.constant(random_f32({2, 2}, 4)), g.constant(big), 3), Error);
}

}  // namespace
}  // namespace weft::test
