// CPU-vs-CUDA parity of the indexing, layout and reduction kernels: embedding, gather_rows /
// scatter_add_rows (repeated ids, long runs onto one row), top-k (ties, K = 1, K = C), transpose12
// (tiled and row paths), sum / mean over each axis (warp, block and chunked paths) and their backward
// passes, f32 and bf16. Ops used twice make their backward accumulate onto a non-zero gradient. A few
// kernel-level cases check reduce_sum with accumulate, misaligned pointers and that the scatter-add is
// bit-identical to the CPU and from run to run. Every case reports SKIPPED without a GPU.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

const DType kDtypes[] = {DType::f32, DType::bf16};

std::string trace(DType dt, const std::string& what) { return std::string(dtype_name(dt)) + " " + what; }

// bf16 inputs and cotangents are rounded to 2^-8 relative (8 significant bits); a gathered value stays
// within that, and a sum of n terms of size <= 1 drifts by about sqrt(n) * 2^-8 plus one final rounding.
Tolerance tol_for(DType dt, double bf16_atol = 2e-2) {
  return dt == DType::bf16 ? Tolerance{bf16_atol, 2e-2} : default_tolerance(dt);
}

// Values that bf16 holds exactly and that tie often: multiples of 1/4 in [-2, 2).
OwnedTensor tied_values(Shape shape, uint64_t seed) {
  OwnedTensor t = random_f32(shape, seed, -2.0, 2.0);
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = std::floor(t.ptr<float>()[i] * 4.0f) / 4.0f;
  return t;
}

// ---- embedding, gather_rows, scatter_add_rows

struct RowsCase {
  int64_t rows, ids, C;  // table / destination rows, indices, columns
};
// Few rows with many ids (long runs onto one row), odd and vector-friendly widths, one column, a
// single id, and more rows than ids (rows nobody hits stay zero).
const RowsCase kRowsCases[] = {{5, 111, 33}, {3, 1000, 7}, {7, 40, 16}, {50, 37, 1}, {1, 1, 5}, {300, 64, 24}};

TEST(ParityIndex, EmbeddingTwiceF32AndBf16) {
  for (DType dt : kDtypes)
    for (const RowsCase& c : kRowsCases) {
      SCOPED_TRACE(trace(dt, "V=" + std::to_string(c.rows) + " N=" + std::to_string(c.ids) + " C=" +
                                 std::to_string(c.C)));
      std::vector<ParityInput> in;
      in.push_back({random_ids({c.ids}, 11, static_cast<int32_t>(c.rows)), false});
      in.push_back({random_f32({c.rows, c.C}, 12), true});
      // Runs of up to ~330 bf16 cotangents onto one table row (|sum| ~ 10): ~0.03 of drift plus 0.04 of
      // final rounding.
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::embedding(g, v[0], v[1]), ops::embedding(g, v[0], v[1])};
                  }),
                  dt, tol_for(dt, 1e-1));
    }
}

TEST(ParityIndex, EmbeddingOfRank2IdsF32) {
  std::vector<ParityInput> in;
  in.push_back({random_ids({3, 37}, 13, 9), false});
  in.push_back({random_f32({9, 20}, 14), true});
  WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::embedding(g, v[0], v[1])}; }),
              DType::f32, default_tolerance(DType::f32));
}

TEST(ParityIndex, GatherRowsTwiceF32AndBf16) {
  for (DType dt : kDtypes)
    for (const RowsCase& c : kRowsCases) {
      SCOPED_TRACE(trace(dt, "N=" + std::to_string(c.rows) + " M=" + std::to_string(c.ids) + " C=" +
                                 std::to_string(c.C)));
      std::vector<ParityInput> in;
      in.push_back({random_f32({c.rows, c.C}, 15), true});
      in.push_back({random_ids({c.ids}, 16, static_cast<int32_t>(c.rows)), false});
      // Backward: the scatter-add of up to ~330 rows per destination (see the embedding case).
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::gather_rows(g, v[0], v[1]), ops::gather_rows(g, v[0], v[1])};
                  }),
                  dt, tol_for(dt, 1e-1));
    }
}

TEST(ParityIndex, ScatterAddRowsTwiceF32AndBf16) {
  for (DType dt : kDtypes)
    for (const RowsCase& c : kRowsCases) {
      SCOPED_TRACE(trace(dt, "n_rows=" + std::to_string(c.rows) + " M=" + std::to_string(c.ids) + " C=" +
                                 std::to_string(c.C)));
      std::vector<ParityInput> in;
      in.push_back({random_f32({c.ids, c.C}, 17), true});
      in.push_back({random_ids({c.ids}, 18, static_cast<int32_t>(c.rows)), false});
      const int64_t n_rows = c.rows;
      // Forward: sums of up to ~330 bf16 inputs of size <= 1; backward: a gather (accumulating).
      WEFT_PARITY(in, ([n_rows](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::scatter_add_rows(g, v[0], v[1], n_rows),
                                            ops::scatter_add_rows(g, v[0], v[1], n_rows)};
                  }),
                  dt, tol_for(dt, 1e-1));
    }
}

