// CPU-vs-CUDA parity of the reduce family on the cases of tests/cases/reduce_cases.h: sum / mean over each
// axis (warp, block and chunked paths) and their backward (broadcast_axis), sum_all up to a long vector, f32
// and bf16; kernel level (f32):
// reduce_sum with alpha and accumulate on every path, broadcast_axis on misaligned pointers. SKIPPED
// without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/reduce_cases.h"
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

Shape shape_of(const cases::Dims& d) { return Shape::from(d.d, d.d + d.rank); }

TEST(ParityReduce, SumAndMeanTwiceEveryCase) {
  for (DType dt : kDtypes)
    for (bool mean : {false, true})
      for (const cases::ReduceCase& c : cases::kReduceCases) {
        if (!cases::runs_in(c.runners, cases::kParity)) continue;
        SCOPED_TRACE(trace(dt, std::string(mean ? "mean " : "sum ") + cases::describe(c)));
        std::vector<ParityInput> in;
        in.push_back({random_f32(shape_of(c.x), 22), true});
        // Sums of up to 7000 bf16 inputs of size <= 1 (|sum| ~ 50): ~0.05 of drift plus a final rounding
        // of 2^-8 relative.
        WEFT_PARITY(in, ([c, mean](Graph& g, const std::vector<Var>& v) {
                      auto f = mean ? ops::mean : ops::sum;
                      return std::vector<Var>{f(g, v[0], c.axis, c.keepdim), f(g, v[0], c.axis, c.keepdim)};
                    }),
                    dt, tol_for(dt, 0.5));
      }
}

TEST(ParityReduce, SumAllEveryCase) {
  for (DType dt : kDtypes)
    for (const cases::Dims& d : cases::kSumAllCases) {
      SCOPED_TRACE(trace(dt, cases::dims_str(d)));
      std::vector<ParityInput> in;
      in.push_back({random_f32(shape_of(d), 23), true});
      // |sum| ~ 150 from 70001 terms: ~0.2 of bf16 drift, f32 tree-vs-sequential order ~1e-4.
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::sum_all(g, v[0])}; }),
                  dt, (dt == DType::bf16 ? Tolerance{2.0, 2e-2} : Tolerance{1e-3, 1e-4}));
    }
}

class ReduceKernelParity : public GpuKernelTest {
 protected:
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rtol = 1e-5) {
    expect_all_near(got, want, 1e-5, rtol);
  }
};

TEST_F(ReduceKernelParity, ReduceSumAccumulateWithAlphaEveryPath) {
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

TEST_F(ReduceKernelParity, BroadcastAxisMisaligned) {
  const int64_t outer = 3, len = 5, inner = 8;  // inner a multiple of the vector width, pointers not aligned
  auto g = values(outer * inner, 32), dx = values(outer * len * inner, 33);
  float *gg = upload(g), *gdx = upload(dx);
  cpu::broadcast_axis(cpu_, DType::f32, dx.data(), g.data(), outer, len, inner, -0.5f);
  cuda::broadcast_axis(gpu_, DType::f32, gdx, gg, outer, len, inner, -0.5f);
  expect_close(download(gdx, dx.size()), dx);
}

}  // namespace
}  // namespace weft::test
