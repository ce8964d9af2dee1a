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

}  // namespace
}  // namespace weft::test