// ---- top-k

struct TopkCase {
  Shape x;
  int64_t k;
};
// K = 1, K = C, rows longer than a warp, one column, a long row (C = 1000) with many ties.
const TopkCase kTopkCases[] = {{{6, 37}, 1},  {{6, 37}, 3}, {{6, 37}, 37}, {{2, 3, 65}, 8},
                               {{5, 1}, 1},   {{1, 1000}, 16}, {{40, 8}, 2}};

TEST(ParityIndex, TopkWithTiesF32AndBf16) {
  for (DType dt : kDtypes)
    for (const TopkCase& c : kTopkCases) {
      SCOPED_TRACE(trace(dt, c.x.str() + " k=" + std::to_string(c.k)));
      std::vector<ParityInput> in;
      in.push_back({tied_values(c.x, 19), true});  // exact in bf16: both sides see the same ties
      const int64_t k = c.k;
      WEFT_PARITY(in, ([k](Graph& g, const std::vector<Var>& v) {
                    ops::TopK a = ops::topk(g, v[0], k), b = ops::topk(g, v[0], k);
                    return std::vector<Var>{a.values, a.indices, b.values};
                  }),
                  dt, tol_for(dt));
    }
}

TEST(ParityIndex, TopkDistinctValuesF32) {
  std::vector<ParityInput> in;
  in.push_back({random_f32({9, 300}, 20), true});
  WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                ops::TopK a = ops::topk(g, v[0], 5);
                return std::vector<Var>{a.values, a.indices};
              }),
              DType::f32, default_tolerance(DType::f32));
}

TEST(ParityIndex, TopkAllEqualRowPicksLowIndicesFirst) {
  std::vector<ParityInput> in;
  in.push_back({from_values(DType::f32, {2, 5}, {1, 1, 1, 1, 1, -3, 0.5, -3, 0.5, -3}), true});
  for (DType dt : kDtypes) {
    SCOPED_TRACE(dtype_name(dt));
    WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                  ops::TopK a = ops::topk(g, v[0], 4);
                  return std::vector<Var>{a.values, a.indices};
                }),
                dt, tol_for(dt));
  }
}

// ---- transpose12 (permute_0213)

// D <= 4 takes the shared-memory tile path (several tiles, partial ones); larger D the row path,
// vectorised when D is a multiple of 4 (f32) / 8 (bf16).
const Shape kTransposeShapes[] = {{2, 5, 7, 1}, {2, 5, 7, 3}, {1, 70, 45, 1}, {33, 40, 2}, {2, 5, 7, 4},
                                  {2, 5, 7, 5}, {2, 3, 9, 8}, {3, 4, 5, 16}, {2, 9, 3, 33}, {1, 1, 1, 1}};

TEST(ParityIndex, Transpose12TwiceF32AndBf16) {
  for (DType dt : kDtypes)
    for (const Shape& s : kTransposeShapes) {
      SCOPED_TRACE(trace(dt, s.str()));
      std::vector<ParityInput> in;
      in.push_back({random_f32(s, 21), true});
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::transpose12(g, v[0]), ops::transpose12(g, v[0])};
                  }),
                  dt, tol_for(dt));
    }
}

// ---- sum / mean (reduce_sum, broadcast_axis)

struct ReduceCase {
  Shape x;
  int axis;
  bool keepdim;
};
// inner > 1 (one chunk, and many chunks for few outputs with a long axis), inner == 1 (a warp per
// row, a block per row for len >= 4096), a single element.
const ReduceCase kReduceCases[] = {{{3, 37, 5}, 0, false}, {{3, 37, 5}, 1, true}, {{3, 37, 5}, 2, false},
                                   {{5000, 3}, 0, false},  {{2, 5000}, 1, false}, {{1, 9, 7000}, 1, true},
                                   {{1}, 0, false},        {{4, 1, 6}, 1, false}};

TEST(ParityIndex, SumAndMeanTwiceF32AndBf16) {
  for (DType dt : kDtypes)
    for (bool mean : {false, true})
      for (const ReduceCase& c : kReduceCases) {
        SCOPED_TRACE(trace(dt, std::string(mean ? "mean " : "sum ") + c.x.str() + " axis " + std::to_string(c.axis)));
        std::vector<ParityInput> in;
        in.push_back({random_f32(c.x, 22), true});
        // Sums of up to 7000 bf16 inputs of size <= 1 (|sum| ~ 50): ~0.05 of drift plus a final rounding
        // of 2^-8 relative.
        WEFT_PARITY(in, ([c, mean](Graph& g, const std::vector<Var>& v) {
                      auto f = mean ? ops::mean : ops::sum;
                      return std::vector<Var>{f(g, v[0], c.axis, c.keepdim), f(g, v[0], c.axis, c.keepdim)};
                    }),
                    dt, tol_for(dt, 0.5));
      }
}

