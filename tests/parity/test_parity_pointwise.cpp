// CPU-vs-CUDA parity of the pointwise ops on the cases of tests/cases/pointwise_cases.h: broadcasting
// add/sub/mul (forward and the reduced gradient of a broadcast operand), scale (axpby), swiglu, dropout (the
// same Philox mask on both backends) and unary activations, in f32 and bf16 with tolerances for the dtype;
// casts; kernel level (f32): unary, axpby, dropout and cast on misaligned pointers. SKIPPED without a GPU.
#include <cmath>
#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"

#include "tests/cases/pointwise_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

const char* binary_label(BinaryOp op) { return op == BinaryOp::add ? "add" : op == BinaryOp::sub ? "sub" : "mul"; }

std::vector<ParityInput> f32_inputs(std::initializer_list<Shape> shapes, uint64_t seed = 1) {
  std::vector<ParityInput> in;
  for (const Shape& s : shapes) in.push_back({random_f32(s, seed++), true});
  return in;
}

const DType kDtypes[] = {DType::f32, DType::bf16};

Shape shape_of(const cases::Dims& d) { return Shape::from(d.d, d.d + d.rank); }

void check_binary(DType dt, Tolerance tol) {
  for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul}) {
    uint64_t seed = 10;
    for (const cases::BinaryCase& c : cases::kBinaryCases) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(std::string(binary_label(op)) + " " + cases::describe(c) + " in " + std::string(dtype_name(dt)));
      auto in = f32_inputs({shape_of(c.a), shape_of(c.b)}, seed += 2);
      WEFT_PARITY(in, ([op](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::binary(g, op, v[0], v[1])};
                  }),
                  dt, tol);
    }
  }
}

TEST(ParityBinary, AddSubMulBroadcastF32) { check_binary(DType::f32, default_tolerance(DType::f32)); }

// The (512, 64) + (64) case sums 512 bf16-sized terms in float: the CPU sums exact f32 inputs, so allow
// for the input rounding of bf16 (2^-9 relative per term, random signs).
TEST(ParityBinary, AddSubMulBroadcastBf16) { check_binary(DType::bf16, Tolerance{1e-1, 2e-2}); }

TEST(ParityBinary, OneSideNeedsNoGradient) {
  std::vector<ParityInput> in;
  in.push_back({random_f32({9, 17}, 3), true});
  in.push_back({random_f32({17}, 4), false});
  WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::mul(g, v[0], v[1])}; }),
              DType::f32, default_tolerance(DType::f32));
}

TEST(ParityScale, AxpbyEveryCase) {
  for (DType dt : kDtypes)
    for (const cases::Dims& d : cases::kScaleCases) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::dims_str(d));
      auto in = f32_inputs({shape_of(d)});
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                    // Used twice: the second backward accumulates (beta = 1) onto the first.
                    return std::vector<Var>{ops::scale(g, v[0], 0.37f), ops::scale(g, v[0], -2.5f)};
                  }),
                  dt, default_tolerance(dt));
    }
}

TEST(ParityCast, F32ToBf16AndBackIsExact) {
  auto in = f32_inputs({{7, 33}});
  WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                return std::vector<Var>{ops::cast(g, ops::cast(g, v[0], DType::bf16), DType::f32)};
              }),
              DType::f32, (Tolerance{0.0, 0.0}));
}

TEST(ParityCast, F32ToF64) {
  auto in = f32_inputs({{3, 11}});
  WEFT_PARITY(in,
              ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::cast(g, v[0], DType::f64)}; }),
              DType::f32, default_tolerance(DType::f32));
}

TEST(ParityCast, Bf16ToF32) {
  auto in = f32_inputs({{4, 9}});
  WEFT_PARITY(in,
              ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::cast(g, v[0], DType::f32)}; }),
              DType::bf16, default_tolerance(DType::bf16));
}

