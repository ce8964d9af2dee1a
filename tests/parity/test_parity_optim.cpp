// CPU-vs-CUDA parity of the optimizer kernels and the SPD solve: adamw_update over several steps (f32
// and bf16 parameters, with and without weight decay, clipped gradients, odd and large ranges, aligned
// and misaligned pointers), sum_squares (empty, one element, odd, 10^6; bit-identical when repeated),
// spd_solve forward and backward through ops::spd_solve, and its not-positive-definite error;
// linear_forward (the bias in cuBLASLt's epilogue) through ops::linear and at kernel level (fallbacks);
// linear_gelu_forward (bias and GELU in the epilogue for bf16) through ops::linear_gelu and at kernel level.
// SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
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

struct AdamCase {
  int64_t n;
  float weight_decay, grad_scale;
  int shift;  // 0: vectorised path; 1: scalar fallback
};

const AdamCase kAdamCases[] = {
    {1, 0.0f, 1.0f, 0},
    {37, 0.1f, 0.5f, 0},
    {37, 0.0f, 0.25f, 1},
    {4099, 0.1f, 1.0f, 1},
    {(1 << 20) + 3, 0.1f, 0.7f, 0},
};

// Three steps with fresh gradients each time; bias corrections as AdamW::step computes them.
TEST_F(OptimParity, AdamWF32MatchesCpuOverSteps) {
  const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f;
  for (const AdamCase& c : kAdamCases) {
    SCOPED_TRACE("n = " + std::to_string(c.n) + " shift " + std::to_string(c.shift));
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
  for (const AdamCase& c : kAdamCases) {
    SCOPED_TRACE("n = " + std::to_string(c.n) + " shift " + std::to_string(c.shift));
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
  for (int64_t n :
       {int64_t(0), int64_t(1), int64_t(37), int64_t(255), int64_t(257), int64_t(1000000), int64_t(1000003)}) {
    for (int shift : {0, 1}) {
      SCOPED_TRACE("n = " + std::to_string(n) + " shift " + std::to_string(shift));
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
}

// A = M M^T + n I (f32, well conditioned), B (n, m).
std::vector<ParityInput> spd_inputs(int64_t n, int64_t m, uint64_t seed) {
  OwnedTensor mm = random_f32({n, n}, seed);
  OwnedTensor a(DType::f32, {n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = i == j ? static_cast<double>(n) : 0.0;
      for (int64_t k = 0; k < n; ++k) s += double(mm.ptr<float>()[i * n + k]) * double(mm.ptr<float>()[j * n + k]);
      a.ptr<float>()[i * n + j] = static_cast<float>(s);
    }
  std::vector<ParityInput> in;
  in.push_back({std::move(a), true});
  in.push_back({random_f32({n, m}, seed + 1), true});
  return in;
}

TEST(Parity, SpdSolveF32ForwardBackward) {
  for (auto [n, m] : {std::pair<int64_t, int64_t>{1, 1}, {5, 7}, {33, 1}, {70, 300}, {130, 65}}) {
    SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(m));
    auto in = spd_inputs(n, m, 40 + n);
    // Same loops and summation order as the CPU (runtime/math/cholesky.h); FMA contraction on the GPU
    // changes last bits, amplified by the (small) condition number of M M^T + n I.
    WEFT_PARITY(in,
                ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::spd_solve(g, v[0], v[1])}; }),
                DType::f32, (Tolerance{1e-4, 1e-4}));
  }
}

TEST(Parity, SpdSolveBf16ForwardBackward) {
  for (auto [n, m] : {std::pair<int64_t, int64_t>{3, 2}, {17, 9}}) {
    SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(m));
    auto in = spd_inputs(n, m, 50 + n);
    // Inputs rounded to bf16 (2^-9 relative), solved in float, outputs rounded again: errors of a few
    // 2^-9 times the condition number (a few units for M M^T + n I).
    WEFT_PARITY(in,
                ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::spd_solve(g, v[0], v[1])}; }),
                DType::bf16, (Tolerance{5e-2, 5e-2}));
  }
}

