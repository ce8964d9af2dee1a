// CPU-vs-CUDA parity of the layout family on the cases of tests/cases/layout_cases.h: concat / split
// (strided block copies, copy2d) and reshape, transpose12 (permute_0213: tiled and row paths), f32 and bf16; kernel level (f32): copy2d strided, plain
// and accumulating, permute_0213 accumulating on misaligned pointers. SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/layout_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

std::vector<ParityInput> f32_inputs(std::initializer_list<Shape> shapes) {
  std::vector<ParityInput> in;
  uint64_t seed = 1;
  for (const Shape& s : shapes) in.push_back({random_f32(s, seed++), true});
  return in;
}

const DType kDtypes[] = {DType::f32, DType::bf16};

std::string trace(DType dt, const std::string& what) { return std::string(dtype_name(dt)) + " " + what; }

// bf16 inputs and cotangents are rounded to 2^-8 relative (8 significant bits); a gathered value stays
// within that, and a sum of n terms of size <= 1 drifts by about sqrt(n) * 2^-8 plus one final rounding.
Tolerance tol_for(DType dt, double bf16_atol = 2e-2) {
  return dt == DType::bf16 ? Tolerance{bf16_atol, 2e-2} : default_tolerance(dt);
}

Shape shape_of(const cases::Dims& d) { return Shape::from(d.d, d.d + d.rank); }

// f32: exact copies and sums of two cotangents; bf16: inputs and cotangents rounded to 2^-8 relative.
Tolerance copy_tolerance(DType dt) { return dt == DType::bf16 ? Tolerance{1e-2, 1e-2} : Tolerance{1e-6, 1e-6}; }

TEST(ParityLayout, ConcatSplitReshapeEveryCase) {
  // concat and split are strided block copies (copy2d) forward and backward; reshape is a view.
  for (DType dt : kDtypes)
    for (const cases::ConcatCase& c : cases::kConcatCases) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(trace(dt, cases::describe(c)));
      Shape a = shape_of(c.a), b = a;
      b[c.axis] = c.b_len;
      auto in = f32_inputs({a, b});
      const int axis = c.axis;
      WEFT_PARITY(in, ([axis](Graph& g, const std::vector<Var>& v) {
                    Var cat = ops::concat(g, {v[0], v[1], v[0]}, axis);
                    std::vector<Var> parts = ops::split(g, cat, {2, cat->value.shape[axis] - 2}, axis);
                    return std::vector<Var>{cat, parts[0], ops::reshape(g, parts[1], Shape{parts[1]->value.numel()})};
                  }),
                  dt, copy_tolerance(dt));
    }
}

TEST(ParityLayout, SplitEveryCase) {
  for (DType dt : kDtypes)
    for (const cases::SplitCase& c : cases::kSplitCases) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(trace(dt, cases::describe(c)));
      std::vector<int64_t> sizes;
      for (int64_t n : c.sizes)
        if (n) sizes.push_back(n);
      auto in = f32_inputs({shape_of(c.x)});
      const int axis = c.axis;
      WEFT_PARITY(in, ([sizes, axis](Graph& g, const std::vector<Var>& v) { return ops::split(g, v[0], sizes, axis); }),
                  dt, copy_tolerance(dt));
    }
}

TEST(ParityLayout, Transpose12TwiceEveryCase) {
  for (DType dt : kDtypes)
    for (const cases::Dims& d : cases::kTransposeCases) {
      SCOPED_TRACE(trace(dt, cases::dims_str(d)));
      std::vector<ParityInput> in;
      in.push_back({random_f32(shape_of(d), 21), true});
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::transpose12(g, v[0]), ops::transpose12(g, v[0])};
                  }),
                  dt, tol_for(dt));
    }
}

class LayoutKernelParity : public GpuKernelTest {
 protected:
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rtol = 1e-5) {
    expect_all_near(got, want, 1e-6, rtol);
  }
};

TEST_F(LayoutKernelParity, Copy2dStridedPlainAndAccumulate) {
  const int64_t rows = 5, cols = 7, ds = 9, ss = 11;
  auto src = values(rows * ss, 8), dst = values(rows * ds, 9);
  float *gs = upload(src), *gd = upload(dst);
  cpu::copy2d(cpu_, DType::f32, dst.data(), ds, src.data(), ss, rows, cols, true);
  cuda::copy2d(gpu_, DType::f32, gd, ds, gs, ss, rows, cols, true);
  expect_close(download(gd, dst.size()), dst);
  cpu::copy2d(cpu_, DType::f32, dst.data(), ds, src.data() + 2, ss, rows, cols - 2, false);
  cuda::copy2d(gpu_, DType::f32, gd, ds, gs + 2, ss, rows, cols - 2, false);
  expect_close(download(gd, dst.size()), dst);
}

TEST_F(LayoutKernelParity, PermuteMisalignedAccumulate) {
  const int64_t A = 2, B = 3, C = 5, D = 8;
  auto in = values(A * B * C * D, 34), out = values(A * B * C * D, 35);
  float *gin = upload(in), *gout = upload(out);
  cpu::permute_0213(cpu_, DType::f32, out.data(), in.data(), A, B, C, D, true);
  cuda::permute_0213(gpu_, DType::f32, gout, gin, A, B, C, D, true);
  expect_close(download(gout, out.size()), out, 1e-5);
}

}  // namespace
}  // namespace weft::test
