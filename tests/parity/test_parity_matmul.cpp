// CPU-vs-CUDA parity of the matmul family: matmul (every transpose combination, batched, shared B; f32 and
// bf16), linear with the bias in cuBLASLt's epilogue and linear_gelu (GELU_AUX[_BIAS] for bf16) through the
// ops and at kernel level (fallbacks), a long bias reduction in chunks, a GEMM with K = 0. Every case
// reports SKIPPED without a GPU.
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

TEST(Parity, MatmulF32) {
  auto in = f32_inputs({{2, 33, 17}, {2, 17, 9}});
  WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::matmul(g, v[0], v[1])}; }),
              DType::f32, default_tolerance(DType::f32));
}

TEST(Parity, LinearBf16) {
  auto in = f32_inputs({{64, 96}, {80, 96}, {80}});
  WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                return std::vector<Var>{ops::linear(g, v[0], v[1], v[2])};
              }),
              DType::bf16, (Tolerance{6e-2, 3e-2}));
}

struct MatmulCase {
  Shape a, b;
  bool ta, tb;
};

// Every transpose combination, batched, and shared-B forms. Odd sizes put batch matrices at addresses
// that are only 4-byte (f32) or 2-byte (bf16) aligned, which cuBLASLt must be told about; a shared B
// with A transposed is a strided batch with a zero stride.
const MatmulCase kMatmulCases[] = {
    {{3, 7}, {7, 5}, false, false},       {{7, 3}, {7, 5}, true, false},   {{3, 7}, {5, 7}, false, true},
    {{7, 3}, {5, 7}, true, true},         {{2, 3, 7}, {2, 7, 5}, false, false}, {{2, 7, 3}, {2, 5, 7}, true, true},
    {{2, 3, 3, 7}, {7, 5}, false, false}, {{3, 7, 3}, {7, 5}, true, false},  {{3, 7, 3}, {5, 7}, true, true},
    {{1, 1}, {1, 33}, false, false},      {{65, 130}, {130, 72}, false, false},
};

TEST(Parity, MatmulTransposedBatchedSharedF32AndBf16) {
  for (DType dt : {DType::f32, DType::bf16}) {
    for (const MatmulCase& c : kMatmulCases) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + c.a.str() + (c.ta ? "^T" : "") + " @ " + c.b.str() +
                   (c.tb ? "^T" : ""));
      auto in = f32_inputs({c.a, c.b});
      // bf16: products of 2^-9-rounded inputs summed over K <= 130 terms of size <= 1.
      Tolerance tol = dt == DType::bf16 ? Tolerance{1e-1, 3e-2} : default_tolerance(dt);
      WEFT_PARITY(in, ([c](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::matmul(g, v[0], v[1], c.ta, c.tb)};
                  }),
                  dt, tol);
    }
  }
}

TEST(Parity, LinearLongBatchF32) {
  // 300 rows: the bias gradient is a long column reduction, split in chunks on the GPU.
  auto in = f32_inputs({{300, 40}, {24, 40}, {24}});
  WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                return std::vector<Var>{ops::linear(g, v[0], v[1], v[2])};
              }),
              DType::f32, default_tolerance(DType::f32));
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
