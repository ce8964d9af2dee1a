// CPU-vs-CUDA parity of the row kernels: layernorm, rmsnorm, softmax and the fused cross-entropy.
// Op level (f32 and bf16): odd row lengths (scalar loads), multiples of the 16-byte vector (vector loads),
// rows short enough for a warp and longer than a block's stride (5000, 5001), one row and row counts that
// leave a block partly empty, with and without weight / bias, ignored rows. Kernel level (f32): pointers one
// element off 16-byte alignment (the scalar fallbacks), "+=" into non-zero gradients, more rows than one
// sweep of the capped grid. Every case reports SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

// Row lengths: 1, odd (37, 769, 5001: scalar loads), multiples of 8 (64, 1032, 5000: 16-byte vectors for
// f32 and bf16); up to 1024 a warp owns a row, beyond it a block (1032, 5000, 5001).
const int64_t kRowLengths[] = {1, 37, 64, 769, 1032, 5000, 5001};

// Rows per case: 17 leaves the last block of warp teams (8 rows per block) partly empty; long rows use 3.
int64_t rows_for(int64_t C) { return C > 1024 ? 3 : 17; }

// bf16 parity: GPU inputs and cotangents are rounded to 2^-9 relative and outputs / gradients stored in
// bf16 (another 2^-9); a row's statistics are computed in float from the rounded values. dweight / dbias
// are sums over N rows of such products, so their error grows like sqrt(N) * 2^-9: an emulation of these
// roundings on the CPU needs atol 0.014 at N = 64, C = 769 (rtol 2e-2); N <= 64 here, so 4e-2 leaves margin.
Tolerance norm_tolerance(DType dt) { return dt == DType::bf16 ? Tolerance{4e-2, 2e-2} : default_tolerance(dt); }

std::string trace(DType dt, int64_t N, int64_t C, const char* mode) {
  return std::string(dtype_name(dt)) + " N=" + std::to_string(N) + " C=" + std::to_string(C) + " " + mode;
}

TEST(ParityRows, LayerNormWithAndWithoutWeightAndBias) {
  for (DType dt : {DType::f32, DType::bf16})
    for (int64_t C : kRowLengths)
      for (int mode = 0; mode < 3; ++mode) {  // 0: weight and bias, 1: weight only, 2: neither
        const int64_t N = rows_for(C);
        SCOPED_TRACE(trace(dt, N, C, mode == 0 ? "weight+bias" : mode == 1 ? "weight" : "no params"));
        std::vector<ParityInput> in;
        in.push_back({random_f32({N, C}, 1, -2.0, 2.0), true});
        if (mode <= 1) in.push_back({random_f32({C}, 2), true});
        if (mode == 0) in.push_back({random_f32({C}, 3), true});
        WEFT_PARITY(in, ([mode](Graph& g, const std::vector<Var>& v) {
                      Var w = mode <= 1 ? v[1] : nullptr, b = mode == 0 ? v[2] : nullptr;
                      return std::vector<Var>{ops::layernorm(g, v[0], w, b)};
                    }),
                    dt, norm_tolerance(dt));
      }
}

TEST(ParityRows, RmsNormWithAndWithoutWeight) {
  for (DType dt : {DType::f32, DType::bf16})
    for (int64_t C : kRowLengths)
      for (bool with_weight : {true, false}) {
        const int64_t N = rows_for(C);
        SCOPED_TRACE(trace(dt, N, C, with_weight ? "weight" : "no weight"));
        std::vector<ParityInput> in;
        in.push_back({random_f32({N, C}, 4, -2.0, 2.0), true});
        if (with_weight) in.push_back({random_f32({C}, 5), true});
        WEFT_PARITY(in, ([with_weight](Graph& g, const std::vector<Var>& v) {
                      return std::vector<Var>{ops::rmsnorm(g, v[0], with_weight ? v[1] : nullptr)};
                    }),
                    dt, norm_tolerance(dt));
      }
}

TEST(ParityRows, NormsOverManyRowsSumParameterGradients) {
  // 64 rows of 37 (warp teams, 8 blocks) and of 1032 (block teams): long column sums for dweight / dbias.
  for (DType dt : {DType::f32, DType::bf16})
    for (int64_t C : {int64_t(37), int64_t(1032)}) {
      SCOPED_TRACE(trace(dt, 64, C, "layernorm + rmsnorm"));
      std::vector<ParityInput> in;
      in.push_back({random_f32({4, 16, C}, 6, -2.0, 2.0), true});
      in.push_back({random_f32({C}, 7), true});
      in.push_back({random_f32({C}, 8), true});
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::layernorm(g, v[0], v[1], v[2]), ops::rmsnorm(g, v[0], v[1])};
                  }),
                  dt, norm_tolerance(dt));
    }
}

