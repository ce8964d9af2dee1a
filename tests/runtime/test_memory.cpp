// Tensors, arena, parameter store, graph bookkeeping.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/ops/ops.h"
#include "runtime/param_store.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

TEST(Shape, NumelRowsAndErrors) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.rows(), 6);
  EXPECT_EQ(s[-1], 4);
  EXPECT_EQ(s.str(), "(2, 3, 4)");
  OwnedTensor t(DType::f32, s);
  EXPECT_THROW(t.tensor().reshape({5, 5}), Error);
  EXPECT_EQ(t.tensor().reshape({6, 4}).shape, (Shape{6, 4}));
}

TEST(Bf16, RoundTripAndRounding) {
  EXPECT_EQ(bf16::from_float(1.0f).to_float(), 1.0f);
  EXPECT_EQ(bf16::from_float(-2.5f).to_float(), -2.5f);
  // 1 + 2^-8 is halfway between two bf16 values: ties to even (1.0).
  EXPECT_EQ(bf16::from_float(1.0f + 1.0f / 256).to_float(), 1.0f);
  EXPECT_EQ(bf16::from_float(1.0f + 3.0f / 256).to_float(), 1.0f + 4.0f / 256);
}

TEST(Arena, NoSystemAllocationAfterFirstStep) {
  Arena arena(Device::cpu, 1024);
  auto step = [&] {
    for (int i = 0; i < 50; ++i) arena.tensor(DType::f32, {100, 37});
    arena.reset();
  };
  step();  // grows through several blocks
  int64_t after_first = arena.system_allocations();
  EXPECT_GT(after_first, 1);
  step();  // reset() coalesced: one block of high-water size
  int64_t after_second = arena.system_allocations();
  for (int i = 0; i < 5; ++i) step();
  EXPECT_EQ(arena.system_allocations(), after_second);
}

TEST(Graph, TrainingStepAllocatesNothingAfterWarmup) {
  Exec ex = cpu_exec(1);
  ParamStore store;
  int w1 = store.add("w1", {16, 8}, Init::Normal(0.1));
  int w2 = store.add("w2", {4, 16}, Init::Normal(0.1));
  store.finalize();
  store.initialize(3);
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = random_f32({32, 8}, 1);
  OwnedTensor targets = random_ids({32}, 2, 4);
  auto step = [&] {
    Var h = ops::gelu_tanh(g, ops::linear(g, g.constant(x), g.param(store, w1)));
    Var loss = ops::cross_entropy(g, ops::linear(g, h, g.param(store, w2)), g.constant(targets));
    g.backward(loss);
    g.clear();
  };
  step();
  step();
  int64_t arena_allocs = arena.system_allocations(), graph_allocs = g.system_allocations();
  for (int i = 0; i < 3; ++i) step();
  EXPECT_EQ(arena.system_allocations(), arena_allocs);
  EXPECT_EQ(g.system_allocations(), graph_allocs);
}

TEST(ParamStore, LayoutNamesAndInitIndependentOfOrder) {
  ParamStore a, b;
  a.add("x", {3, 5}, Init::Normal(1.0));
  a.add("y", {7}, Init::Uniform(0.5));
  b.add("y", {7}, Init::Uniform(0.5));
  b.add("x", {3, 5}, Init::Normal(1.0));
  a.finalize();
  b.finalize();
  a.initialize(42);
  b.initialize(42);
  EXPECT_EQ(a.numel(), 22);
  EXPECT_EQ(a.info(a.find("y")).offset % 16, 0);
  EXPECT_EQ(a.find("z"), -1);
  EXPECT_EQ(to_host_doubles(a.value(a.find("x"))), to_host_doubles(b.value(b.find("x"))));
  EXPECT_EQ(to_host_doubles(a.value(a.find("y"))), to_host_doubles(b.value(b.find("y"))));
  for (double v : to_host_doubles(a.value(a.find("y")))) EXPECT_LE(std::abs(v), 0.5);
  EXPECT_THROW(a.add("late", {1}, Init::Zeros()), Error);
}