TEST_F(OptimParity, SpdSolveNotPositiveDefinite) {
  std::vector<float> a = {1, 2, 2, 1}, b = {1, 1};
  float *ga = upload(a, 0), *gb = upload(b, 0), *gx = upload(std::vector<float>(2), 0),
        *gl = upload(std::vector<float>(4), 0);
  std::string msg = error_of([&] { cuda::spd_solve_forward(gpu_, DType::f32, gx, gl, ga, gb, 2, 1); });
  EXPECT_NE(msg.find("not positive definite (pivot 1"), std::string::npos) << msg;
}

struct LinearCase {
  int64_t N, C, OC;
};

TEST(Parity, LinearForwardFusedBiasWithAndWithoutBias) {
  for (DType dt : {DType::f32, DType::bf16}) {
    for (const LinearCase& c : {LinearCase{1, 1, 1}, {37, 33, 65}, {64, 96, 80}, {130, 7, 3}}) {
      for (bool with_bias : {true, false}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + " N " + std::to_string(c.N) + " C " + std::to_string(c.C) +
                     " OC " + std::to_string(c.OC) + (with_bias ? " bias" : " no bias"));
        std::vector<ParityInput> in;
        in.push_back({random_f32({c.N, c.C}, 60), true});
        in.push_back({random_f32({c.OC, c.C}, 61), true});
        if (with_bias) in.push_back({random_f32({c.OC}, 62), true});
        // bf16: inputs rounded to 2^-9 relative, K <= 96 products of size <= 1 accumulated in float, the
        // output rounded once (the epilogue adds the bias before rounding): as Parity.LinearBf16.
        const Tolerance tol = dt == DType::bf16 ? Tolerance{6e-2, 3e-2} : default_tolerance(dt);
        WEFT_PARITY(in, ([with_bias](Graph& g, const std::vector<Var>& v) {
                      return std::vector<Var>{ops::linear(g, v[0], v[1], with_bias ? v[2] : nullptr)};
                    }),
                    dt, tol);
      }
    }
  }
}

// The unfused paths: a bias only 4-byte aligned (gemm + bias_add) and an empty inner dimension.
TEST_F(OptimParity, LinearForwardKernelFallbacks) {
  for (auto [N, C, OC] : {std::tuple<int64_t, int64_t, int64_t>{9, 13, 5}, {4, 0, 6}}) {
    SCOPED_TRACE("C = " + std::to_string(C));
    std::vector<float> x = values(N * C, 70), w = values(OC * C, 71), b = values(OC, 72), out(N * OC, 5.0f);
    float *gx = upload(x, 0), *gw = upload(w, 0), *gb = upload(b, 1), *go = upload(out, 0);
    cpu::linear_forward(cpu_, DType::f32, out.data(), x.data(), w.data(), b.data(), N, C, OC);
    cuda::linear_forward(gpu_, DType::f32, go, gx, gw, gb, N, C, OC);
    expect_close(download(go, out.size()), out, 1e-5, 1e-4, "out");
  }
}

