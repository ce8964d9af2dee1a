// CPU-vs-CUDA parity of the norm family (layernorm, rmsnorm). Op level, f32 and bf16: the cases of
// tests/cases/norm_cases.h with every affine option, and layernorm + rmsnorm of one input over many rows
// (long column sums for dweight / dbias, two backwards into one dx). Kernel level (f32): pointers one
// element off 16-byte alignment (the scalar fallbacks), "+=" into non-zero gradients, more rows than one
// sweep of the capped grid. Every op-level case runs twice on the GPU: our kernels, and cuDNN's
// (--norm-backend cudnn) where this build has them and the call has a weight (and a bias for LayerNorm); every
// case reports SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/norm_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

using cases::Affine;

// bf16 parity: GPU inputs and cotangents are rounded to 2^-9 relative and outputs / gradients stored in
// bf16 (another 2^-9); a row's statistics are computed in float from the rounded values. dweight / dbias
// are sums over N rows of such products, so their error grows like sqrt(N) * 2^-9: an emulation of these
// roundings on the CPU needs atol 0.014 at N = 64, C = 769 (rtol 2e-2); N <= 100 here, so 4e-2 leaves margin.
Tolerance norm_tolerance(DType dt) { return dt == DType::bf16 ? Tolerance{4e-2, 2e-2} : default_tolerance(dt); }

const DType kDtypes[] = {DType::f32, DType::bf16};

// Ours, then cuDNN's where this build has them. cudnn_too: the call has the parameters cuDNN's norms need.
std::vector<GpuKernels> norm_kernels(bool cudnn_too) {
  std::vector<GpuKernels> k{{KernelBackend::automatic, KernelBackend::weft}};
  if (cudnn_too && cuda::cudnn_attention_built()) k.push_back({KernelBackend::automatic, KernelBackend::cudnn});
  return k;
}
std::string kernels_name(const GpuKernels& k) { return std::string("norm-backend ") + kernel_backend_name(k.norm); }

Shape x_shape(const cases::NormCase& c) { return c.lead > 1 ? Shape{c.lead, c.N, c.C} : Shape{c.N, c.C}; }
bool runs_here(const cases::NormCase& c) { return cases::runs_in(c.runners, cases::kParity) && c.shift == 0; }

// x, weight, bias; the build uses the ones its affine option names (the others get no gradient).
std::vector<ParityInput> norm_inputs(const cases::NormCase& c, uint64_t seed) {
  std::vector<ParityInput> in;
  in.push_back({random_f32(x_shape(c), seed, -2.0, 2.0), true});
  in.push_back({random_f32({c.C}, seed + 1), true});
  in.push_back({random_f32({c.C}, seed + 2), true});
  return in;
}

TEST(ParityNorm, LayerNormEveryCaseAndAffine) {
  for (DType dt : kDtypes)
    for (const cases::NormCase& c : cases::kNormCases)
      for (Affine a : cases::kAffines)
        for (const GpuKernels& k : norm_kernels(has_weight(a) && has_bias(a))) {
          if (!runs_here(c)) continue;
          SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c) + " " + cases::affine_name(a) + " " +
                       kernels_name(k));
          WEFT_PARITY_KERNELS(norm_inputs(c, 1), ([a](Graph& g, const std::vector<Var>& v) {
                                return std::vector<Var>{ops::layernorm(g, v[0], has_weight(a) ? v[1] : nullptr,
                                                                       has_bias(a) ? v[2] : nullptr)};
                              }),
                              dt, norm_tolerance(dt), k);
        }
}

TEST(ParityNorm, RmsNormEveryCaseWithAndWithoutWeight) {
  for (DType dt : kDtypes)
    for (const cases::NormCase& c : cases::kNormCases)
      for (Affine a : {Affine::weight, Affine::none})
        for (const GpuKernels& k : norm_kernels(has_weight(a))) {
          if (!runs_here(c)) continue;
          SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c) + " " + cases::affine_name(a) + " " +
                       kernels_name(k));
          WEFT_PARITY_KERNELS(norm_inputs(c, 4), ([a](Graph& g, const std::vector<Var>& v) {
                                return std::vector<Var>{ops::rmsnorm(g, v[0], has_weight(a) ? v[1] : nullptr)};
                              }),
                              dt, norm_tolerance(dt), k);
        }
}

std::string trace(DType dt, int64_t N, int64_t C, const char* mode) {
  return std::string(dtype_name(dt)) + " N=" + std::to_string(N) + " C=" + std::to_string(C) + " " + mode;
}

TEST(ParityNorm, NormsOverManyRowsSumParameterGradients) {
  // 64 rows of 37 (warp teams, 8 blocks) and of 1032 (block teams): long column sums for dweight / dbias.
  for (DType dt : {DType::f32, DType::bf16})
    for (int64_t C : {int64_t(37), int64_t(1032)})
      for (const GpuKernels& k : norm_kernels(true)) {
      SCOPED_TRACE(trace(dt, 64, C, "layernorm + rmsnorm") + " " + kernels_name(k));
      std::vector<ParityInput> in;
      in.push_back({random_f32({4, 16, C}, 6, -2.0, 2.0), true});
      in.push_back({random_f32({C}, 7), true});
      in.push_back({random_f32({C}, 8), true});
      WEFT_PARITY_KERNELS(in, ([](Graph& g, const std::vector<Var>& v) {
                            return std::vector<Var>{ops::layernorm(g, v[0], v[1], v[2]), ops::rmsnorm(g, v[0], v[1])};
                          }),
                          dt, norm_tolerance(dt), k);
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

}  // namespace
}  // namespace weft::test
