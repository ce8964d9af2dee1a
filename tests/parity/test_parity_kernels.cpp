// CPU-vs-CUDA parity of single kernels on awkward memory, which the op-level tests (64-byte aligned
// arena tensors) do not reach: pointers one element past an alignment boundary (the scalar fallbacks of
// the vectorised kernels), strided blocks, a long bias reduction split in chunks, a GEMM with K = 0.
// f32 throughout; SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

class KernelParity : public GpuKernelTest {
 protected:
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rtol = 1e-5) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-6 + rtol * std::fabs(want[i])) << "element " << i;
  }
};

TEST_F(KernelParity, UnaryForwardAndBackwardMisaligned) {
  const size_t n = 37;
  std::vector<float> x = values(n, 1), dy = values(n, 2), dx = values(n, 3), y(n);
  cpu::unary_forward(cpu_, DType::f32, UnaryOp::gelu_tanh, y.data(), x.data(), n);
  float *gx = upload(x), *gy = upload(std::vector<float>(n)), *gdy = upload(dy), *gdx = upload(dx);
  cuda::unary_forward(gpu_, DType::f32, UnaryOp::gelu_tanh, gy, gx, n);
  cpu::unary_backward(cpu_, DType::f32, UnaryOp::gelu_tanh, dx.data(), dy.data(), x.data(), y.data(), n);
  cuda::unary_backward(gpu_, DType::f32, UnaryOp::gelu_tanh, gdx, gdy, gx, gy, n);
  expect_close(download(gy, n), y);
  expect_close(download(gdx, n), dx);
}

TEST_F(KernelParity, AxpbyMisaligned) {
  const size_t n = 41;
  auto x = values(n, 4), y = values(n, 5);
  float *gx = upload(x), *gy = upload(y);
  cpu::axpby(cpu_, DType::f32, y.data(), 0.75f, x.data(), -0.5f, n);
  cuda::axpby(gpu_, DType::f32, gy, 0.75f, gx, -0.5f, n);
  expect_close(download(gy, n), y);
}

TEST_F(KernelParity, DropoutForwardMisalignedSameMask) {
  const size_t n = 45;
  std::vector<float> x = values(n, 6), y(n);
  PhiloxKey key{0x1234u, 0x9876u};
  float *gx = upload(x), *gy = upload(std::vector<float>(n), 3);
  cpu::dropout_forward(cpu_, DType::f32, y.data(), x.data(), n, 0.4f, key, 2, 11);
  cuda::dropout_forward(gpu_, DType::f32, gy, gx, n, 0.4f, key, 2, 11);
  auto got = download(gy, n);
  int dropped = 0;
  for (float v : y) dropped += v == 0.0f;
  EXPECT_GT(dropped, 0);  // the mask is not trivial
  EXPECT_LT(dropped, static_cast<int>(n));
  expect_close(got, y);
}

TEST_F(KernelParity, CastF32ToBf16MisalignedIsBitExact) {
  const size_t n = 23;
  auto x = values(n, 7);
  std::vector<bf16> want(n), got(n);
  cpu::cast(cpu_, DType::bf16, want.data(), DType::f32, x.data(), n, false);
  float* gx = upload(x);
  bufs_.emplace_back(Device::cuda, (n + 1) * sizeof(bf16));
  bf16* gb = static_cast<bf16*>(bufs_.back().data()) + 1;
  cuda::cast(gpu_, DType::bf16, gb, DType::f32, gx, n, false);
  cuda::synchronize(gpu_);
  device_copy(Device::cpu, got.data(), Device::cuda, gb, n * sizeof(bf16));
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(got[i].bits, want[i].bits) << "element " << i;
}

TEST_F(KernelParity, Copy2dStridedPlainAndAccumulate) {
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

TEST_F(KernelParity, BiasBackwardLongReductionInChunks) {
  const int64_t N = 3000, C = 5;  // 3000 rows per column: split into chunks, partials summed in order
  auto dout = values(N * C, 10), db = values(C, 11);
  float *gd = upload(dout, 0), *gb = upload(db);
  cpu::bias_backward(cpu_, DType::f32, db.data(), dout.data(), N, C);
  cuda::bias_backward(gpu_, DType::f32, gb, gd, N, C);
  expect_close(download(gb, C), db, 1e-4);
}

TEST_F(KernelParity, GemmWithEmptyInnerDimScalesC) {
  const int64_t M = 3, N = 4;
  auto c = values(M * N, 12);
  float* gc = upload(c, 0);
  cpu::gemm(cpu_, DType::f32, false, false, M, N, 0, 1.0f, nullptr, 1, 0, nullptr, N, 0, 0.5f, c.data(), N, 0, 1);
  cuda::gemm(gpu_, DType::f32, false, false, M, N, 0, 1.0f, nullptr, 1, 0, nullptr, N, 0, 0.5f, gc, N, 0, 1);
  expect_close(download(gc, M * N), c);
}

}  // namespace
}  // namespace weft::test
