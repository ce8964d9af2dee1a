// CPU-vs-CUDA parity of the optim family on the cases of tests/cases/optim_cases.h: adamw_update over
// several steps (f32 and bf16 parameters, with and without weight decay, clipped gradients, odd and large
// ranges, aligned and misaligned pointers) and sum_squares (empty, one element, odd, 10^6; bit-identical when
// repeated). SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/optim_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

class OptimParity : public GpuKernelTest {
 protected:
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol,
                           const char* what) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], atol + rtol * std::fabs(want[i])) << what << " element " << i;
  }
  static std::vector<bf16> to_bf16(const std::vector<float>& v) {
    std::vector<bf16> r(v.size());
    for (size_t i = 0; i < v.size(); ++i) r[i] = bf16::from_float(v[i]);
    return r;
  }
  static std::vector<float> to_f32(const std::vector<bf16>& v) {
    std::vector<float> r(v.size());
    for (size_t i = 0; i < v.size(); ++i) r[i] = v[i].to_float();
    return r;
  }
};

// Three steps with fresh gradients each time; bias corrections as AdamW::step computes them.
TEST_F(OptimParity, AdamWF32MatchesCpuOverSteps) {
  const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f;
  for (const cases::AdamCase& c : cases::kAdamCases) {
    if (!cases::runs_in(c.runners, cases::kParity)) continue;
    SCOPED_TRACE(cases::describe(c));
    const size_t n = static_cast<size_t>(c.n);
    std::vector<float> p = values(n, 1), m(n, 0.0f), v(n, 0.0f);
    float *gp = upload(p, c.shift), *gm = upload(m, c.shift), *gv = upload(v, c.shift);
    for (int t = 1; t <= 3; ++t) {
      std::vector<float> g = values(n, 10 + t, -3.0, 3.0);
      float* gg = upload(g, c.shift);
      const float bc1 = static_cast<float>(1.0 - std::pow(double(b1), t)),
                  bc2 = static_cast<float>(1.0 - std::pow(double(b2), t));
      cpu::adamw_update(cpu_, DType::f32, p.data(), m.data(), v.data(), g.data(), c.n, lr, b1, b2, eps, c.weight_decay,
                        bc1, bc2, c.grad_scale);
      cuda::adamw_update(gpu_, DType::f32, gp, gm, gv, gg, c.n, lr, b1, b2, eps, c.weight_decay, bc1, bc2,
                         c.grad_scale);
    }
    // Same formula (runtime/math/adamw.h) in float; only FMA contraction may differ (a few ulps).
    expect_close(download(gm, n), m, 1e-7, 1e-5, "m");
    expect_close(download(gv, n), v, 1e-9, 1e-5, "v");
    expect_close(download(gp, n), p, 1e-6, 1e-5, "param");
  }
}

// bf16 parameters and gradients, f32 moments. The reference is the CPU f32 kernel on the same
// bf16-rounded values, rounding the parameters to bf16 after every step as the GPU stores them.
TEST_F(OptimParity, AdamWBf16ParamsF32StateMatchesCpuOverSteps) {
  const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f;
  for (const cases::AdamCase& c : cases::kAdamCases) {
    if (!cases::runs_in(c.runners, cases::kParity)) continue;
    SCOPED_TRACE(cases::describe(c));
    const size_t n = static_cast<size_t>(c.n);
    std::vector<bf16> pb = to_bf16(values(n, 2));
    std::vector<float> p = to_f32(pb), m(n, 0.0f), v(n, 0.0f);
    bf16* gp = upload(pb, c.shift);
    float *gm = upload(m, c.shift), *gv = upload(v, c.shift);
    for (int t = 1; t <= 3; ++t) {
      std::vector<bf16> gb = to_bf16(values(n, 20 + t, -3.0, 3.0));
      std::vector<float> g = to_f32(gb);
      bf16* gg = upload(gb, c.shift);
      const float bc1 = static_cast<float>(1.0 - std::pow(double(b1), t)),
                  bc2 = static_cast<float>(1.0 - std::pow(double(b2), t));
      cpu::adamw_update(cpu_, DType::f32, p.data(), m.data(), v.data(), g.data(), c.n, lr, b1, b2, eps, c.weight_decay,
                        bc1, bc2, c.grad_scale);
      p = to_f32(to_bf16(p));
      cuda::adamw_update(gpu_, DType::bf16, gp, gm, gv, gg, c.n, lr, b1, b2, eps, c.weight_decay, bc1, bc2,
                         c.grad_scale);
    }
    expect_close(download(gm, n), m, 1e-7, 1e-5, "m");
    expect_close(download(gv, n), v, 1e-9, 1e-5, "v");
    // A float result within a few ulps of a bf16 rounding boundary may round the other way: allow
    // one bf16 ulp (2^-8 relative) per step.
    expect_close(to_f32(download(gp, n)), p, 1e-6, 3 * 0x1p-8, "param");
  }
}

TEST_F(OptimParity, SumSquaresF32AndBf16) {
  for (const cases::SumSquaresCase& c : cases::kSumSquaresCases) {
    if (!cases::runs_in(c.runners, cases::kParity)) continue;
    const int64_t n = c.n;
    const int shift = c.shift;
    SCOPED_TRACE(cases::describe(c));
    std::vector<float> x = values(static_cast<size_t>(n), 30 + n, -2.0, 2.0);
    double want = -1.0, got = -1.0, again = -2.0;
    cpu::sum_squares(cpu_, DType::f32, &want, x.data(), n);
    const float* gx = upload(x, shift);
    cuda::sum_squares(gpu_, DType::f32, &got, gx, n);
    cuda::sum_squares(gpu_, DType::f32, &again, gx, n);
    // Exact squares summed in double on both sides, in different orders.
    EXPECT_NEAR(got, want, 1e-12 * want + 1e-300);
    EXPECT_EQ(got, again) << "not deterministic";

    std::vector<bf16> xb = to_bf16(x);
    std::vector<float> xr = to_f32(xb);
    cpu::sum_squares(cpu_, DType::f32, &want, xr.data(), n);
    const bf16* gxb = upload(xb, shift);
    cuda::sum_squares(gpu_, DType::bf16, &got, gxb, n);
    cuda::sum_squares(gpu_, DType::bf16, &again, gxb, n);
    EXPECT_NEAR(got, want, 1e-12 * want + 1e-300);
    EXPECT_EQ(got, again) << "not deterministic";
  }
}

}  // namespace
}  // namespace weft::test
