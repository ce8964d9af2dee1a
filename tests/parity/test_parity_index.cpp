// CPU-vs-CUDA parity of the index family on the cases of tests/cases/index_cases.h: embedding, gather_rows
// / scatter_add_rows (repeated ids, long runs onto one row), top-k (ties, K = 1, K = C), f32 and bf16. Ops used twice make their backward
// accumulate onto a non-zero gradient. Kernel level: gather accumulating on misaligned pointers, and a
// scatter-add bit-identical to the CPU and from run to run. Every case reports SKIPPED without a GPU.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/index_cases.h"
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

// Values that bf16 holds exactly: multiples of 1/4 in [-2, 2), which tie often, or of 1/64 (8 significant
// bits), which tie rarely. Both backends then see the same order, ties included.
OwnedTensor bf16_exact_values(Shape shape, uint64_t seed, float steps) {
  OwnedTensor t = random_f32(shape, seed, -2.0, 2.0);
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = std::floor(t.ptr<float>()[i] * steps) / steps;
  return t;
}
OwnedTensor tied_values(Shape shape, uint64_t seed) { return bf16_exact_values(shape, seed, 4.0f); }

bool runs_here(unsigned runners) { return cases::runs_in(runners, cases::kParity); }

TEST(ParityIndex, EmbeddingTwiceEveryCase) {
  for (DType dt : kDtypes)
    for (const cases::RowsCase& c : cases::kRowsCases) {
      if (!runs_here(c.runners)) continue;
      SCOPED_TRACE(trace(dt, cases::describe(c)));
      std::vector<ParityInput> in;
      in.push_back({random_ids(c.lead > 1 ? Shape{c.lead, c.ids} : Shape{c.ids}, 11, static_cast<int32_t>(c.rows)),
                    false});
      in.push_back({random_f32({c.rows, c.C}, 12), true});
      // Runs of up to ~330 bf16 cotangents onto one table row (|sum| ~ 10): ~0.03 of drift plus 0.04 of
      // final rounding.
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::embedding(g, v[0], v[1]), ops::embedding(g, v[0], v[1])};
                  }),
                  dt, tol_for(dt, 1e-1));
    }
}

TEST(ParityIndex, GatherRowsTwiceEveryCase) {
  for (DType dt : kDtypes)
    for (const cases::RowsCase& c : cases::kRowsCases) {
      if (!runs_here(c.runners)) continue;
      SCOPED_TRACE(trace(dt, cases::describe(c)));
      std::vector<ParityInput> in;
      in.push_back({random_f32({c.rows, c.C}, 15), true});
      in.push_back({random_ids({c.lead * c.ids}, 16, static_cast<int32_t>(c.rows)), false});
      // Backward: the scatter-add of up to ~330 rows per destination (see the embedding case).
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::gather_rows(g, v[0], v[1]), ops::gather_rows(g, v[0], v[1])};
                  }),
                  dt, tol_for(dt, 1e-1));
    }
}

TEST(ParityIndex, ScatterAddRowsTwiceEveryCase) {
  for (DType dt : kDtypes)
    for (const cases::RowsCase& c : cases::kRowsCases) {
      if (!runs_here(c.runners)) continue;
      SCOPED_TRACE(trace(dt, cases::describe(c)));
      std::vector<ParityInput> in;
      in.push_back({random_f32({c.lead * c.ids, c.C}, 17), true});
      in.push_back({random_ids({c.lead * c.ids}, 18, static_cast<int32_t>(c.rows)), false});
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

// Tied cases on multiples of 1/4, the others on distinct values (f32) or multiples of 1/64 (bf16: the GPU's
// inputs are rounded to bf16, the CPU's are not, so values must be exact in bf16 to be ordered alike).
TEST(ParityIndex, TopkEveryCase) {
  for (DType dt : kDtypes)
    for (const cases::TopkCase& c : cases::kTopkCases) {
      if (!runs_here(c.runners)) continue;
      SCOPED_TRACE(trace(dt, cases::describe(c)));
      const Shape x = c.lead > 1 ? Shape{c.lead, c.N, c.C} : Shape{c.N, c.C};
      std::vector<ParityInput> in;
      in.push_back({c.ties                ? tied_values(x, 19)
                    : dt == DType::bf16 ? bf16_exact_values(x, 20, 64.0f)
                                        : random_f32(x, 20),
                    true});
      const int64_t k = c.K;
      WEFT_PARITY(in, ([k](Graph& g, const std::vector<Var>& v) {
                    ops::TopK a = ops::topk(g, v[0], k), b = ops::topk(g, v[0], k);
                    return std::vector<Var>{a.values, a.indices, b.values};
                  }),
                  dt, tol_for(dt));
    }
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

// ---- kernel level: accumulate flags, misaligned pointers, bit-exact deterministic scatter

class IndexKernelParity : public GpuKernelTest {
 protected:
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rtol = 1e-5) {
    expect_all_near(got, want, 1e-5, rtol);
  }
};

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