TEST(ParitySwiglu, EveryCase) {
  // (7, 66): F = 33 takes the scalar path; (4, 3, 32): F = 16 the vector path in both dtypes.
  for (DType dt : kDtypes)
    for (const cases::Dims& d : cases::kSwigluCases) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::dims_str(d));
      std::vector<ParityInput> in;
      in.push_back({random_f32(shape_of(d), 21, -3.0, 3.0), true});
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::swiglu(g, v[0])}; }),
                  dt, default_tolerance(dt));
    }
}

TEST(ParityDropout, EveryCaseSameMask) {
  // A non-zero Philox offset.
  for (DType dt : kDtypes)
    for (const cases::DropoutCase& c : cases::kDropoutCases) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c));
      auto in = f32_inputs({shape_of(c.x)}, 31);
      const float p = c.p;
      WEFT_PARITY(in, ([p](Graph& g, const std::vector<Var>& v) {
                    Rng rng(1234, 5);  // built per run: both backends draw the same counters
                    rng.take(37);
                    return std::vector<Var>{ops::dropout(g, v[0], p, rng)};
                  }),
                  dt, default_tolerance(dt));
    }
}

// Unary ops on every case (the misaligned ones are the emulator's): f32 with the default tolerance; bf16:
// exp and square reach 7.4 and 4, so their bf16 outputs carry 2^-9 relative error on top of the input's.
void check_unary(DType dt, Tolerance tol) {
  for (const cases::UnaryCase& c : cases::kUnaryCases)
    for (int op = 0; op < static_cast<int>(UnaryOp::count); ++op) {
      if (!cases::runs_in(c.runners, cases::kParity) || c.shift) continue;
      UnaryOp u = static_cast<UnaryOp>(op);
      bool positive = u == UnaryOp::log || u == UnaryOp::rsqrt;
      std::vector<ParityInput> in;
      in.push_back({random_f32(shape_of(c.x), 3, positive ? 0.5 : -2.0, 2.0), true});
      SCOPED_TRACE(std::string(unary_name(u)) + " " + cases::describe(c));
      WEFT_PARITY(in, ([u](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::unary(g, u, v[0])}; }),
                  dt, tol);
    }
}

TEST(ParityUnary, AllOpsEveryCaseBf16) { check_unary(DType::bf16, Tolerance{3e-2, 3e-2}); }

TEST(ParityUnary, AllOpsEveryCaseF32) { check_unary(DType::f32, default_tolerance(DType::f32)); }

// ---- kernel level, f32, on memory the arena never hands out: pointers one element past an alignment
// boundary (the scalar fallbacks of the vectorised kernels).
class KernelParity : public GpuKernelTest {
 protected:
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rtol = 1e-5) {
    expect_all_near(got, want, 1e-6, rtol);
  }
};

TEST_F(KernelParity, UnaryForwardAndBackwardMisaligned) {
  const size_t n = 37;
  for (bool accumulate : {true, false}) {
    SCOPED_TRACE(accumulate ? "accumulate" : "write");
    std::vector<float> x = values(n, 1), dy = values(n, 2), dx = values(n, 3), y(n);
    cpu::unary_forward(cpu_, DType::f32, UnaryOp::gelu_tanh, y.data(), x.data(), n);
    float *gx = upload(x), *gy = upload(std::vector<float>(n)), *gdy = upload(dy), *gdx = upload(dx);
    cuda::unary_forward(gpu_, DType::f32, UnaryOp::gelu_tanh, gy, gx, n);
    cpu::unary_backward(cpu_, DType::f32, UnaryOp::gelu_tanh, dx.data(), dy.data(), x.data(), y.data(), n,
                        accumulate);
    cuda::unary_backward(gpu_, DType::f32, UnaryOp::gelu_tanh, gdx, gdy, gx, gy, n, accumulate);
    expect_close(download(gy, n), y);
    expect_close(download(gdx, n), dx);
  }
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

}  // namespace
}  // namespace weft::test