TEST(ParityRows, Softmax) {
  for (DType dt : {DType::f32, DType::bf16})
    for (int64_t C : kRowLengths) {
      const int64_t N = rows_for(C);
      SCOPED_TRACE(trace(dt, N, C, "softmax"));
      std::vector<ParityInput> in;
      in.push_back({random_f32({N, C}, 9, -6.0, 6.0), true});  // probabilities spread over orders of magnitude
      WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::softmax(g, v[0])}; }),
                  dt, default_tolerance(dt));
    }
}

TEST(ParityRows, CrossEntropyWithIgnoredRows) {
  // Vocabularies as the row lengths, plus a GPT-2-sized one (50257, odd) on a few rows.
  std::vector<int64_t> vocab(std::begin(kRowLengths), std::end(kRowLengths));
  vocab.push_back(50257);
  for (DType dt : {DType::f32, DType::bf16})
    for (int64_t V : vocab)
      for (float normalizer : {0.0f, 20.0f}) {
        const int64_t N = V > 5001 ? 4 : rows_for(V);
        SCOPED_TRACE(trace(dt, N, V, normalizer > 0 ? "normalizer 20" : "counted rows"));
        OwnedTensor targets = random_ids({N}, 10, static_cast<int32_t>(V));
        targets.ptr<int32_t>()[0] = -100;
        if (N > 3) targets.ptr<int32_t>()[N - 2] = -100;
        std::vector<ParityInput> in;
        in.push_back({random_f32({N, V}, 11, -4.0, 4.0), true});
        in.push_back({std::move(targets), false});
        // bf16: the loss is f32 and averages per-row errors of |x| * 2^-9 <= 0.008; dlogits are below
        // scale = 1 / rows, well inside the default bf16 tolerance.
        WEFT_PARITY(in, ([normalizer](Graph& g, const std::vector<Var>& v) {
                      return std::vector<Var>{ops::cross_entropy(g, v[0], v[1], -100, normalizer)};
                    }),
                    dt, default_tolerance(dt));
      }
}

TEST(ParityRows, CrossEntropyIgnoreIndexInsideVocabularyAndAllIgnored) {
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
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-5 + rtol * std::fabs(want[i])) << what << " element " << i;
  }
};

// Forward and backward of layernorm and rmsnorm with every pointer misaligned by one float (C = 64 would
// take 16-byte vectors if aligned); the gradients start non-zero and must be accumulated into.
TEST_F(RowKernelParity, NormsMisalignedAccumulate) {
  for (int64_t C : {int64_t(64), int64_t(2048)}) {
    SCOPED_TRACE("C=" + std::to_string(C));
    const int64_t N = 5;
    auto x = values(N * C, 1, -2, 2), w = values(C, 2), b = values(C, 3), dout = values(N * C, 4);
    auto dx = values(N * C, 5), dw = values(C, 6), db = values(C, 7);
    std::vector<float> out(N * C), mean(N), rstd(N);
    float *gx = upload(x), *gw = upload(w), *gb = upload(b), *gdout = upload(dout), *gout = upload(out);
    float *gmean = upload(mean), *grstd = upload(rstd), *gdx = upload(dx), *gdw = upload(dw), *gdb = upload(db);

    cpu::layernorm_forward(cpu_, DType::f32, out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N,
                           C, 1e-5f);
    cuda::layernorm_forward(gpu_, DType::f32, gout, gmean, grstd, gx, gw, gb, N, C, 1e-5f);
    expect_close(download(gout, N * C), out, "layernorm out");
    expect_close(download(gmean, N), mean, "layernorm mean");
    expect_close(download(grstd, N), rstd, "layernorm rstd");
    cpu::layernorm_backward(cpu_, DType::f32, dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(),
                            mean.data(), rstd.data(), N, C);
    cuda::layernorm_backward(gpu_, DType::f32, gdx, gdw, gdb, gdout, gx, gw, gmean, grstd, N, C);
    expect_close(download(gdx, N * C), dx, "layernorm dx");
    expect_close(download(gdw, C), dw, "layernorm dweight");
    expect_close(download(gdb, C), db, "layernorm dbias");

    cpu::rmsnorm_forward(cpu_, DType::f32, out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-6f);
    cuda::rmsnorm_forward(gpu_, DType::f32, gout, grstd, gx, gw, N, C, 1e-6f);
    expect_close(download(gout, N * C), out, "rmsnorm out");
    expect_close(download(grstd, N), rstd, "rmsnorm rstd");
    cpu::rmsnorm_backward(cpu_, DType::f32, dx.data(), dw.data(), dout.data(), x.data(), w.data(), rstd.data(), N, C);
    cuda::rmsnorm_backward(gpu_, DType::f32, gdx, gdw, gdout, gx, gw, grstd, N, C);
    expect_close(download(gdx, N * C), dx, "rmsnorm dx");
    expect_close(download(gdw, C), dw, "rmsnorm dweight");

    // Without dx: only the parameter gradients move.
    cpu::layernorm_backward(cpu_, DType::f32, nullptr, dw.data(), nullptr, dout.data(), x.data(), w.data(),
                            mean.data(), rstd.data(), N, C);
    cuda::layernorm_backward(gpu_, DType::f32, nullptr, gdw, nullptr, gdout, gx, gw, gmean, grstd, N, C);
    expect_close(download(gdw, C), dw, "layernorm dweight only");
  }
}

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

