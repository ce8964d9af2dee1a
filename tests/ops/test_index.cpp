// Indexing ops: fp64 gradient checks of embedding, gather_rows, scatter_add_rows (repeated indices) and
// top-k values on odd sizes; top-k ordering and ties; scatter-adds bit-identical for any thread count;
// out-of-range indices are errors naming the position.
#include <gtest/gtest.h>

#include <cstring>

#include "runtime/kernels.h"
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

TEST(EmbeddingGrad, RankTwoIds) {
  std::vector<GradInput> in;
  in.push_back({random_ids({3, 7}, 6, 5), false});
  in.push_back({random_f64({5, 33}, 7), true});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) {
    Var out = ops::embedding(g, v[0], v[1]);
    EXPECT_EQ(out->value.shape, (Shape{3, 7, 33}));
    return std::vector<Var>{out};
  });
  EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
}

TEST(GatherRowsGrad, RepeatedIndices) {
  std::vector<GradInput> in;
  in.push_back({random_f64({7, 5}, 3), true});
  in.push_back({from_values(DType::i32, {9}, {0, 6, 6, 3, 0, 1, 6, 2, 2}), false});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::gather_rows(g, v[0], v[1])}; });
  EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
}

TEST(GatherRowsGrad, OddSizes) {  // x (N, C), idx (M)
  for (auto [N, C, M] : {std::tuple{1, 1, 1}, {3, 7, 33}, {7, 33, 3}, {33, 3, 7}}) {
    std::vector<GradInput> in;
    in.push_back({random_f64({N, C}, 8), true});
    in.push_back({random_ids({M}, 9, N), false});
    auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::gather_rows(g, v[0], v[1])}; });
    EXPECT_LT(r.max_rel_error, 1e-6) << N << " " << C << " " << M << "\n" << r.report;
  }
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

TEST(ScatterAddRowsGrad, OddSizes) {  // src (M, C), idx (M) into n_rows
  for (auto [M, C, n_rows] : {std::tuple{1, 1, 1}, {33, 3, 7}, {7, 33, 3}, {3, 7, 33}}) {
    std::vector<GradInput> in;
    in.push_back({random_f64({M, C}, 10), true});
    in.push_back({random_ids({M}, 11, n_rows), false});
    const int64_t rows = n_rows;
    auto r = gradcheck(in, [rows](Graph& g, const std::vector<Var>& v) {
      return std::vector<Var>{ops::scatter_add_rows(g, v[0], v[1], rows)};
    });
    EXPECT_LT(r.max_rel_error, 1e-6) << M << " " << C << " " << n_rows << "\n" << r.report;
  }
}

// The scatter-add (embedding backward, scatter_add_rows) must give the same bits for any thread count,
// equal to the serial sum in row order.
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

TEST(TopkGrad, ValuesGradientGoesToChosenEntries) {
  for (auto [N, C, K] : {std::tuple{1, 1, 1}, {3, 7, 2}, {7, 33, 7}, {33, 3, 3}}) {
    std::vector<GradInput> in;
    in.push_back({random_f64({N, C}, 5), true});
    auto r = gradcheck(in, [K](Graph& g, const std::vector<Var>& v) {
      auto t = ops::topk(g, v[0], K);
      return std::vector<Var>{t.values, t.indices};
    });
    EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
  }
}

TEST(TopkGrad, RankThree) {  // (2, 3, 7) -> top 3 along the last dim
  std::vector<GradInput> in;
  in.push_back({random_f64({2, 3, 7}, 14), true});
  auto r = gradcheck(in, [](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::topk(g, v[0], 3).values}; });
  EXPECT_LT(r.max_rel_error, 1e-6) << r.report;
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