TEST(ParamStore, DuplicateNameIsAnError) {
  ParamStore s;
  s.add("w", {2}, Init::Zeros());
  EXPECT_THROW(s.add("w", {3}, Init::Zeros()), Error);
}

TEST(Graph, SharedParameterAccumulatesEveryUse) {
  // y = w * (w * x): a parameter used twice in one step (a universal transformer's shared layer).
  Exec ex = cpu_exec(1);
  ParamStore store(DType::f64);
  int w = store.add("w", {1, 1}, Init::Constant(3.0));
  store.finalize();
  store.initialize(0);
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor x = from_values(DType::f64, {1, 1}, {2.0});
  Var wv = g.param(store, w);
  Var y = ops::matmul(g, wv, ops::matmul(g, wv, g.constant(x)));
  g.backward(y);
  EXPECT_DOUBLE_EQ(to_host_doubles(store.grad(w))[0], 2 * 3.0 * 2.0);  // d(w^2 x)/dw = 2 w x
}

// First-write gradients (Graph::grad_to_write) land in arena memory that still holds the previous step's
// values: with NaN there, the gradients must come out bit for bit as on a fresh arena. x feeds a linear layer
// through a reshape (first write through a view) and a second linear layer (accumulation); the logits reach
// the cross-entropy through a reshape too.
TEST(Graph, FirstWriteGradientsIgnoreStaleArenaContents) {
  Exec ex = cpu_exec(1);
  ParamStore store;
  int w1 = store.add("w1", {12, 8}, Init::Normal(0.3));
  int w2 = store.add("w2", {12, 8}, Init::Normal(0.3));
  store.finalize();
  store.initialize(5);
  OwnedTensor x = random_f32({4, 6, 8}, 7);
  OwnedTensor targets = random_ids({24}, 8, 12);
  auto step = [&](Arena& arena) {
    Graph g(ex, arena);
    store.zero_grads();
    Var xv = g.input(x.tensor(), true);
    Var flat = ops::reshape(g, xv, {24, 8});
    Var logits = ops::add(g, ops::linear(g, flat, g.param(store, w1)), ops::linear(g, flat, g.param(store, w2)));
    Var loss = ops::cross_entropy(g, ops::reshape(g, ops::reshape(g, logits, {4, 6, 12}), {24, 12}),
                                  g.constant(targets.tensor()));
    g.backward(loss);
    std::vector<double> out = to_host_doubles(xv->grad);
    for (int id : {w1, w2})
      for (double v : to_host_doubles(store.grad(id))) out.push_back(v);
    return out;
  };
  Arena fresh;
  const std::vector<double> want = step(fresh);
  Arena stale;
  step(stale);
  stale.reset();
  Tensor fill = stale.tensor(DType::f32, {1 << 16});  // covers the step's whole high-water mark
  for (int64_t i = 0; i < fill.numel(); ++i) fill.ptr<float>()[i] = std::numeric_limits<float>::quiet_NaN();
  stale.reset();
  const std::vector<double> got = step(stale);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << "gradient entry " << i;
    EXPECT_EQ(got[i], want[i]) << "gradient entry " << i;
  }
}