// More rows than one sweep of the capped grid (65536 blocks of 8 warp teams): the row loop strides.
TEST_F(RowKernelParity, SoftmaxAndLayerNormStrideOverManyRows) {
  const int64_t N = 600001, C = 3;
  auto x = values(N * C, 11, -3, 3);
  std::vector<float> y(N * C), mean(N), rstd(N);
  float *gx = upload(x, 0), *gy = upload(y, 0), *gmean = upload(mean, 0), *grstd = upload(rstd, 0);
  cpu::softmax_forward(cpu_, DType::f32, y.data(), x.data(), N, C);
  cuda::softmax_forward(gpu_, DType::f32, gy, gx, N, C);
  expect_close(download(gy, N * C), y, "softmax y");
  cpu::layernorm_forward(cpu_, DType::f32, y.data(), mean.data(), rstd.data(), x.data(), nullptr, nullptr, N, C,
                         1e-5f);
  cuda::layernorm_forward(gpu_, DType::f32, gy, gmean, grstd, gx, nullptr, nullptr, N, C, 1e-5f);
  expect_close(download(gy, N * C), y, "layernorm out");
  expect_close(download(grstd, N), rstd, "layernorm rstd");
}

// xent_forward / xent_backward directly (the op also needs reduce_sum): misaligned logits and gradient
// (scalar path), an aligned vocabulary of 4096 (vector path), ignored rows, dloss on the device.
TEST_F(RowKernelParity, CrossEntropyKernelsMisalignedAndVectorised) {
  struct Case {
    int64_t V;
    int shift;
  };
  for (Case c : {Case{37, 1}, Case{2053, 1}, Case{4096, 0}, Case{4096, 1}}) {
    SCOPED_TRACE("V=" + std::to_string(c.V) + " shift " + std::to_string(c.shift));
    const int64_t N = 6, V = c.V;
    const int32_t ignore = -100;
    auto logits = values(N * V, 12, -6, 6), dlogits = values(N * V, 13);
    std::vector<int32_t> targets = {3, ignore, 0, static_cast<int32_t>(V - 1), ignore, static_cast<int32_t>(V / 2)};
    std::vector<float> losses(N), lse(N), dloss = {0.75f};
    float *gl = upload(logits, c.shift), *gd = upload(dlogits, c.shift), *glosses = upload(losses);
    float *glse = upload(lse), *gdloss = upload(dloss);
    int32_t* gt = upload(targets);
    cpu::xent_forward(cpu_, DType::f32, losses.data(), lse.data(), logits.data(), targets.data(), N, V, ignore);
    cuda::xent_forward(gpu_, DType::f32, glosses, glse, gl, gt, N, V, ignore);
    expect_close(download(glosses, N), losses, "losses");
    expect_close(download(glse, N), lse, "lse");
    cpu::xent_backward(cpu_, DType::f32, dlogits.data(), dloss.data(), logits.data(), lse.data(), targets.data(), N,
                       V, ignore, 0.25f);
    cuda::xent_backward(gpu_, DType::f32, gd, gdloss, gl, glse, gt, N, V, ignore, 0.25f);
    expect_close(download(gd, N * V), dlogits, "dlogits");
  }
}

}  // namespace
}  // namespace weft::test
