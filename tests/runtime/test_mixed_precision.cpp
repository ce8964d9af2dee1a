// Mixed-precision parameters on the CPU: the compute copy mirrors the master layout, refresh() rounds
// the master values into it, fold_grads() widens and adds its gradients into the master ones and
// zeroes them, over the whole buffer or one flat range; and GradSync hands every bucket's range to its
// before_reduce hook exactly once. The CPU stands in for the GPU with an f64 master and an f32 compute
// copy (the GPU pairs f32 with bf16 through the same code); f32 -> bf16 rounding is checked directly.
#include <gtest/gtest.h>

#include <vector>

#include "parallel/comm.h"
#include "parallel/data_parallel.h"
#include "runtime/optim/mixed_precision.h"
#include "runtime/rng.h"

namespace weft {
namespace {

ParamStore make_master(DType dt) {
  ParamStore s(dt);
  s.add("w", {5, 7}, Init::Normal(1.0));
  s.add("b", {3}, Init::Uniform(1.0), false);
  s.add("e", {2, 9}, Init::Normal(0.5));
  s.finalize();
  s.initialize(3);
  return s;
}

TEST(MixedPrecision, MirrorKeepsElementOffsets) {
  ParamStore master = make_master(DType::f64);
  optim::MixedPrecision mp(master, DType::f32);
  ASSERT_EQ(mp.compute().size(), master.size());
  EXPECT_EQ(mp.compute().total(), master.total());
  for (int id = 0; id < master.size(); ++id) {
    EXPECT_EQ(mp.compute().info(id).name, master.info(id).name);
    EXPECT_EQ(mp.compute().info(id).offset, master.info(id).offset);
    EXPECT_EQ(mp.compute().value(id).dtype, DType::f32);
  }
}

TEST(MixedPrecision, RefreshRoundsMasterValues) {
  Exec ex = cpu_exec(1);
  ParamStore master = make_master(DType::f64);
  optim::MixedPrecision mp(master, DType::f32);
  mp.refresh(ex, master);
  const double* m = master.values().ptr<double>();
  const float* c = mp.compute().values().ptr<float>();
  for (int64_t i = 0; i < master.total(); ++i) EXPECT_EQ(c[i], static_cast<float>(m[i])) << i;

  ParamStore master32 = make_master(DType::f32);
  optim::MixedPrecision bf(master32, DType::bf16);
  bf.refresh(ex, master32);
  const float* m32 = master32.values().ptr<float>();
  const bf16* b = bf.compute().values().ptr<bf16>();
  for (int64_t i = 0; i < master32.total(); ++i) EXPECT_EQ(b[i].bits, bf16::from_float(m32[i]).bits) << i;
}

TEST(MixedPrecision, FoldAddsWidenedGradientsAndZeroesThem) {
  Exec ex = cpu_exec(1);
  ParamStore master = make_master(DType::f64);
  optim::MixedPrecision mp(master, DType::f32);
  const int64_t n = master.total();
  double* mg = master.grads().ptr<double>();
  float* cg = mp.compute().grads().ptr<float>();
  Rng r(1, 0);
  std::vector<double> before(n);
  for (int64_t i = 0; i < n; ++i) {
    mg[i] = before[i] = r.uniform();
    cg[i] = r.uniform() - 0.5f;
  }
  std::vector<float> narrow(cg, cg + n);
  const int64_t lo = master.info(1).offset, hi = master.info(2).offset;  // parameter "b" and its padding
  mp.fold_grads(ex, master, lo, hi);
  for (int64_t i = 0; i < n; ++i) {
    const bool in = i >= lo && i < hi;
    EXPECT_EQ(mg[i], in ? before[i] + double(narrow[i]) : before[i]) << i;
    EXPECT_EQ(cg[i], in ? 0.0f : narrow[i]) << i;
  }
  mp.fold_grads(ex, master);  // the rest
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(mg[i], before[i] + double(narrow[i])) << i;
    EXPECT_EQ(cg[i], 0.0f) << i;
  }
  EXPECT_THROW(mp.fold_grads(ex, master, 0, n + 1), Error);
}

TEST(MixedPrecision, RejectsAWiderComputeType) {
  ParamStore master = make_master(DType::f32);
  EXPECT_THROW(optim::MixedPrecision(master, DType::f64), Error);
}

TEST(GradSync, BeforeReduceSeesEveryBucketRangeOnce) {
  ParamStore master = make_master(DType::f32);
  auto comm = par::make_local_communicator();
  std::vector<std::pair<int64_t, int64_t>> ranges;
  par::GradSync sync(master, *comm, 64, [&](int64_t b, int64_t e) { ranges.emplace_back(b, e); });
  ASSERT_GT(sync.buckets(), 1);
  sync.finish();  // no backward attached: finish starts every bucket itself
  ASSERT_EQ(static_cast<int>(ranges.size()), sync.buckets());
  int64_t next = 0;
  for (auto [b, e] : ranges) {  // contiguous, in layout order, covering the whole flat buffer
    EXPECT_EQ(b, next);
    EXPECT_GT(e, b);
    next = e;
  }
  EXPECT_EQ(next, master.total());
}

}  // namespace
}  // namespace weft
