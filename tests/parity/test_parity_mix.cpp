// CPU-vs-CUDA parity of the mix family. Op level, f32 and bf16: ops::causal_mix on the cases of
// tests/cases/mix_cases.h (T = L and T < L), each with and without bias, comparing y and the gradients of
// x, w and bias; w is random in its upper triangle too (the op must never read it; both backends leave its
// gradient zero). Kernel level, f32 and bf16: tril_copy on the table's kernel cases, copy and accumulate,
// leading dimensions above T, destinations prefilled (the upper triangle of a copy becomes zero, the
// columns past T stay untouched), bit-exact: one float add per element before one rounding on both sides.
// Every case reports SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/mix_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

const DType kDtypes[] = {DType::f32, DType::bf16};

// f32: T-long products in y and dx, B * C-long sums in dw and dbias, in other orders than the CPU's BLAS
// (as the matmul family's default tolerance). bf16: inputs and cotangents rounded to 2^-9 relative, products
// accumulated in float over K <= 130 terms of size <= 1 and stored in bf16 (the matmul family's bf16
// tolerance); dbias is summed over the batch into a bf16 (T, C) scratch first, then over C.
Tolerance mix_tolerance(DType dt) { return dt == DType::bf16 ? Tolerance{1e-1, 3e-2} : default_tolerance(dt); }

TEST(ParityMix, CausalMixEveryCaseWithAndWithoutBias) {
  for (DType dt : kDtypes)
    for (const cases::MixCase& c : cases::kMixCases)
      for (bool with_bias : cases::kMixBias) {
        if (!cases::runs_in(c.runners, cases::kParity)) continue;
        SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c, with_bias));
        std::vector<ParityInput> in;
        in.push_back({random_f32({c.B, c.T, c.C}, 1), true});
        in.push_back({random_f32({c.L, c.L}, 2), true});
        in.push_back({random_f32({c.L}, 3), true});
        WEFT_PARITY(in, ([with_bias](Graph& g, const std::vector<Var>& v) {
                      return std::vector<Var>{ops::causal_mix(g, v[0], v[1], with_bias ? v[2] : nullptr)};
                    }),
                    dt, mix_tolerance(dt));
      }
}

class MixKernelParity : public GpuKernelTest {
 protected:
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

// src (T, ld_src), dst (T, ld_dst) prefilled; the reference is the CPU f32 kernel on the same (bf16: the
// bf16-rounded) values, rounded to bf16 once as the GPU stores it.
TEST_F(MixKernelParity, TrilCopyEveryCaseCopyAndAccumulate) {
  for (const cases::TrilCase& c : cases::kTrilCases)
    for (bool accumulate : cases::kTrilAccumulate)
      for (DType dt : kDtypes) {
        if (!cases::runs_in(c.runners, cases::kParity)) continue;
        SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c, accumulate));
        std::vector<float> src = values(c.T * c.ld_src, 10), dst = values(c.T * c.ld_dst, 11);
        if (dt == DType::bf16) src = to_f32(to_bf16(src)), dst = to_f32(to_bf16(dst));
        std::vector<float> want = dst;
        cpu::tril_copy(cpu_, DType::f32, want.data(), c.ld_dst, src.data(), c.ld_src, c.T, accumulate);
        std::vector<float> got;
        if (dt == DType::f32) {
          float *gs = upload(src, 0), *gd = upload(dst, 0);
          cuda::tril_copy(gpu_, dt, gd, c.ld_dst, gs, c.ld_src, c.T, accumulate);
          got = download(gd, dst.size());
        } else {
          want = to_f32(to_bf16(want));
          bf16 *gs = upload(to_bf16(src), 0), *gd = upload(to_bf16(dst), 0);
          cuda::tril_copy(gpu_, dt, gd, c.ld_dst, gs, c.ld_src, c.T, accumulate);
          got = to_f32(download(gd, dst.size()));
        }
        expect_all_near(got, want, 0.0, 0.0, "dst");
      }
}

}  // namespace
}  // namespace weft::test
