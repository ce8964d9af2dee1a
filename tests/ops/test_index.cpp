// Indexing ops: fp64 gradient checks of embedding, gather_rows, scatter_add_rows (repeated indices) and
// top-k values; top-k ordering and ties; out-of-range indices are errors naming the position.
#include <gtest/gtest.h>

#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

TEST(EmbeddingGrad, RepeatedIds) {
  for (auto [N, V, C] : {std::tuple{1, 1, 1}, {7, 3, 5}, {33, 7, 3}}) {
    std::vector<GradInput> in;
    in.push_back({random_ids({N}, 1, V), false});
    in.push_back({random_f64({V, C}, 2), true});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::embedding(g, v[0], v[1])}; });
    EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
  }
}

TEST(GatherRowsGrad, RepeatedIndices) {
  std::vector<GradInput> in;
  in.push_back({random_f64({7, 5}, 3), true});
  in.push_back({from_values(DType::i32, {9}, {0, 6, 6, 3, 0, 1, 6, 2, 2}), false});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::gather_rows(g, v[0], v[1])}; });
  EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
}

TEST(ScatterAddRowsGrad, RepeatedIndices) {
  std::vector<GradInput> in;
  in.push_back({random_f64({9, 33}, 4), true});
  in.push_back({from_values(DType::i32, {9}, {0, 6, 6, 3, 0, 1, 6, 2, 2}), false});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    return std::vector<Var>{ops::scatter_add_rows(g, v[0], v[1], 7)};
  });
  EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
}

TEST(TopkGrad, ValuesGradientGoesToChosenEntries) {
  for (auto [N, C, K] : {std::tuple{1, 1, 1}, {3, 7, 2}, {7, 33, 7}}) {
    std::vector<GradInput> in;
    in.push_back({random_f64({N, C}, 5), true});
    auto r = gradcheck(in, [K](Graph& g, const std::vector<Var>& v) {
      auto t = ops::topk(g, v[0], K);
      return std::vector<Var>{t.values, t.indices};
    });
    EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
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
    EXPECT_NE(std::string(e.what()).find("index 4 at position 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weft::test
