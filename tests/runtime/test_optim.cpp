// AdamW against a hand-written reference (torch.optim.AdamW semantics) for three steps, weight-decay
// exclusion, global-norm clipping, and the learning-rate schedules at their key points.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/optim/adamw.h"
#include "runtime/optim/grad_clip.h"
#include "runtime/optim/lr_schedule.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

TEST(AdamW, MatchesReferenceForThreeSteps) {
  ParamStore store(DType::f64);
  int w = store.add("w", {3}, Init::Zeros(), true);
  int b = store.add("b", {2}, Init::Zeros(), false);
  store.finalize();
  double pw[3] = {0.5, -1.0, 2.0}, pb[2] = {0.1, -0.2};
  std::copy(pw, pw + 3, store.value(w).ptr<double>());
  std::copy(pb, pb + 2, store.value(b).ptr<double>());
  optim::AdamWConfig cfg{1e-2f, 0.9f, 0.99f, 1e-8f, 0.1f};
  optim::AdamW opt(store, cfg);
  Exec ex = cpu_exec(1);
  // Reference state, one entry per element: (param, m, v, decays?)
  std::vector<double> p{0.5, -1.0, 2.0, 0.1, -0.2}, m(5, 0.0), v(5, 0.0);
  std::vector<bool> decay{true, true, true, false, false};
  const double b1 = 0.9f, b2 = 0.99f, lr = 1e-2f, eps = 1e-8f, wd = 0.1f;
  for (int t = 1; t <= 3; ++t) {
    std::vector<double> g{0.3 * t, -0.1, 0.7 / t, 1.5, -0.05 * t};
    std::copy(g.begin(), g.begin() + 3, store.grad(w).ptr<double>());
    std::copy(g.begin() + 3, g.end(), store.grad(b).ptr<double>());
    opt.step(ex, store, static_cast<float>(lr));
    for (int i = 0; i < 5; ++i) {
      if (decay[i]) p[i] -= lr * wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      double mh = m[i] / (1 - std::pow(b1, t)), vh = v[i] / (1 - std::pow(b2, t));
      p[i] -= lr * mh / (std::sqrt(vh) + eps);
    }
  }
  // Hyper-parameters and bias corrections reach the kernel as float (~6e-8 relative), hence 1e-8.
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(store.value(w).ptr<double>()[i], p[i], 1e-8);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(store.value(b).ptr<double>()[i], p[3 + i], 1e-8);
  EXPECT_EQ(opt.steps(), 3);
}

TEST(AdamW, DecayOnlyWhereEnabled) {
  ParamStore store(DType::f32);
  int w = store.add("w", {4}, Init::Ones(), true);
  int n = store.add("norm", {4}, Init::Ones(), false);
  store.finalize();
  store.initialize(0);
  optim::AdamW opt(store, {0.1f, 0.9f, 0.95f, 1e-8f, 0.5f});
  Exec ex = cpu_exec(1);
  opt.step(ex, store, 0.1f);  // zero gradients: only decay moves parameters
  EXPECT_NEAR(store.value(w).ptr<float>()[0], 1.0f - 0.1f * 0.5f, 1e-7);
  EXPECT_EQ(store.value(n).ptr<float>()[0], 1.0f);
}

TEST(GradClip, NormAndScale) {
  ParamStore store(DType::f32);
  int a = store.add("a", {2}, Init::Zeros());
  int b = store.add("b", {1}, Init::Zeros());
  store.finalize();
  store.grad(a).ptr<float>()[0] = 3.0f;
  store.grad(a).ptr<float>()[1] = 0.0f;
  store.grad(b).ptr<float>()[0] = 4.0f;
  Exec ex = cpu_exec(1);
  double norm = optim::global_grad_norm(ex, store);
  EXPECT_DOUBLE_EQ(norm, 5.0);
  EXPECT_NEAR(optim::clip_scale(norm, 1.0) * norm, 1.0, 1e-6);
  EXPECT_EQ(optim::clip_scale(norm, 10.0), 1.0f);
  EXPECT_EQ(optim::clip_scale(norm, 0.0), 1.0f);  // clipping off
}

TEST(LrSchedule, WarmupCosineLinearConstant) {
  optim::LrSchedule cos("cosine", 1.0, 0.1, 10, 110);
  EXPECT_DOUBLE_EQ(cos.at(0), 0.1);
  EXPECT_DOUBLE_EQ(cos.at(9), 1.0);
  EXPECT_DOUBLE_EQ(cos.at(10), 1.0);
  EXPECT_NEAR(cos.at(60), 0.55, 1e-12);  // halfway through the decay
  EXPECT_NEAR(cos.at(110), 0.1, 1e-12);
  EXPECT_EQ(cos.at(500), 0.1);
  optim::LrSchedule lin("linear", 1.0, 0.0, 0, 100);
  EXPECT_DOUBLE_EQ(lin.at(0), 1.0);
  EXPECT_DOUBLE_EQ(lin.at(50), 0.5);
  EXPECT_DOUBLE_EQ(lin.at(100), 0.0);
  optim::LrSchedule con("constant", 0.3, 0.0, 4, 10);
  EXPECT_DOUBLE_EQ(con.at(1), 0.15);
  EXPECT_DOUBLE_EQ(con.at(7), 0.3);
  EXPECT_DOUBLE_EQ(con.at(70), 0.3);
}

TEST(LrSchedule, InvalidSettingsNameTheFlag) {
  auto expect_flag = [](auto make, const char* flag) {
    try {
      make();
      FAIL() << flag;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  expect_flag([] { optim::LrSchedule("cosine", 1.0, 0.0, 20, 10); }, "--warmup");
  expect_flag([] { optim::LrSchedule("cosine", 1.0, 2.0, 0, 10); }, "--min-lr");
  expect_flag([] { optim::LrSchedule("step", 1.0, 0.0, 0, 10); }, "--schedule");
  expect_flag([] { optim::LrSchedule("cosine", -1.0, 0.0, 0, 10); }, "--lr");
}

}  // namespace
}  // namespace weft::test
