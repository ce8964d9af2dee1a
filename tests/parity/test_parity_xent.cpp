// CPU-vs-CUDA parity of the xent family (fused cross-entropy). Op level, f32 and bf16: the cases of
// tests/cases/xent_cases.h with each ignore_index and normaliser, an ignore_index inside the vocabulary
// with fixed targets, and an all-ignored batch. Kernel level (f32): misaligned logits and gradient (scalar
// path), an aligned vocabulary of 4096 (vector path), dloss on the device, in place and accumulated. Every
// case reports SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/xent_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

TEST(ParityXent, EveryCaseIgnoreIndexAndNormalizer) {
  for (DType dt : {DType::f32, DType::bf16})
    for (const cases::XentCase& c : cases::kXentCases)
      for (int32_t ignore : cases::kXentIgnoreIndices)
        for (float normalizer : cases::kXentNormalizers) {
          if (!cases::runs_in(c.runners, cases::kParity) || c.shift) continue;
          SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c, ignore, normalizer));
          OwnedTensor targets(DType::i32, {c.N});
          for (int64_t r = 0; r < c.N; ++r) targets.ptr<int32_t>()[r] = cases::xent_target(r, c.V, ignore);
          std::vector<ParityInput> in;
          in.push_back({random_f32({c.N, c.V}, 11, -4.0, 4.0), true});
          in.push_back({std::move(targets), false});
          // bf16: the loss is f32 and averages per-row errors of |x| * 2^-9 <= 0.008; dlogits are below
          // scale = 1 / rows, well inside the default bf16 tolerance.
          WEFT_PARITY(in, ([ignore, normalizer](Graph& g, const std::vector<Var>& v) {
                        return std::vector<Var>{ops::cross_entropy(g, v[0], v[1], ignore, normalizer)};
                      }),
                      dt, default_tolerance(dt));
        }
}

TEST(ParityXent, CrossEntropyIgnoreIndexInsideVocabularyAndAllIgnored) {
  for (DType dt : {DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(dt));
    std::vector<ParityInput> in;
    in.push_back({random_f32({7, 5}, 12, -3.0, 3.0), true});
    in.push_back({from_values(DType::i32, {7}, {0, 2, 1, 2, 4, 0, 3}), false});  // class 2 is ignored
    WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                  return std::vector<Var>{ops::cross_entropy(g, v[0], v[1], 2)};
                }),
                dt, default_tolerance(dt));
    std::vector<ParityInput> all;
    all.push_back({random_f32({3, 40}, 13, -3.0, 3.0), true});
    all.push_back({from_values(DType::i32, {3}, {-100, -100, -100}), false});  // loss 0, zero gradient
    WEFT_PARITY(all, ([](Graph& g, const std::vector<Var>& v) {
                  return std::vector<Var>{ops::cross_entropy(g, v[0], v[1])};
                }),
                dt, default_tolerance(dt));
  }
}

// ---- kernel level, f32, on memory the arena never hands out.
class RowKernelParity : public GpuKernelTest {
 protected:
  static void expect_close(const std::vector<float>& got, const std::vector<float>& want, const char* what,
                           double rtol = 1e-4) {
    expect_all_near(got, want, 1e-5, rtol, what);
  }
};

// xent_forward, xent_forward_grad and xent_grad_apply directly (the op also needs reduce_sum): misaligned
// logits and gradient (scalar path), an aligned vocabulary of 4096 (vector path), ignored rows; the gradient
// overwrites stale values that differ on each side; dloss on the device, applied in place (0.75, and 1: no
// change) and accumulated into a gradient that holds values.
TEST_F(RowKernelParity, CrossEntropyKernelsMisalignedAndVectorised) {
  struct Case {
    int64_t V;
    int shift;
  };
  for (Case c : {Case{37, 1}, Case{2053, 1}, Case{4096, 0}, Case{4096, 1}}) {
    SCOPED_TRACE("V=" + std::to_string(c.V) + " shift " + std::to_string(c.shift));
    const int64_t N = 6, V = c.V, n = N * V;
    const int32_t ignore = -100;
    auto logits = values(n, 12, -6, 6), dlogits = values(n, 13);
    std::vector<int32_t> targets = {3, ignore, 0, static_cast<int32_t>(V - 1), ignore, static_cast<int32_t>(V / 2)};
    std::vector<float> losses(N), lse(N), dloss = {0.75f}, one = {1.0f};
    float *gl = upload(logits, c.shift), *gd = upload(values(n, 15), c.shift), *glosses = upload(losses);
    float *glse = upload(lse), *gdloss = upload(dloss), *gone = upload(one);
    int32_t* gt = upload(targets);
    cpu::xent_forward(cpu_, DType::f32, losses.data(), lse.data(), logits.data(), targets.data(), N, V, ignore);
    cuda::xent_forward(gpu_, DType::f32, glosses, glse, gl, gt, N, V, ignore);
    expect_close(download(glosses, N), losses, "losses");
    expect_close(download(glse, N), lse, "lse");
    auto fresh = values(n, 14);  // stale contents the gradient must overwrite, different from the GPU's
    cpu::xent_forward_grad(cpu_, DType::f32, losses.data(), lse.data(), fresh.data(), logits.data(), targets.data(),
                           N, V, ignore, 0.25f);
    cuda::xent_forward_grad(gpu_, DType::f32, glosses, glse, gd, gl, gt, N, V, ignore, 0.25f);
    expect_close(download(glosses, N), losses, "losses (with the gradient)");
    expect_close(download(glse, N), lse, "lse (with the gradient)");
    expect_close(download(gd, n), fresh, "dlogits (written by the forward)");
    float* gacc = upload(dlogits, c.shift);
    cpu::xent_grad_apply(cpu_, DType::f32, dlogits.data(), fresh.data(), dloss.data(), n, true);
    cuda::xent_grad_apply(gpu_, DType::f32, gacc, gd, gdloss, n, true);
    expect_close(download(gacc, n), dlogits, "dlogits (accumulated, dloss 0.75)");
    cpu::xent_grad_apply(cpu_, DType::f32, fresh.data(), fresh.data(), one.data(), n, false);
    cuda::xent_grad_apply(gpu_, DType::f32, gd, gd, gone, n, false);
    expect_close(download(gd, n), fresh, "dlogits (in place, dloss 1)");
    cpu::xent_grad_apply(cpu_, DType::f32, fresh.data(), fresh.data(), dloss.data(), n, false);
    cuda::xent_grad_apply(gpu_, DType::f32, gd, gd, gdloss, n, false);
    expect_close(download(gd, n), fresh, "dlogits (in place, dloss 0.75)");
  }
}

}  // namespace
}  // namespace weft::test
