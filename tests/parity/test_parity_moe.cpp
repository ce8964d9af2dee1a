// CPU-vs-CUDA parity of the moe family on the cases of tests/cases/moe_cases.h. Op level, f32 and bf16:
// route_by_expert + grouped_matmul, y and the gradients of x and w (the op used twice, so its backward
// accumulates onto a gradient that is not zero). Kernel level: moe_route's order and offsets exactly equal
// (both are a stable sort), an out-of-range id the same error as on the CPU; moe_scatter_rows (copy and
// accumulate, misaligned pointers) bit-exact. Every case reports SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/moe_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

const DType kDtypes[] = {DType::f32, DType::bf16};

OwnedTensor expert_ids(const cases::MoeCase& c) {
  const std::vector<int32_t> ids = cases::case_experts(c);
  return from_values(DType::i32, {c.M}, std::vector<double>(ids.begin(), ids.end()));
}

// f32: C- or O-long dot products and per-expert sums of up to M rows in other orders than OpenBLAS (the matmul
// family's default). bf16: inputs rounded to 2^-9 relative, float accumulation, one bf16 rounding of y, dx
// and of each expert's dw after every accumulating GEMM (the matmul family's bf16 tolerance).
Tolerance moe_tolerance(DType dt) { return dt == DType::bf16 ? Tolerance{1e-1, 3e-2} : default_tolerance(dt); }

TEST(ParityMoe, GroupedMatmulEveryCase) {
  for (DType dt : kDtypes)
    for (const cases::MoeCase& c : cases::kMoeCases) {
      if (!cases::runs_in(c.runners, cases::kParity) || c.runners == cases::kMoeRoute) continue;
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c));
      std::vector<ParityInput> in;
      in.push_back({random_f32({c.M, c.C}, 1), true});
      in.push_back({random_f32({c.E, c.C, c.O}, 2), true});
      in.push_back({expert_ids(c), false});
      const int64_t E = c.E;
      WEFT_PARITY(
          in, ([E](Graph& g, const std::vector<Var>& v) {
            const ops::ExpertRoute r = ops::route_by_expert(g, v[2]->value, E);
            return std::vector<Var>{ops::grouped_matmul(g, v[0], v[1], r), ops::grouped_matmul(g, v[0], v[1], r)};
          }),
          dt, moe_tolerance(dt));
    }
}

using MoeKernelParity = GpuKernelTest;

TEST_F(MoeKernelParity, RouteEveryCaseExactly) {
  for (const cases::MoeCase& c : cases::kMoeCases) {
    if (!cases::runs_in(c.runners, cases::kParity)) continue;
    SCOPED_TRACE(cases::describe(c));
    const std::vector<int32_t> ids = cases::case_experts(c);
    std::vector<int32_t> order(c.M);
    std::vector<int64_t> offsets(c.E + 1), got_offsets(c.E + 1);
    cpu::moe_route(cpu_, order.data(), offsets.data(), ids.data(), c.M, c.E);
    int32_t* gorder = upload(std::vector<int32_t>(c.M, -7), 0);
    cuda::moe_route(gpu_, gorder, got_offsets.data(), upload(ids, 0), c.M, c.E);
    EXPECT_EQ(got_offsets, offsets);
    EXPECT_EQ(download(gorder, c.M), order);
  }
  const std::vector<int32_t> bad = {0, 3, 4, 1, 9};
  EXPECT_NE(error_of([&] {
              std::vector<int64_t> offsets(5);
              cuda::moe_route(gpu_, upload(std::vector<int32_t>(5), 0), offsets.data(), upload(bad, 0), 5, 4);
            }).find("[route_by_expert] expert id 4 of row 2 is out of [0, 4)"),
            std::string::npos);
}

TEST_F(MoeKernelParity, ScatterRowsCopyAndAccumulate) {
  for (const cases::MoeCase& c : cases::kMoeCases)
    for (bool accumulate : {false, true}) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(cases::describe(c) + (accumulate ? " accumulate" : " copy"));
      const std::vector<int32_t> ids = cases::case_experts(c);
      std::vector<int32_t> order(c.M);
      std::vector<int64_t> offsets(c.E + 1);
      cpu::moe_route(cpu_, order.data(), offsets.data(), ids.data(), c.M, c.E);
      std::vector<float> src = values(c.M * c.O, 20), dst = values(c.M * c.O, 21), want = dst;
      cpu::moe_scatter_rows(cpu_, DType::f32, want.data(), src.data(), order.data(), c.M, c.M, c.O, accumulate);
      float* gdst = upload(dst);
      cuda::moe_scatter_rows(gpu_, DType::f32, gdst, upload(src), upload(order), c.M, c.M, c.O, accumulate);
      expect_all_near(download(gdst, dst.size()), want, 0.0, 0.0, "dst");
    }
}

}  // namespace
}  // namespace weft::test
