// Expert parallelism (issue 13) below the trainer: the E x D layout and its validation, the expert-group
// and replica sub-communicators, the differentiable row exchange models use (forward rows arrive where
// expected, the backward is the reverse exchange and accumulates), the gradient reducer with expert
// parameters (dense summed over the world, experts over the shard's replicas, the norm of the whole
// logical model). Checkpoints of sharded parameters: test_expert_checkpoint.cpp. Local cases run directly;
// the *Worker suites run under mpirun on 2 and 4 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "models/common/expert_exchange.h"
#include "parallel/expert_parallel.h"
#include "parallel/grad_reducer.h"
#include "runtime/arena.h"
#include "runtime/graph.h"
#include "tests/parallel/mpi_worker.h"

namespace weft::test {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// ---- layout

TEST(ExpertLayout, ValidatesAndNamesTheFlag) {
  EXPECT_NE(error_of([] { par::make_expert_layout(4, 0, 0, 8, "moeut"); }).find("--expert-parallel"), std::string::npos);
  const std::string world = error_of([] { par::make_expert_layout(4, 0, 3, 6, "moeut"); });
  EXPECT_NE(world.find("--expert-parallel 3 does not divide the world size 4"), std::string::npos) << world;
  const std::string experts = error_of([] { par::make_expert_layout(4, 0, 4, 6, "moeut"); });
  EXPECT_NE(experts.find("--expert-parallel 4 does not divide the 6 experts"), std::string::npos) << experts;
  const std::string dense = error_of([] { par::make_expert_layout(2, 0, 2, 0, "transformer"); });
  EXPECT_NE(dense.find("model 'transformer' has no experts"), std::string::npos) << dense;
  EXPECT_EQ(error_of([] { par::make_expert_layout(3, 2, 1, 0, "transformer"); }), "");  // E = 1: anything goes
}

TEST(ExpertLayout, GroupsAndShards) {
  const par::ExpertLayout l = par::make_expert_layout(8, 5, 2, 16, "moeut");
  EXPECT_EQ(l.data_parallel(), 4);
  EXPECT_EQ(l.shard(), 1);  // rank 5 holds experts [8, 16) of 16
  EXPECT_EQ(l.group(), 2);  // with ranks 4 and 5
  const par::RowRange rows = par::shard_rows(16, 2, l.shard());
  EXPECT_EQ(rows.begin, 8);
  EXPECT_EQ(rows.count, 8);
  EXPECT_EQ(par::make_parallel_context(par::make_expert_layout(4, 1, 1, 8, "m"), nullptr).expert_world(), 1);
  auto local = par::make_local_communicator();
  par::CommExpertExchange ex(*local);
  const models::ParallelContext ctx = par::make_parallel_context(l, &ex);
  EXPECT_EQ(ctx.data_rank, 5);
  EXPECT_EQ(ctx.data_world, 8);
  EXPECT_EQ(ctx.experts, &ex);
}

// ---- exchange_rows

float row_value(int src, int dst, int64_t i, int64_t c) { return src * 100.f + dst * 10.f + i + c * 0.25f; }
float seed_value(int src, int dst, int64_t i, int64_t c) { return 0.5f + src * 7.f + dst * 3.f + i + c * 0.125f; }
int64_t rows_to(int src, int dst) { return (src + 2 * dst) % 3; }  // zeros and self-sends on every layout

// Rank `me` of an expert group of P (ex null when P == 1 and `use_null`): forward, counts, values, and the
// backward of two exchanges of the same x seeded with seed_value (gradients accumulate: dx = 2 x reverse).
void check_exchange(models::ExpertExchange* ex, int me, int P) {
  Arena arena;
  Exec cpu = cpu_exec(1);
  Graph g(cpu, arena);
  constexpr int64_t C = 3;
  std::vector<int64_t> send_rows(P);
  for (int r = 0; r < P; ++r) send_rows[r] = rows_to(me, r);
  const int64_t M = std::accumulate(send_rows.begin(), send_rows.end(), int64_t(0));
  OwnedTensor X(DType::f32, {M, C}), ids(DType::i32, {M, 2});
  for (int r = 0, row = 0; r < P; ++r)
    for (int64_t i = 0; i < send_rows[r]; ++i, ++row) {
      for (int64_t c = 0; c < C; ++c) X.ptr<float>()[row * C + c] = row_value(me, r, i, c);
      ids.ptr<int32_t>()[row * 2] = me * 100 + r * 10 + static_cast<int>(i);
      ids.ptr<int32_t>()[row * 2 + 1] = -r;
    }
  const std::vector<int64_t> recv_rows = models::exchange_counts(g, ex, send_rows);
  ASSERT_EQ(static_cast<int>(recv_rows.size()), P);
  for (int s = 0; s < P; ++s) EXPECT_EQ(recv_rows[s], rows_to(s, me)) << "from rank " << s;
  const int64_t R = std::accumulate(recv_rows.begin(), recv_rows.end(), int64_t(0));

  Var x = g.input(X, true);
  Var y1 = models::exchange_rows(g, x, ex, send_rows, recv_rows);
  Var y2 = models::exchange_rows(g, x, ex, send_rows, recv_rows);
  const Tensor got_ids = models::exchange_values(g, ids, ex, send_rows, recv_rows);
  ASSERT_EQ(y1->value.shape[0], R);
  ASSERT_EQ(got_ids.shape[0], R);
  OwnedTensor seed(DType::f32, {R, C});
  for (int s = 0, row = 0; s < P; ++s)
    for (int64_t i = 0; i < recv_rows[s]; ++i, ++row) {
      EXPECT_EQ(got_ids.ptr<int32_t>()[row * 2], s * 100 + me * 10 + static_cast<int>(i));
      EXPECT_EQ(got_ids.ptr<int32_t>()[row * 2 + 1], -me);
      for (int64_t c = 0; c < C; ++c) {
        EXPECT_EQ(y1->value.ptr<float>()[row * C + c], row_value(s, me, i, c)) << "row " << i << " from " << s;
        seed.ptr<float>()[row * C + c] = seed_value(s, me, i, c);
      }
    }
  g.backward({y1, y2}, {seed.tensor(), seed.tensor()});
  // Row i sent to rank r came back with the seed rank r gave it (source me, destination r), twice.
  for (int r = 0, row = 0; r < P; ++r)
    for (int64_t i = 0; i < send_rows[r]; ++i, ++row)
      for (int64_t c = 0; c < C; ++c)
        EXPECT_EQ(x->grad.ptr<float>()[row * C + c], 2.f * seed_value(me, r, i, c)) << "row " << i << " to " << r;
}

TEST(ExchangeRows, IdentityWithoutExchangeOrOnOneRank) {
  check_exchange(nullptr, 0, 1);
  auto local = par::make_local_communicator();
  par::CommExpertExchange one(*local);
  check_exchange(&one, 0, 1);
  Arena arena;
  Exec cpu = cpu_exec(1);
  Graph g(cpu, arena);
  OwnedTensor X(DType::f32, {4, 2});
  Var x = g.input(X, true);
  EXPECT_EQ(models::exchange_rows(g, x, nullptr, {4}, {4}), x);  // the same Var: no copy, no tape entry
  EXPECT_THROW(models::exchange_rows(g, x, nullptr, {3}, {3}), Error);    // counts do not cover x
  EXPECT_THROW(models::exchange_rows(g, x, &one, {4, 0}, {4, 0}), Error);  // two counts for one rank
}

TEST(ExpertParallelWorker, SubCommunicators) {
  WEFT_MPI_WORKER_ONLY();
  par::Communicator& world = mpi_world();
  const int E = 2;
  const par::ExpertLayout l = par::make_expert_layout(world.size(), world.rank(), E, 4, "toy");
  par::ExpertComms c = par::split_expert_comms(world, l);
  EXPECT_EQ(c.group->size(), E);
  EXPECT_EQ(c.group->rank(), world.rank() % E);
  EXPECT_EQ(c.replicas->size(), world.size() / E);
  EXPECT_EQ(c.replicas->rank(), world.rank() / E);
  std::vector<int32_t> members(E), expected(E);
  const int32_t me = world.rank();
  c.group->all_gather(&me, members.data(), 1, DType::i32);
  for (int k = 0; k < E; ++k) expected[k] = l.group() * E + k;  // E consecutive ranks
  EXPECT_EQ(members, expected);
}

TEST(ExpertParallelWorker, ExchangeRowsOverTheWorld) {
  WEFT_MPI_WORKER_ONLY();
  par::CommExpertExchange ex(mpi_world());
  check_exchange(&ex, mpi_world().rank(), mpi_world().size());
  EXPECT_GT(ex.bytes_sent(), 0);
}

TEST(ExpertParallelWorker, ExchangeRowsInGroupsOfTwo) {
  WEFT_MPI_WORKER_ONLY();
  par::Communicator& world = mpi_world();
  par::ExpertComms c = par::split_expert_comms(world, par::make_expert_layout(world.size(), world.rank(), 2, 2, "toy"));
  par::CommExpertExchange ex(*c.group);
  check_exchange(&ex, c.group->rank(), 2);
}

// ---- gradient reduction

// A toy store: dense a (3, 5), expert e (2 of 4 rows, 4), dense b (7), expert f (1 of 2 rows, 3).
struct ToyStore {
  ParamStore store;
  explicit ToyStore(int shard) {
    store.add("a", {3, 5}, Init::Normal(0.1));
    store.add("e", {2, 4}, Init::Normal(0.1), true, ParamGroup::expert, ShardOf{2 * shard, 4});
    store.add("b", {7}, Init::Zeros(), false);
    store.add("f", {1, 3}, Init::Normal(0.1), true, ParamGroup::expert, ShardOf{shard, 2});
    store.finalize();
  }
};
// The gradient rank k sets on element j of the logical tensor of parameter id.
double toy_grad(int id, int k, int64_t j) { return (k + 1) * (1.0 + 0.01 * static_cast<double>(j) + 0.1 * id); }
int64_t logical_offset(const ParamInfo& p) { return p.shard.sharded() ? p.shard.begin * (p.shape.numel() / p.shape[0]) : 0; }

TEST(ExpertParallelWorker, ReducerSumsExpertsOverReplicasOnly) {
  WEFT_MPI_WORKER_ONLY();
  par::Communicator& world = mpi_world();
  const int E = 2, P = world.size(), me = world.rank();
  const par::ExpertLayout l = par::make_expert_layout(P, me, E, 4, "toy");
  par::ExpertComms c = par::split_expert_comms(world, l);
  ToyStore toy(l.shard());
  ParamStore& s = toy.store;
  for (int id = 0; id < s.size(); ++id) {
    float* g = s.grad(id).ptr<float>();
    for (int64_t j = 0; j < s.info(id).shape.numel(); ++j)
      g[j] = static_cast<float>(toy_grad(id, me, logical_offset(s.info(id)) + j));
  }
  par::ExpertGrads eg{c.replicas.get(), c.group.get()};
  auto reducer = par::make_grad_reducer(0, s, world, world, 32, {}, &eg);  // small buckets: several
  Exec cpu = cpu_exec(1);
  const double norm = reducer->reduce(cpu, s);
  double expected_ss = 0.0;
  for (int id = 0; id < s.size(); ++id) {
    const ParamInfo& p = s.info(id);
    const bool expert = p.group == ParamGroup::expert;
    for (int64_t j = 0; j < p.shape.numel(); ++j) {
      double want = 0.0;
      for (int k = 0; k < P; ++k)
        if (!expert || k % E == l.shard()) want += toy_grad(id, k, logical_offset(p) + j);
      EXPECT_NEAR(s.grad(id).ptr<float>()[j], want, 1e-5 * std::abs(want)) << p.name << "[" << j << "] rank " << me;
    }
    // The whole logical model: dense once, every expert shard once (shards of the other group ranks too).
    const int64_t full = p.full_shape().numel();
    for (int64_t j = 0; j < full; ++j) {
      const int shard = expert ? static_cast<int>(j / p.shape.numel()) : -1;
      if (!expert && j >= p.shape.numel()) break;
      double v = 0.0;
      for (int k = 0; k < P; ++k)
        if (!expert || k % E == shard) v += toy_grad(id, k, j);
      expected_ss += v * v;
    }
  }
  EXPECT_NEAR(norm, std::sqrt(expected_ss), 1e-6 * std::sqrt(expected_ss));
}

TEST(ExpertGrads, Zero1IsRefusedWithExperts) {
  auto local = par::make_local_communicator();
  ToyStore toy(0);
  par::ExpertGrads eg{local.get(), local.get()};
  const std::string e = error_of([&] { par::make_grad_reducer(1, toy.store, *local, *local, 1 << 20, {}, &eg); });
  EXPECT_NE(e.find("--zero 1 with --expert-parallel"), std::string::npos) << e;
}

TEST(ExpertParallel, Mpi2Ranks) { WEFT_RUN_MPI_WORKERS(2, "ExpertParallelWorker.*"); }
TEST(ExpertParallel, Mpi4Ranks) { WEFT_RUN_MPI_WORKERS(4, "ExpertParallelWorker.*"); }

}  // namespace
}  // namespace weft::test
