// CPU-vs-CUDA parity of the softmax family (softmax, logsumexp). Op level, f32 and bf16: the cases of
// tests/cases/softmax_cases.h, plain (probabilities spread over orders of magnitude) and masked (large
// logits, -inf entries). Kernel level (f32): misaligned pointers, "+=" into a non-zero gradient. Every case
// reports SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/softmax_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

// op (softmax or logsumexp) on every case of tests/cases/softmax_cases.h, plain and masked, in each dtype.
void every_case(std::initializer_list<DType> dtypes, Var (*op)(Graph&, Var), uint64_t seed) {
  for (DType dt : dtypes)
    for (const cases::SoftmaxCase& c : cases::kSoftmaxCases)
      for (bool masked : cases::kSoftmaxMasked) {
        if (!cases::runs_in(c.runners, cases::kParity) || c.shift) continue;
        SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c, masked));
        std::vector<ParityInput> in;
        Shape s = c.lead > 1 ? Shape{c.lead, c.N, c.C} : Shape{c.N, c.C};
        in.push_back({random_f32(s, seed, masked ? -40.0 : -6.0, masked ? 40.0 : 6.0), true});
        if (masked)
          for (int64_t i = 0; i < s.numel(); ++i)
            if (cases::softmax_masked_out(i, c.C)) in[0].value.ptr<float>()[i] = -INFINITY;
        WEFT_PARITY(in, ([op](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{op(g, v[0])}; }), dt,
                    default_tolerance(dt));
      }
}

TEST(ParitySoftmax, EveryCasePlainAndMasked) { every_case({DType::f32, DType::bf16}, &ops::softmax, 9); }

TEST(ParityLogSumExp, EveryCasePlainAndMasked) {  // f32 only: the op refuses bf16
  every_case({DType::f32}, &ops::logsumexp, 19);
}

// ---- kernel level, f32, on memory the arena never hands out.
class RowKernelParity : public GpuKernelTest {
 protected:
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, const char* what,
                           double rtol = 1e-4) {
    expect_all_near(got, want, 1e-5, rtol, what);
  }
};

TEST_F(RowKernelParity, SoftmaxMisalignedAccumulate) {
  for (int64_t C : {int64_t(64), int64_t(4096)}) {
    SCOPED_TRACE("C=" + std::to_string(C));
    const int64_t N = 3;
    auto x = values(N * C, 8, -5, 5), dy = values(N * C, 9), dx = values(N * C, 10);
    std::vector<float> y(N * C);
    float *gx = upload(x), *gy = upload(y), *gdy = upload(dy), *gdx = upload(dx);
    cpu::softmax_forward(cpu_, DType::f32, y.data(), x.data(), N, C);
    cuda::softmax_forward(gpu_, DType::f32, gy, gx, N, C);
    expect_close(download(gy, N * C), y, "softmax y");
    cpu::softmax_backward(cpu_, DType::f32, dx.data(), dy.data(), y.data(), N, C);
    cuda::softmax_backward(gpu_, DType::f32, gdx, gdy, gy, N, C);
    expect_close(download(gdx, N * C), dx, "softmax dx");
  }
}

}  // namespace
}  // namespace weft::test
