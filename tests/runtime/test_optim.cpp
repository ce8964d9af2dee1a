// AdamW against a hand-written reference (torch.optim.AdamW semantics) for three steps, weight-decay
// exclusion, the multi-tensor launch against per-parameter launches (bit for bit), global-norm clipping,
// and the learning-rate schedules at their key points.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "runtime/kernels.h"
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
  // Reference state, one entry per element: (param, m, v, decays?). The kernel receives lr, betas, eps,
  // weight decay and the bias corrections as float, so the reference uses the same float-rounded
  // values; everything else is plain double arithmetic, hence agreement to 1e-12.
  std::vector<double> p{0.5, -1.0, 2.0, 0.1, -0.2}, m(5, 0.0), v(5, 0.0);
  std::vector<bool> decay{true, true, true, false, false};
  const double b1 = 0.9f, b2 = 0.99f, lr = 1e-2f, eps = 1e-8f, wd = 0.1f;
  for (int t = 1; t <= 3; ++t) {
    std::vector<double> g{0.3 * t, -0.1, 0.7 / t, 1.5, -0.05 * t};
    std::copy(g.begin(), g.begin() + 3, store.grad(w).ptr<double>());
    std::copy(g.begin() + 3, g.end(), store.grad(b).ptr<double>());
    opt.step(ex, store, static_cast<float>(lr));
    const double bc1 = static_cast<float>(1 - std::pow(b1, t)), bc2 = static_cast<float>(1 - std::pow(b2, t));
    for (int i = 0; i < 5; ++i) {
      if (decay[i]) p[i] -= lr * wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      double mh = m[i] / bc1, vh = v[i] / bc2;
      p[i] -= lr * mh / (std::sqrt(vh) + eps);
    }
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(opt.m().ptr<double>()[store.info(w).offset + i], m[i], 1e-12);
    for (int i = 0; i < 2; ++i) EXPECT_NEAR(opt.v().ptr<double>()[store.info(b).offset + i], v[3 + i], 1e-12);
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(store.value(w).ptr<double>()[i], p[i], 1e-12);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(store.value(b).ptr<double>()[i], p[3 + i], 1e-12);
  // The update moved every parameter by a visible amount (the comparison above is not vacuous).
  EXPECT_GT(std::abs(p[0] - 0.5), 1e-3);
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

// Multi-tensor AdamW (one adamw_update_ranges launch over the range) against the per-parameter launches
// AdamW::step made before: the same bits in values, m and v over the whole range, padding included,
// for f32 and f64 stores with mixed decay flags (neighbours with equal flags, odd sizes), unsharded and on
// ZeRO-1 shards whose edges cut parameters, over three steps with clipped gradients (parameters past the
// CPU kernel's chunk of 2^14 elements, so runs cross chunk edges).
template <class T>
void expect_multi_tensor_matches_per_parameter(DType dt) {
  auto make = [dt] {
    ParamStore store(dt);
    const struct { const char* name; int64_t n; bool decay; } params[] = {
        {"wte", 20011, true}, {"wpe", 16, true}, {"ln1.w", 5, false}, {"ln1.b", 5, false}, {"attn.w", 61, true},
        {"attn.b", 3, false}, {"mlp.w", 17000, true}, {"ln_f.w", 9, false}, {"head", 1, true}};
    for (const auto& p : params) store.add(p.name, {p.n}, Init::Normal(0.5), p.decay);
    store.finalize(4);
    store.initialize(11);
    return store;
  };
  const ParamStore probe = make();
  const int64_t total = probe.total(), quarter = total / 4;
  const std::pair<int64_t, int64_t> shards[] = {{0, total}, {0, quarter}, {quarter, 2 * quarter},
                                                {3 * quarter, total}};
  const optim::AdamWConfig cfg{1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f};
  Exec ex = cpu_exec(2);
  for (auto [begin, end] : shards) {
    SCOPED_TRACE(testing::Message() << "range [" << begin << ", " << end << ")");
    ParamStore fused = make(), per_param = make();
    optim::AdamW opt(fused, cfg, begin, end);
    const int64_t n = end - begin;
    std::vector<T> m(n, T(0)), v(n, T(0));
    for (int t = 1; t <= 3; ++t) {
      OwnedTensor g = random_f64({total}, 100 + t, -2.0, 2.0);
      for (int64_t i = 0; i < total; ++i) {  // padding keeps a zero gradient
        bool in_param = false;
        for (int id = 0; id < fused.size(); ++id)
          in_param |= i >= fused.info(id).offset && i < fused.info(id).offset + fused.info(id).shape.numel();
        fused.grads().ptr<T>()[i] = per_param.grads().ptr<T>()[i] = in_param ? T(g.ptr<double>()[i]) : T(0);
      }
      const float scale = 0.75f;
      opt.step(ex, fused, cfg.lr, scale);
      // The former AdamW::step: one adamw_update per parameter, its flag deciding the decay.
      const float bc1 = static_cast<float>(1.0 - std::pow(double(cfg.beta1), double(t)));
      const float bc2 = static_cast<float>(1.0 - std::pow(double(cfg.beta2), double(t)));
      for (int id = 0; id < per_param.size(); ++id) {
        const ParamInfo& info = per_param.info(id);
        const int64_t lo = std::max(begin, info.offset), hi = std::min(end, info.offset + info.shape.numel());
        if (lo >= hi) continue;
        cpu::adamw_update(ex, dt, per_param.values().ptr<T>() + lo, m.data() + (lo - begin), v.data() + (lo - begin),
                          per_param.grads().ptr<T>() + lo, hi - lo, cfg.lr, cfg.beta1, cfg.beta2, cfg.eps,
                          info.weight_decay ? cfg.weight_decay : 0.0f, bc1, bc2, scale);
      }
    }
    ASSERT_EQ(0, std::memcmp(fused.values().data, per_param.values().data, total * sizeof(T))) << "values";
    ASSERT_EQ(0, std::memcmp(opt.m().data, m.data(), n * sizeof(T))) << "m";
    ASSERT_EQ(0, std::memcmp(opt.v().data, v.data(), n * sizeof(T))) << "v";
    // Not vacuous: the update moved the range, and the ranges exclude something inside it.
    const ParamStore initial = make();
    EXPECT_NE(0, std::memcmp(fused.values().ptr<T>() + begin, initial.values().ptr<T>() + begin, n * sizeof(T)));
    ASSERT_FALSE(opt.decay_ranges().empty());
  }
}

TEST(AdamW, MultiTensorMatchesPerParameterLaunchesF32) { expect_multi_tensor_matches_per_parameter<float>(DType::f32); }
TEST(AdamW, MultiTensorMatchesPerParameterLaunchesF64) {
  expect_multi_tensor_matches_per_parameter<double>(DType::f64);
}

// The table: decayed neighbours merged (the padding between them included), excluded parameters cut it,
// clipped to a shard and relative to its start.
TEST(AdamW, DecayRangesMergeNeighboursAndClipToTheShard) {
  ParamStore store(DType::f32);
  int a = store.add("a", {20}, Init::Zeros(), true);
  int b = store.add("b", {3}, Init::Zeros(), true);
  int c = store.add("c", {5}, Init::Zeros(), false);
  int d = store.add("d", {7}, Init::Zeros(), true);
  store.finalize();
  const int64_t oa = store.info(a).offset, ob = store.info(b).offset, oc = store.info(c).offset,
                od = store.info(d).offset;
  ASSERT_LT(oa, ob);
  ASSERT_LT(ob, oc);
  ASSERT_LT(oc, od);
  optim::AdamW whole(store, {});
  EXPECT_EQ(whole.decay_ranges(), (std::vector<int64_t>{oa, ob + 3, od, od + 7}));
  optim::AdamW shard(store, {}, oa + 10, od + 2);  // cuts a and d
  EXPECT_EQ(shard.decay_ranges(), (std::vector<int64_t>{0, ob + 3 - (oa + 10), od - (oa + 10), od + 2 - (oa + 10)}));
  optim::AdamW only_c(store, {}, oc, oc + 5);
  EXPECT_TRUE(only_c.decay_ranges().empty());
}

TEST(AdamW, RangesKernelRejectsAnUnsortedTable) {
  std::vector<float> p(10, 1.0f), m(10), v(10), g(10, 0.5f);
  const int64_t bad[] = {4, 6, 2, 3};
  Exec ex = cpu_exec(1);
  EXPECT_THROW(cpu::adamw_update_ranges(ex, DType::f32, p.data(), m.data(), v.data(), g.data(), 10, bad, 2, 1e-3f,
                                        0.9f, 0.95f, 1e-8f, 0.1f, 0.1f, 0.05f, 1.0f),
               Error);
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

// Clipping is applied as AdamW's grad_scale: stepping on g with grad_scale s equals stepping on s * g,
// and s * g has the max norm.
TEST(GradClip, ScaleAppliedByAdamWEqualsClippedGradients) {
  auto make = [] {
    ParamStore store(DType::f64);
    store.add("a", {7}, Init::Normal(0.5), true);
    store.add("b", {33}, Init::Normal(0.5), false);
    store.finalize();
    store.initialize(3);
    return store;
  };
  ParamStore s1 = make(), s2 = make();
  const int64_t n = s1.total();
  OwnedTensor g = random_f64({n}, 9, -2.0, 2.0);
  std::vector<bool> in_param(n, false);  // alignment padding keeps a zero gradient
  for (int id = 0; id < s1.size(); ++id)
    for (int64_t i = 0; i < s1.info(id).shape.numel(); ++i) in_param[s1.info(id).offset + i] = true;
  for (int64_t i = 0; i < n; ++i)
    if (!in_param[i]) g.ptr<double>()[i] = 0.0;
  Exec ex = cpu_exec(1);
  std::copy(g.ptr<double>(), g.ptr<double>() + n, s1.grads().ptr<double>());
  const double norm = optim::global_grad_norm(ex, s1);
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += g.ptr<double>()[i] * g.ptr<double>()[i];
  EXPECT_NEAR(norm, std::sqrt(ss), 1e-12 * norm);
  const double max_norm = 0.25;
  const float scale = optim::clip_scale(norm, max_norm);
  ASSERT_LT(scale, 1.0f);
  double clipped_ss = 0;
  for (int64_t i = 0; i < n; ++i) {
    s2.grads().ptr<double>()[i] = g.ptr<double>()[i] * static_cast<double>(scale);
    clipped_ss += s2.grads().ptr<double>()[i] * s2.grads().ptr<double>()[i];
  }
  EXPECT_NEAR(std::sqrt(clipped_ss), max_norm, 1e-6);
  optim::AdamW o1(s1, {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f}), o2(s2, {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f});
  o1.step(ex, s1, 1e-2f, scale);
  o2.step(ex, s2, 1e-2f, 1.0f);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_NEAR(s1.values().ptr<double>()[i], s2.values().ptr<double>()[i], 1e-14);
    EXPECT_NEAR(o1.v().ptr<double>()[i], o2.v().ptr<double>()[i], 1e-16);
  }
}

// The sum of squares is accumulated in double in fixed chunks: the same bits for any thread count.
TEST(GradClip, SumSquaresDeterministicAcrossThreadCounts) {
  const int64_t n = (1 << 18) + 333;
  OwnedTensor x = random_f32({n}, 4);
  double ref = 0;
  for (int64_t i = 0; i < n; ++i) ref += static_cast<double>(x.ptr<float>()[i]) * x.ptr<float>()[i];
  double first = 0;
  for (int threads : {1, 2, 3, 8}) {
    Exec ex = cpu_exec(threads);
    double out = -1;
    cpu::sum_squares(ex, DType::f32, &out, x.ptr<float>(), n);
    EXPECT_NEAR(out, ref, 1e-12 * ref);
    if (threads == 1) first = out;
    EXPECT_EQ(out, first) << threads << " threads";
  }
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
  EXPECT_DOUBLE_EQ(lin.at(1000), 0.0);  // beyond the end: the floor
  optim::LrSchedule lin_warm("linear", 2.0, 0.5, 5, 25);
  EXPECT_DOUBLE_EQ(lin_warm.at(0), 0.4);
  EXPECT_DOUBLE_EQ(lin_warm.at(4), 2.0);    // end of warmup
  EXPECT_DOUBLE_EQ(lin_warm.at(15), 1.25);  // midpoint of the decay
  EXPECT_DOUBLE_EQ(lin_warm.at(25), 0.5);
  EXPECT_DOUBLE_EQ(lin_warm.at(26), 0.5);
  EXPECT_GT(cos.at(30), cos.at(31));  // monotone decay
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
  expect_flag([] { optim::LrSchedule("linear", 1.0, 0.0, 0, 0); }, "--steps");
  expect_flag([] { optim::LrSchedule("linear", 1.0, 0.0, -1, 10); }, "--warmup");
}

}  // namespace
}  // namespace weft::test