// Lazy zeroing of the parameter gradients (ParamStore::discard_grads): after a discard the slots still hold
// NaN (a stand-in for last step's values), and the next backward must give the gradients of a zeroed store
// bit for bit: the tied weight's first use overwrites its slot (beta 0) and its second accumulates; the bias
// and the embedding table are zero-filled first (their kernels accumulate); a parameter that entered the step
// but got no gradient, and one that never entered it, end as zeros. The data-parallel hook must never see a
// stale slot among the parameters it is told are final.
TEST(Graph, StaleParameterSlotsAreOverwrittenOrZeroed) {
  Exec ex = cpu_exec(1);
  ParamStore store;
  const int w = store.add("w", {12, 8}, Init::Normal(0.3));
  const int b = store.add("b", {12}, Init::Normal(0.3));
  const int table = store.add("table", {12, 8}, Init::Normal(0.3));
  const int mid = store.add("mid", {8, 8}, Init::Normal(0.3));
  const int dead = store.add("dead", {8, 8}, Init::Normal(0.3));
  const int never = store.add("never", {5}, Init::Normal(0.3));
  store.finalize();
  store.initialize(3);
  OwnedTensor ids = random_ids({24}, 9, 12);
  OwnedTensor targets = random_ids({24}, 10, 12);
  struct HookCheck {
    Graph* g;
    ParamStore* store;
    int calls = 0, stale_seen = 0;
  };
  auto step = [&](HookCheck* check) {
    Arena arena;
    Graph g(ex, arena);
    Var wv = g.param(store, w);
    Var x = ops::embedding(g, g.constant(ids.tensor()), g.param(store, table));  // (24, 8)
    Var h = ops::linear(g, x, wv, g.param(store, b));                             // (24, 12), w's 2nd use
    ops::linear(g, x, g.param(store, dead));                                      // feeds nothing
    Var logits = ops::add(g, h, ops::linear(g, ops::linear(g, x, g.param(store, mid)), wv));  // w's 1st
    Var loss = ops::cross_entropy(g, logits, g.constant(targets.tensor()));
    if (check) {
      check->g = &g;
      g.set_backward_hook(
          [](void* ctx, size_t position) {
            auto* c = static_cast<HookCheck*>(ctx);
            ++c->calls;
            for (auto [id, entered] : c->g->param_positions())
              if (entered >= position && c->store->grad_stale(id)) ++c->stale_seen;
          },
          check);
    }
    g.backward(loss);
    std::vector<double> out;
    for (int id = 0; id < store.size(); ++id)
      for (double v : to_host_doubles(store.grad(id))) out.push_back(v);
    return out;
  };
  store.zero_grads();
  const std::vector<double> want = step(nullptr);
  for (int round = 0; round < 2; ++round) {
    const Tensor all = store.grads();
    for (int64_t i = 0; i < all.numel(); ++i) all.ptr<float>()[i] = std::numeric_limits<float>::quiet_NaN();
    store.discard_grads();
    for (int id = 0; id < store.size(); ++id) ASSERT_TRUE(store.grad_stale(id));
    HookCheck check{nullptr, &store};
    const std::vector<double> got = step(round == 0 ? &check : nullptr);
    if (round == 0) {
      EXPECT_GT(check.calls, 1);
      EXPECT_EQ(check.stale_seen, 0) << "the hook saw a stale slot among the final gradients";
    }
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "gradient entry " << i << ", round " << round;
    for (int id = 0; id < store.size(); ++id) EXPECT_FALSE(store.grad_stale(id)) << store.info(id).name;
  }
  for (int id : {dead, never})
    for (double v : to_host_doubles(store.grad(id))) EXPECT_EQ(v, 0.0) << store.info(id).name;
  for (int id : {w, b, table, mid}) {
    double ss = 0.0;
    for (double v : to_host_doubles(store.grad(id))) ss += v * v;
    EXPECT_GT(ss, 0.0) << store.info(id).name << " got no gradient: the check above would prove nothing";
  }
  // A second backward without a discard accumulates: twice the gradients.
  step(nullptr);
  const std::vector<double> twice = [&] {
    std::vector<double> out;
    for (int id = 0; id < store.size(); ++id)
      for (double v : to_host_doubles(store.grad(id))) out.push_back(v);
    return out;
  }();
  for (size_t i = 0; i < want.size(); ++i)  // (a + b) + a + b: equal to 2 (a + b) up to f32 rounding
    ASSERT_NEAR(twice[i], 2 * want[i], 1e-6 * (1 + std::fabs(want[i]))) << "gradient entry " << i;
  // Read without a backward in between: zero_stale_grads() gives zeros.
  store.discard_grads();
  store.zero_stale_grads(ex);
  for (int id = 0; id < store.size(); ++id)
    for (double v : to_host_doubles(store.grad(id))) ASSERT_EQ(v, 0.0) << store.info(id).name;
}

}  // namespace
}  // namespace weft::test
