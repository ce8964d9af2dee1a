// StepGuard (launch/step_guard.h): the verdicts (non-finite loss, non-finite gradient norm, a spike only once the
// window holds 20 losses), the window's bookkeeping, the streak limit, the descriptions and the step lists of
// the testing flags. And the skipped update itself on a tiny transformer (launch/trainable_state.h): after
// reduce_gradients on poisoned (NaN) gradients, discard_gradients leaves the weights, both AdamW moments and
// the optimizer's step count bit-identical, and the next update equals the one of a run that never saw the bad
// step.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "launch/options.h"
#include "launch/step_guard.h"
#include "launch/trainable_state.h"
#include "models/transformer/transformer.h"
#include "parallel/grad_reducer.h"
#include "tests/harness/gradcheck.h"

namespace weft::launch {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(StepGuard, NonFiniteLossOrGradientNormSkips) {
  StepGuard g(5, 0.0, 100);
  TrainState s;
  EXPECT_EQ(g.judge(2.0, 1.0, s), SkipReason::none);
  EXPECT_EQ(g.judge(kNaN, 1.0, s), SkipReason::loss_nonfinite);
  EXPECT_EQ(g.judge(kInf, 1.0, s), SkipReason::loss_nonfinite);
  EXPECT_EQ(g.judge(2.0, kNaN, s), SkipReason::grad_nonfinite);
  EXPECT_EQ(g.judge(2.0, kInf, s), SkipReason::grad_nonfinite);
  EXPECT_EQ(g.judge(kNaN, kInf, s), SkipReason::loss_nonfinite);  // the loss first
  EXPECT_EQ(g.describe(SkipReason::loss_nonfinite, kNaN, 1.0, s), "loss is nan");
  EXPECT_EQ(g.describe(SkipReason::grad_nonfinite, 2.0, kInf, s), "gradient norm is inf");
  EXPECT_EQ(g.describe(SkipReason::loss_nonfinite, 2.0, 1.0, s), "another rank saw a non-finite loss");
  EXPECT_EQ(g.judge(1e6, 1.0, s), SkipReason::none);  // no spike guard: a huge finite loss is applied
}

TEST(StepGuard, SpikeJudgedOnlyOnceTheWindowHoldsEnoughLosses) {
  StepGuard g(5, 3.0, 30);
  TrainState s;
  for (int i = 0; i < StepGuard::kSpikeMinEntries - 1; ++i) g.accept(4.0 + 0.01 * (i % 2), s);
  EXPECT_EQ(g.judge(100.0, 1.0, s), SkipReason::none);  // 19 losses: not yet
  g.accept(4.0, s);
  EXPECT_EQ(g.judge(100.0, 1.0, s), SkipReason::loss_spike);
  EXPECT_EQ(g.judge(4.01, 1.0, s), SkipReason::none);
  const StepGuard::WindowStats w = g.window_stats(s);
  EXPECT_EQ(w.n, 20);
  EXPECT_NEAR(w.mean, 4.0045, 1e-12);
  EXPECT_NEAR(w.stddev, 0.0049749, 1e-6);
  // Just above and just below mean + 3 sigma.
  EXPECT_EQ(g.judge(w.mean + 3.0 * w.stddev + 1e-9, 1.0, s), SkipReason::loss_spike);
  EXPECT_EQ(g.judge(w.mean + 3.0 * w.stddev - 1e-9, 1.0, s), SkipReason::none);
  const std::string why = g.describe(SkipReason::loss_spike, 100.0, 1.0, s);
  EXPECT_NE(why.find("loss 100 is "), std::string::npos) << why;
  EXPECT_NE(why.find("standard deviations above the mean 4.00"), std::string::npos) << why;
  EXPECT_NE(why.find(" of the last 20 accepted losses (--spike-guard 3)"), std::string::npos) << why;
}

TEST(StepGuard, WindowKeepsTheLastLossesAndSkipsCountStreaks) {
  StepGuard g(3, 0.0, 20);
  TrainState s;
  for (int i = 0; i < 50; ++i) g.accept(i, s);
  ASSERT_EQ(s.loss_window.size(), 20u);
  EXPECT_EQ(s.loss_window.front(), 30.0);
  EXPECT_EQ(s.loss_window.back(), 49.0);
  g.skip(s);
  g.skip(s);
  EXPECT_FALSE(g.exhausted(s));
  EXPECT_EQ(s.loss_window.size(), 20u);  // skipped losses stay out
  g.accept(1.0, s);                      // an accepted step ends the streak
  EXPECT_EQ(s.skipped_in_row, 0);
  for (int i = 0; i < 3; ++i) g.skip(s);
  EXPECT_TRUE(g.exhausted(s));
  EXPECT_EQ(s.skipped_total, 5);
  StepGuard never(0, 0.0, 20);
  EXPECT_FALSE(never.exhausted(s));
}

TEST(StepGuard, StepListsAndTheDivergenceThreshold) {
  EXPECT_EQ(parse_step_list({"7,3", "3"}, "inject-nan-at"), (std::vector<int64_t>{3, 7}));
  for (const char* bad : {"", "x", "3,", "-1", "0", "2.5"}) {
    try {
      parse_step_list({bad}, "inject-nan-at");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--inject-nan-at"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(loss_far_above_start(5.6, 257));  // ln(257) = 5.55
  EXPECT_FALSE(loss_far_above_start(16.0, 257));
  EXPECT_TRUE(loss_far_above_start(17.0, 257));
  EXPECT_FALSE(loss_far_above_start(kNaN, 257));
}

// A tiny transformer's TrainableState with a one-rank reducer, stepped on fixed batches.
struct Tiny {
  models::Transformer model;
  ExecContext exec{Device::cpu, 0, 1};
  std::unique_ptr<TrainableState> state;
  std::unique_ptr<par::Communicator> local;
  std::unique_ptr<par::GradReducer> reducer;
  Arena arena{Device::cpu};
  explicit Tiny(const models::TransformerConfig& cfg) : model(cfg) {
    state = std::make_unique<TrainableState>(model, exec.get(), DType::f32);
    local = par::make_local_communicator(Device::cpu);
    reducer = par::make_grad_reducer(0, state->master(), *local, *local, 1 << 20);
    state->attach_optimizer(optim::AdamWConfig{1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f}, *reducer);
    state->initialize(11);
  }
  ~Tiny() {
    reducer.reset();
    state.reset();
  }
  void backward(uint64_t seed) {
    OwnedTensor ids = test::random_ids({2, 8}, seed, 50), targets = test::random_ids({2, 8}, seed + 100, 50);
    models::Batch batch{ids, targets, 16.0f};
    Graph g(exec.get(), arena);
    Rng rng(5, 0);
    g.backward(model.loss_terms(g, state->params(), batch, rng, true).total);
    state->end_micro_batch();
    g.clear();
  }
  std::vector<float> copy(const Tensor& t) const {
    const float* p = static_cast<const float*>(t.data);
    return std::vector<float>(p, p + t.numel());
  }
};

models::TransformerConfig tiny_config() {
  models::TransformerConfig c;
  c.vocab_size = 50;
  c.d_model = 16;
  c.n_heads = 2;
  c.n_layers = 1;
  c.max_seq_len = 8;
  c.validate();
  return c;
}

TEST(SkippedUpdate, LeavesWeightsMomentsAndStepCountUntouched) {
  Tiny skipped(tiny_config()), clean(tiny_config());
  for (Tiny* t : {&skipped, &clean}) {
    t->backward(1);
    t->state->update(*t->reducer, 1e-2f, 1.0);
  }
  // The bad step: finite gradients, one of them poisoned, reduced; the norm says so; then discarded.
  skipped.backward(2);
  static_cast<float*>(skipped.state->master().grads().data)[5] = std::nanf("");
  const std::vector<float> values = skipped.copy(skipped.state->master().values());
  const std::vector<float> m = skipped.copy(skipped.state->optimizer().m());
  const std::vector<float> v = skipped.copy(skipped.state->optimizer().v());
  const double norm = skipped.state->reduce_gradients(*skipped.reducer);
  EXPECT_TRUE(std::isnan(norm));
  skipped.state->discard_gradients();
  EXPECT_EQ(skipped.copy(skipped.state->master().values()), values);
  EXPECT_EQ(skipped.copy(skipped.state->optimizer().m()), m);
  EXPECT_EQ(skipped.copy(skipped.state->optimizer().v()), v);
  EXPECT_EQ(skipped.state->optimizer().steps(), 1);
  for (float g : skipped.copy(skipped.state->master().grads())) ASSERT_EQ(g, 0.0f);
  // The next step equals that of a run that never saw the bad one.
  for (Tiny* t : {&skipped, &clean}) {
    t->backward(3);
    t->state->update(*t->reducer, 1e-2f, 1.0);
  }
  EXPECT_EQ(skipped.copy(skipped.state->master().values()), clean.copy(clean.state->master().values()));
  EXPECT_EQ(skipped.copy(skipped.state->optimizer().m()), clean.copy(clean.state->optimizer().m()));
  EXPECT_EQ(skipped.state->optimizer().steps(), 2);
  EXPECT_NE(skipped.copy(skipped.state->master().values()), values);  // that update was applied
}

}  // namespace
}  // namespace weft::launch