// linear_gelu: cuBLASLt's GELU_AUX[_BIAS] epilogue for bf16 where OC % 8 == 0 (here OC 8, 24 and 64 with
// odd N), else (OC 1, 3, 65, and every f32 case) linear_forward + the gelu_tanh kernel. Backward through
// the op: dpre from the gelu_tanh kernel, then the linear GEMMs.
TEST(Parity, LinearGeluForwardFusedWithAndWithoutBias) {
  for (DType dt : {DType::f32, DType::bf16}) {
    for (const LinearCase& c :
         {LinearCase{1, 1, 1}, {1, 5, 8}, {37, 33, 65}, {37, 33, 64}, {130, 7, 3}, {131, 96, 24}}) {
      for (bool with_bias : {true, false}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + " N " + std::to_string(c.N) + " C " + std::to_string(c.C) +
                     " OC " + std::to_string(c.OC) + (with_bias ? " bias" : " no bias"));
        std::vector<ParityInput> in;
        in.push_back({random_f32({c.N, c.C}, 63), true});
        in.push_back({random_f32({c.OC, c.C}, 64), true});
        if (with_bias) in.push_back({random_f32({c.OC}, 65), true});
        // bf16: as LinearForwardFusedBias (inputs rounded to 2^-9, float accumulation, one rounding of pre and
        // of out); the GELU's slope is at most 1.13, so it scales those errors by little more than 1.
        const Tolerance tol = dt == DType::bf16 ? Tolerance{6e-2, 3e-2} : default_tolerance(dt);
        WEFT_PARITY(in, ([with_bias](Graph& g, const std::vector<Var>& v) {
                      return std::vector<Var>{ops::linear_gelu(g, v[0], v[1], with_bias ? v[2] : nullptr)};
                    }),
                    dt, tol);
      }
    }
  }
}

// Kernel level, out and pre both checked: the fused bf16 path (all aligned, OC % 8 == 0) and its fallbacks
// (pre only 2-byte aligned, a bias only 2-byte aligned, an empty inner dimension); f32 always unfused. The
// reference is the CPU f32 kernel on the bf16-rounded inputs.
TEST_F(OptimParity, LinearGeluForwardKernelFallbacks) {
  struct Case {
    int64_t N, C, OC;
    int pre_shift, bias_shift;
  };
  for (const Case& c : {Case{9, 13, 16, 0, 0}, {9, 13, 16, 1, 0}, {9, 13, 16, 0, 1}, {4, 0, 8, 0, 0}}) {
    SCOPED_TRACE("C " + std::to_string(c.C) + " pre shift " + std::to_string(c.pre_shift) + " bias shift " +
                 std::to_string(c.bias_shift));
    std::vector<float> x = values(c.N * c.C, 73, -2.0, 2.0), w = values(c.OC * c.C, 74), b = values(c.OC, 75);
    const size_t n = static_cast<size_t>(c.N * c.OC);
    {  // f32
      std::vector<float> out(n, 5.0f), pre(n, 5.0f);
      float *gx = upload(x, 0), *gw = upload(w, 0), *gb = upload(b, c.bias_shift), *go = upload(out, 0),
            *gp = upload(pre, c.pre_shift);
      cpu::linear_gelu_forward(cpu_, DType::f32, out.data(), pre.data(), x.data(), w.data(), b.data(), c.N, c.C,
                               c.OC);
      cuda::linear_gelu_forward(gpu_, DType::f32, go, gp, gx, gw, gb, c.N, c.C, c.OC);
      expect_close(download(go, n), out, 1e-5, 1e-4, "f32 out");
      expect_close(download(gp, n), pre, 1e-5, 1e-4, "f32 pre");
    }
    {  // bf16: inputs rounded to 2^-9, products accumulated in float, out and pre rounded once (2^-9)
      std::vector<bf16> xb = to_bf16(x), wb = to_bf16(w), bb = to_bf16(b), init = to_bf16(std::vector<float>(n, 5));
      std::vector<float> xr = to_f32(xb), wr = to_f32(wb), br = to_f32(bb), out(n), pre(n);
      bf16 *gx = upload(xb, 0), *gw = upload(wb, 0), *gb = upload(bb, c.bias_shift), *go = upload(init, 0),
           *gp = upload(init, c.pre_shift);
      cpu::linear_gelu_forward(cpu_, DType::f32, out.data(), pre.data(), xr.data(), wr.data(), br.data(), c.N, c.C,
                               c.OC);
      cuda::linear_gelu_forward(gpu_, DType::bf16, go, gp, gx, gw, gb, c.N, c.C, c.OC);
      expect_close(to_f32(download(go, n)), out, 1e-2, 1e-2, "bf16 out");
      expect_close(to_f32(download(gp, n)), pre, 1e-2, 1e-2, "bf16 pre");
    }
  }
}

}  // namespace
}  // namespace weft::test