TEST(ParityIndex, SumAllLongF32AndBf16) {
  for (DType dt : kDtypes) {
    SCOPED_TRACE(dtype_name(dt));
    std::vector<ParityInput> in;
    in.push_back({random_f32({70001}, 23), true});
    // |sum| ~ 150 from 70001 terms: ~0.2 of bf16 drift, f32 tree-vs-sequential order ~1e-4.
    WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::sum_all(g, v[0])}; }),
                dt, (dt == DType::bf16 ? Tolerance{2.0, 2e-2} : Tolerance{1e-3, 1e-4}));
  }
}

// ---- kernel level: accumulate flags, misaligned pointers, bit-exact deterministic scatter

class IndexKernelParity : public GpuKernelTest {
 protected:
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rtol = 1e-5) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-5 + rtol * std::fabs(want[i])) << "element " << i;
  }
};

TEST_F(IndexKernelParity, ReduceSumAccumulateWithAlphaEveryPath) {
  struct Dims {
    int64_t outer, len, inner;
  };
  for (Dims d : {Dims{3, 37, 5}, Dims{1, 5000, 3}, Dims{7, 33, 1}, Dims{2, 4100, 1}, Dims{4, 0, 3}}) {
    SCOPED_TRACE(std::to_string(d.outer) + "x" + std::to_string(d.len) + "x" + std::to_string(d.inner));
    auto x = values(d.outer * d.len * d.inner + 1, 30), out = values(d.outer * d.inner, 31);
    float *gx = upload(x), *gout = upload(out);
    for (bool acc : {true, false}) {
      cpu::reduce_sum(cpu_, DType::f32, out.data(), x.data(), d.outer, d.len, d.inner, 0.375f, acc);
      cuda::reduce_sum(gpu_, DType::f32, gout, gx, d.outer, d.len, d.inner, 0.375f, acc);
      expect_close(download(gout, out.size()), out, 1e-4);
    }
  }
}

TEST_F(IndexKernelParity, BroadcastAxisAndPermuteMisaligned) {
  const int64_t outer = 3, len = 5, inner = 8;  // inner a multiple of the vector width, pointers not aligned
  auto g = values(outer * inner, 32), dx = values(outer * len * inner, 33);
  float *gg = upload(g), *gdx = upload(dx);
  cpu::broadcast_axis(cpu_, DType::f32, dx.data(), g.data(), outer, len, inner, -0.5f);
  cuda::broadcast_axis(gpu_, DType::f32, gdx, gg, outer, len, inner, -0.5f);
  expect_close(download(gdx, dx.size()), dx);
  const int64_t A = 2, B = 3, C = 5, D = 8;
  auto in = values(A * B * C * D, 34), out = values(A * B * C * D, 35);
  float *gin = upload(in), *gout = upload(out);
  cpu::permute_0213(cpu_, DType::f32, out.data(), in.data(), A, B, C, D, true);
  cuda::permute_0213(gpu_, DType::f32, gout, gin, A, B, C, D, true);
  expect_close(download(gout, out.size()), out);
}

TEST_F(IndexKernelParity, GatherAccumulateMisaligned) {
  const int64_t N = 6, M = 29, C = 8;
  auto x = values(N * C, 36), out = values(M * C, 37);
  OwnedTensor ids_t = random_ids({M}, 38, static_cast<int32_t>(N));
  std::vector<int32_t> ids(ids_t.ptr<int32_t>(), ids_t.ptr<int32_t>() + M);
  float *gx = upload(x), *gout = upload(out);
  int32_t* gids = upload(ids);
  cpu::gather_rows(cpu_, DType::f32, out.data(), x.data(), ids.data(), M, N, C, true);
  cuda::gather_rows(gpu_, DType::f32, gout, gx, gids, M, N, C, true);
  expect_close(download(gout, out.size()), out);
}

// The GPU adds each destination's rows in position order from its old value, as the CPU does: f32
// results are bit-identical to the CPU and to a second GPU run.
TEST_F(IndexKernelParity, ScatterAddRowsIsBitExactAndDeterministic) {
  const int64_t N = 13, M = 20000, C = 19;
  auto src = values(M * C, 39), dst = values(N * C, 40);
  OwnedTensor ids_t = random_ids({M}, 41, static_cast<int32_t>(N));
  std::vector<int32_t> ids(ids_t.ptr<int32_t>(), ids_t.ptr<int32_t>() + M);
  float *gsrc = upload(src), *gdst1 = upload(dst), *gdst2 = upload(dst, 0);
  int32_t* gids = upload(ids);
  cpu::scatter_add_rows(cpu_, DType::f32, dst.data(), src.data(), ids.data(), M, N, C);
  cuda::scatter_add_rows(gpu_, DType::f32, gdst1, gsrc, gids, M, N, C);
  cuda::embedding_backward(gpu_, DType::f32, gdst2, gsrc, gids, M, N, C);
  auto got1 = download(gdst1, dst.size()), got2 = download(gdst2, dst.size());
  EXPECT_EQ(std::memcmp(got1.data(), dst.data(), dst.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(got2.data(), dst.data(), dst.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace weft::test
