// CPU-vs-CUDA parity of the matmul family, op level, f32 and bf16, on the cases of
// tests/cases/matmul_cases.h: matmul (every transpose combination, batched, shared B), linear with the bias
// in cuBLASLt's epilogue and linear_gelu (GELU_AUX[_BIAS] for bf16 where OC % 8 == 0, else linear_forward +
// the gelu_tanh kernel; backward: dpre from the gelu_tanh kernel, then the linear GEMMs), each with and
// without bias. Kernel level: the unfused fallbacks, a long bias reduction in chunks, a GEMM with K = 0.
// Every case reports SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/matmul_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

const DType kDtypes[] = {DType::f32, DType::bf16};

Shape shape_of(const cases::Dims& d) { return Shape::from(d.d, d.d + d.rank); }

// bf16: products of 2^-9-rounded inputs summed over K <= 130 terms of size <= 1.
Tolerance matmul_tolerance(DType dt) { return dt == DType::bf16 ? Tolerance{1e-1, 3e-2} : default_tolerance(dt); }

// bf16: inputs rounded to 2^-9 relative, K <= 96 products of size <= 1 accumulated in float, the output
// rounded once (the epilogue adds the bias before rounding); for linear_gelu also pre, and the GELU's slope
// is at most 1.13, so it scales those errors by little more than 1.
Tolerance linear_tolerance(DType dt) { return dt == DType::bf16 ? Tolerance{6e-2, 3e-2} : default_tolerance(dt); }

TEST(ParityMatmul, MatmulEveryCase) {
  for (DType dt : kDtypes)
    for (const cases::MatmulCase& c : cases::kMatmulCases) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c));
      std::vector<ParityInput> in;
      in.push_back({random_f32(shape_of(c.a), 1), true});
      in.push_back({random_f32(shape_of(c.b), 2), true});
      WEFT_PARITY(in, ([c](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::matmul(g, v[0], v[1], c.ta, c.tb)};
                  }),
                  dt, matmul_tolerance(dt));
    }
}

void check_linear(bool gelu, uint64_t seed) {
  for (DType dt : kDtypes)
    for (const cases::LinearCase& c : cases::kLinearCases)
      for (bool with_bias : cases::kLinearBias) {
        if (!cases::runs_in(c.runners, cases::kParity)) continue;
        SCOPED_TRACE(std::string(dtype_name(dt)) + (gelu ? " linear_gelu " : " linear ") +
                     cases::describe(c, with_bias));
        std::vector<ParityInput> in;
        in.push_back({random_f32(c.lead > 1 ? Shape{c.lead, c.N, c.C} : Shape{c.N, c.C}, seed), true});
        in.push_back({random_f32({c.OC, c.C}, seed + 1), true});
        if (with_bias) in.push_back({random_f32({c.OC}, seed + 2), true});
        WEFT_PARITY(in, ([gelu, with_bias](Graph& g, const std::vector<Var>& v) {
                      Var b = with_bias ? v[2] : nullptr;
                      return std::vector<Var>{gelu ? ops::linear_gelu(g, v[0], v[1], b) : ops::linear(g, v[0], v[1], b)};
                    }),
                    dt, linear_tolerance(dt));
      }
}

TEST(ParityMatmul, LinearEveryCaseWithAndWithoutBias) { check_linear(false, 60); }

TEST(ParityMatmul, LinearGeluEveryCaseWithAndWithoutBias) { check_linear(true, 63); }

class MatmulKernelParity : public GpuKernelTest {
 protected:
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol,
                           const char* what) {
    ASSERT_EQ(got.size(), want.size());
    expect_all_near(got, want, atol, rtol, what);
  }
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rtol = 1e-5) {
    expect_all_near(got, want, 1e-6, rtol);
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

// The unfused paths: a bias only 4-byte aligned (gemm + bias_add) and an empty inner dimension.
TEST_F(MatmulKernelParity, LinearForwardKernelFallbacks) {
  for (auto [N, C, OC] : {std::tuple<int64_t, int64_t, int64_t>{9, 13, 5}, {4, 0, 6}}) {
    SCOPED_TRACE("C = " + std::to_string(C));
    std::vector<float> x = values(N * C, 70), w = values(OC * C, 71), b = values(OC, 72), out(N * OC, 5.0f);
    float *gx = upload(x, 0), *gw = upload(w, 0), *gb = upload(b, 1), *go = upload(out, 0);
    cpu::linear_forward(cpu_, DType::f32, out.data(), x.data(), w.data(), b.data(), N, C, OC);
    cuda::linear_forward(gpu_, DType::f32, go, gx, gw, gb, N, C, OC);
    expect_close(download(go, out.size()), out, 1e-5, 1e-4, "out");
  }
}

// Kernel level, out and pre both checked: the fused bf16 path (all aligned, OC % 8 == 0) and its fallbacks
// (pre only 2-byte aligned, a bias only 2-byte aligned, an empty inner dimension); f32 always unfused. The
// reference is the CPU f32 kernel on the bf16-rounded inputs.
TEST_F(MatmulKernelParity, LinearGeluForwardKernelFallbacks) {
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

TEST_F(MatmulKernelParity, BiasBackwardLongReductionInChunks) {
  const int64_t N = 3000, C = 5;  // 3000 rows per column: split into chunks, partials summed in order
  auto dout = values(N * C, 10), db = values(C, 11);
  float *gd = upload(dout, 0), *gb = upload(db);
  cpu::bias_backward(cpu_, DType::f32, db.data(), dout.data(), N, C);
  cuda::bias_backward(gpu_, DType::f32, gb, gd, N, C);
  expect_close(download(gb, C), db, 1e-4);
}

TEST_F(MatmulKernelParity, GemmWithEmptyInnerDimScalesC) {
  const int64_t M = 3, N = 4;
  auto c = values(M * N, 12);
  float* gc = upload(c, 0);
  cpu::gemm(cpu_, DType::f32, false, false, M, N, 0, 1.0f, nullptr, 1, 0, nullptr, N, 0, 0.5f, c.data(), N, 0, 1);
  cuda::gemm(gpu_, DType::f32, false, false, M, N, 0, 1.0f, nullptr, 1, 0, nullptr, N, 0, 0.5f, gc, N, 0, 1);
  expect_close(download(gc, M * N), c);
}

}  // namespace
}  // namespace weft::test
