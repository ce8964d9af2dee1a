// CPU-vs-CUDA parity of the layout family: concat / split (strided block copies, copy2d) and reshape,
// transpose12 (permute_0213: tiled and row paths), f32 and bf16; kernel level (f32): copy2d strided, plain
// and accumulating, permute_0213 accumulating on misaligned pointers. SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
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

TEST(ParityLayout, ConcatSplitReshapeF32AndBf16) {
  // concat and split are strided block copies (copy2d) forward and backward; reshape is a view.
  for (DType dt : {DType::f32, DType::bf16}) {
    for (int axis : {0, 1, 2}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " axis " + std::to_string(axis));
      Shape a{3, 5, 7}, b{3, 5, 7};
      b.dims[axis] = 4;  // uneven parts along the axis
      auto in = f32_inputs({a, b});
      WEFT_PARITY(in, ([axis](Graph& g, const std::vector<Var>& v) {
                    Var cat = ops::concat(g, {v[0], v[1], v[0]}, axis);
                    std::vector<Var> parts = ops::split(g, cat, {2, cat->value.shape[axis] - 2}, axis);
                    return std::vector<Var>{cat, parts[0], ops::reshape(g, parts[1], Shape{parts[1]->value.numel()})};
                  }),
                  // f32: exact copies and sums of two cotangents; bf16: inputs and cotangents rounded to 2^-8 relative.
                  dt, (dt == DType::bf16 ? Tolerance{1e-2, 1e-2} : Tolerance{1e-6, 1e-6}));
    }
  }
}

// D <= 4 takes the shared-memory tile path (several tiles, partial ones); larger D the row path,
// vectorised when D is a multiple of 4 (f32) / 8 (bf16).
const Shape kTransposeShapes[] = {{2, 5, 7, 1}, {2, 5, 7, 3}, {1, 70, 45, 1}, {33, 40, 2}, {2, 5, 7, 4},
                                  {2, 5, 7, 5}, {2, 3, 9, 8}, {3, 4, 5, 16}, {2, 9, 3, 33}, {1, 1, 1, 1}};

TEST(ParityLayout, Transpose12TwiceF32AndBf16) {
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
