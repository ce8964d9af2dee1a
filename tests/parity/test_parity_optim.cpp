// CPU-vs-CUDA parity of the optim family on the cases of tests/cases/optim_cases.h: adamw_update over
// several steps (f32 and bf16 parameters, with and without weight decay, clipped gradients, odd and large
// ranges, aligned and misaligned pointers), multi-tensor AdamW (adamw_update_ranges bit for bit against
// per-range launches; AdamW::step on a GPU store against a CPU store) and sum_squares (empty, one element,
// odd, 10^6; bit-identical when repeated). SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "runtime/optim/adamw.h"
#include "runtime/param_store.h"
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

// Multi-tensor AdamW (adamw_update_ranges, the case's decay table) over three steps: bit for bit the
// per-range adamw_update launches it replaces on the GPU, and within the AdamW tolerance of the CPU twin.
TEST_F(OptimParity, AdamWRangesMatchPerRangeLaunchesAndCpu) {
  const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f;
  for (bool bf : {false, true}) {
    for (const cases::AdamCase& c : cases::kAdamCases) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(cases::describe(c) + (bf ? " bf16" : " f32"));
      const size_t n = static_cast<size_t>(c.n);
      const std::vector<int64_t> table = cases::decay_ranges_for(c.n);
      const int64_t R = static_cast<int64_t>(table.size() / 2);
      const int64_t* gtable = R > 0 ? upload(table, 0) : nullptr;
      const DType dt = bf ? DType::bf16 : DType::f32;
      const size_t es = bf ? 2 : 4;
      std::vector<float> p = to_f32(to_bf16(values(n, 3))), m(n, 0.0f), v(n, 0.0f);
      std::vector<bf16> pb = to_bf16(p);
      void* gp = bf ? static_cast<void*>(upload(pb, c.shift)) : upload(p, c.shift);
      void* gp2 = bf ? static_cast<void*>(upload(pb, c.shift)) : upload(p, c.shift);
      float *gm = upload(m, c.shift), *gv = upload(v, c.shift), *gm2 = upload(m, c.shift), *gv2 = upload(v, c.shift);
      for (int t = 1; t <= 3; ++t) {
        std::vector<bf16> gb = to_bf16(values(n, 40 + t, -3.0, 3.0));
        std::vector<float> g = to_f32(gb);
        const void* gg = bf ? static_cast<const void*>(upload(gb, c.shift)) : upload(g, c.shift);
        const float bc1 = static_cast<float>(1.0 - std::pow(double(b1), t)),
                    bc2 = static_cast<float>(1.0 - std::pow(double(b2), t));
        cpu::adamw_update_ranges(cpu_, DType::f32, p.data(), m.data(), v.data(), g.data(), c.n, table.data(), R, lr,
                                 b1, b2, eps, c.weight_decay, bc1, bc2, c.grad_scale);
        if (bf) p = to_f32(to_bf16(p));
        cuda::adamw_update_ranges(gpu_, dt, gp, gm, gv, gg, c.n, gtable, R, lr, b1, b2, eps, c.weight_decay, bc1, bc2,
                                  c.grad_scale);
        int64_t at = 0;
        auto launch = [&](int64_t end, float decay) {  // the former per-parameter launches
          if (end > at)
            cuda::adamw_update(gpu_, dt, static_cast<char*>(gp2) + at * es, gm2 + at, gv2 + at,
                               static_cast<const char*>(gg) + at * es, end - at, lr, b1, b2, eps, decay, bc1, bc2,
                               c.grad_scale);
          at = end;
        };
        for (int64_t r = 0; r < R; ++r) {
          launch(table[2 * r], 0.0f);
          launch(table[2 * r + 1], c.weight_decay);
        }
        launch(c.n, 0.0f);
      }
      const std::vector<char> got = download(static_cast<const char*>(gp), n * es),
                              want = download(static_cast<const char*>(gp2), n * es);
      EXPECT_TRUE(got == want) << "param not bit-identical to per-range launches";
      EXPECT_TRUE(download(gm, n) == download(gm2, n)) << "m not bit-identical to per-range launches";
      EXPECT_TRUE(download(gv, n) == download(gv2, n)) << "v not bit-identical to per-range launches";
      expect_close(download(gm, n), m, 1e-7, 1e-5, "m");
      expect_close(download(gv, n), v, 1e-9, 1e-5, "v");
      if (bf) {
        expect_close(to_f32(download(static_cast<const bf16*>(gp), n)), p, 1e-6, 3 * 0x1p-8, "param");
      } else {
        expect_close(download(static_cast<const float*>(gp), n), p, 1e-6, 1e-5, "param");
      }
    }
  }
}

// AdamW::step on a GPU store (the decay table uploaded to the device, one launch) against the same step on
// a CPU store: mixed decay flags, unsharded and a ZeRO-1 shard that cuts parameters.
TEST_F(OptimParity, AdamWStepOnGpuStoreMatchesCpuStore) {
  auto make = [](Device dev) {
    ParamStore store(DType::f32, dev);
    store.add("wte", {5003}, Init::Normal(0.5), true);
    store.add("ln.w", {7}, Init::Ones(), false);
    store.add("attn.w", {1000}, Init::Normal(0.5), true);
    store.add("mlp.w", {999}, Init::Normal(0.5), true);
    store.add("mlp.b", {13}, Init::Zeros(), false);
    store.finalize(2);
    store.initialize(5);
    return store;
  };
  ParamStore probe = make(Device::cpu);
  const int64_t total = probe.total();
  for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, total}, {total / 2, total}}) {
    SCOPED_TRACE(testing::Message() << "range [" << begin << ", " << end << ")");
    ParamStore host = make(Device::cpu), dev = make(Device::cuda);
    const optim::AdamWConfig cfg{1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f};
    optim::AdamW on_host(host, cfg, begin, end), on_dev(dev, cfg, begin, end);
    for (int t = 1; t <= 3; ++t) {
      std::vector<float> g = values(total, 60 + t, -1.0, 1.0);
      for (int64_t i = 0; i < total; ++i) {  // padding keeps a zero gradient
        bool in_param = false;
        for (int id = 0; id < host.size(); ++id)
          in_param |= i >= host.info(id).offset && i < host.info(id).offset + host.info(id).shape.numel();
        if (!in_param) g[i] = 0.0f;
      }
      std::copy(g.begin(), g.end(), host.grads().ptr<float>());
      device_copy(Device::cuda, dev.grads().data, Device::cpu, g.data(), g.size() * sizeof(float));
      on_host.step(cpu_, host, cfg.lr, 0.5f);
      on_dev.step(gpu_, dev, cfg.lr, 0.5f);
    }
    const std::vector<float> want(host.values().ptr<float>(), host.values().ptr<float>() + total);
    expect_close(download(static_cast<const float*>(dev.values().data), total), want, 1e-6, 1e-5, "param");
    const std::vector<float> want_v(on_host.v().ptr<float>(), on_host.v().ptr<float>() + (end - begin));
    expect_close(download(static_cast<const float*>(on_dev.v().data), end - begin), want_v, 1e-9, 1e-5, "v");
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
