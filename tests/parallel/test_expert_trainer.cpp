// The trainer with --expert-parallel end to end, on a toy MoE model defined here (MoEUT lives in
// models/moeut/): token n goes to expert ids[n] % 4, whose (C, C) matrix lives on rank expert / (4 / E) of
// its expert group; rows travel with models::exchange_rows and come back the same way. Same global batch:
// E = 1 (1 rank, 4 micro-batches) vs E = 2 (2 ranks, 2) vs E = 2 x D = 2 (4 ranks, 1) give the same losses
// and the same final weights (1e-5 relative); a checkpoint of E = 2 continued with E = 1, and one of E = 1
// continued with E = 2 x D = 2, reproduce the uninterrupted losses; gradient norms agree too. Label mpi (drivers start mpirun).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include "launch/checkpoint.h"
#include "runtime/checkpoint/h5.h"
#include "launch/trainer.h"
#include "models/common/blocks.h"
#include "models/common/expert_exchange.h"
#include "tests/parallel/mpi_worker.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

class ToyMoe final : public models::Model {
 public:
  static constexpr int64_t V = 257, C = 8, NE = 4;
  std::string name() const override { return "toymoe"; }
  int64_t n_experts() const override { return NE; }
  double flops_per_token(int64_t) const override { return 1.0; }
  int64_t vocab_size() const override { return V; }
  void declare(ParamStore& store) override {
    local_ = NE / parallel().expert_world();
    first_ = parallel().expert_rank() * local_;
    emb_ = store.add("emb", {V, C}, Init::Normal(0.3));
    experts_ = store.add("experts", {local_, C, C}, Init::Normal(0.3), true, ParamGroup::expert, ShardOf{first_, NE});
  }
  Var loss(Graph& g, ParamStore& store, const models::Batch& batch, Rng&, bool) override {
    return models::next_token_loss(g, forward(g, store, batch.inputs), batch);
  }
  Var logits(Graph& g, ParamStore& store, const Tensor& ids) override { return forward(g, store, ids); }

 private:
  Tensor host_i32(Graph& g, const std::vector<int32_t>& v) {
    Tensor t = g.alloc(DType::i32, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.ptr<int32_t>());
    return t;
  }
  Var forward(Graph& g, ParamStore& store, const Tensor& ids) {
    const int64_t B = ids.shape[0], T = ids.shape[1], N = B * T;
    const int P = parallel().expert_world();
    models::ExpertExchange* ex = parallel().experts;
    Var h = ops::reshape(g, ops::embedding(g, g.constant(ids), g.param(store, emb_)), {N, C});
    // Rows sorted by expert (so by owning rank), stable.
    std::vector<int32_t> expert(N), perm(N);
    for (int64_t n = 0; n < N; ++n) expert[n] = ids.ptr<int32_t>()[n] % NE;
    std::iota(perm.begin(), perm.end(), 0);
    std::stable_sort(perm.begin(), perm.end(), [&](int a, int b) { return expert[a] < expert[b]; });
    std::vector<int64_t> send_rows(P, 0);
    std::vector<int32_t> sorted_experts(N);
    for (int64_t i = 0; i < N; ++i) {
      sorted_experts[i] = expert[perm[i]];
      ++send_rows[sorted_experts[i] / local_];
    }
    Var pv = g.constant(host_i32(g, perm));
    Var xs = ops::gather_rows(g, h, pv);
    const std::vector<int64_t> recv_rows = models::exchange_counts(g, ex, send_rows);
    const Tensor got = models::exchange_values(g, host_i32(g, sorted_experts), ex, send_rows, recv_rows);
    Var xr = models::exchange_rows(g, xs, ex, send_rows, recv_rows);
    const int64_t R = xr->value.shape[0];
    // This rank's experts on the rows it received.
    std::vector<Var> w = ops::split(g, g.param(store, experts_), std::vector<int64_t>(local_, 1), 0);
    Var y = ops::scale(g, xr, 0.0f);
    for (int64_t e = 0; e < local_; ++e) {
      std::vector<int32_t> rows;
      for (int64_t i = 0; i < R; ++i)
        if (got.ptr<int32_t>()[i] == first_ + e) rows.push_back(static_cast<int32_t>(i));
      if (rows.empty()) continue;
      Var idx = g.constant(host_i32(g, rows));
      Var ye = ops::matmul(g, ops::gather_rows(g, xr, idx), ops::reshape(g, w[e], {C, C}));
      y = ops::add(g, y, ops::scatter_add_rows(g, ye, idx, R));
    }
    Var back = models::exchange_rows(g, y, ex, recv_rows, send_rows);  // (N, C) in sorted order
    Var h2 = ops::add(g, h, ops::scatter_add_rows(g, back, pv, N));
    return ops::reshape(g, ops::matmul(g, h2, g.param(store, emb_), false, true), {B, T, V});
  }
  int64_t local_ = NE, first_ = 0;
  int emb_ = -1, experts_ = -1;
};

std::string env(const char* k, const char* fallback = "") {
  const char* v = std::getenv(k);
  return v ? v : fallback;
}

TEST(ExpertTrainerWorker, Run) {
  WEFT_MPI_WORKER_ONLY();
  launch::TrainOptions o;
  o.data = env("WEFT_TOY_DATA");
  o.out = env("WEFT_TOY_OUT");
  o.steps = o.decay_steps = 6;
  o.batch_size = 2;
  o.grad_accum = std::stoi(env("WEFT_TOY_ACCUM", "1"));
  o.expert_parallel = std::stoi(env("WEFT_TOY_E", "1"));
  o.lr = 3e-2;
  o.warmup = 0;
  o.eval_every = o.eval_batches = 0;
  o.log_every = 1;
  o.save_every = 3;
  o.keep_checkpoints = 5;
  o.threads = 1;
  o.device = "cpu";
  par::Communicator& world = mpi_world();
  launch::Trainer trainer(o, std::make_unique<ToyMoe>(), 16, launch::CheckpointMeta{"toymoe", "", "test", world.size()},
                          world);
  if (!env("WEFT_TOY_RESUME").empty()) trainer.resume_from(env("WEFT_TOY_RESUME"));
  trainer.run();
}

// metrics.jsonl's `key` per step ("loss", "grad_norm").
std::map<int, double> losses(const std::string& run, const std::string& key = "loss") {
  std::map<int, double> m;
  std::ifstream in(run + "/metrics.jsonl");
  std::string line;
  const std::string k = "\"" + key + "\": ";
  while (std::getline(in, line)) {
    size_t s = line.find("\"step\": "), l = line.find(k);
    if (s != std::string::npos && l != std::string::npos)
      m[std::stoi(line.substr(s + 8))] = std::stod(line.substr(l + k.size()));
  }
  return m;
}

std::vector<float> final_weights(const std::string& run) {
  ToyMoe model;  // E = 1: the full logical model
  ParamStore store;
  model.declare(store);
  store.finalize();
  launch::load_checkpoint(launch::resolve_checkpoint(run, "latest"), store, nullptr, nullptr);
  const Tensor t = store.values();
  return std::vector<float>(t.ptr<float>(), t.ptr<float>() + t.numel());
}

void expect_close(const std::map<int, double>& a, const std::map<int, double>& b, int from, const std::string& what) {
  for (int s = from; s <= 6; ++s) {
    ASSERT_TRUE(a.count(s) && b.count(s)) << what << ": step " << s << " missing";
    EXPECT_NEAR(a.at(s), b.at(s), 1e-5 * std::abs(b.at(s))) << what << ": step " << s;
  }
}

TEST(ExpertTrainer, SameLossesAndWeightsForE1E2AndE2xD2) {
  if (in_mpi_worker()) GTEST_SKIP() << "driver";
  if (!par::mpi_available() || run_shell("command -v mpirun").code != 0) GTEST_SKIP() << "no MPI";
  const std::string dir = (fs::temp_directory_path() / ("weft_expert_trainer_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  ASSERT_EQ(run_shell(std::string(WEFT_BINARY) + " prepare --builtin stories --out " + dir + "/data --tokens 40000").code, 0);
  auto run = [&](int n, int E, int accum, const std::string& out, const std::string& resume = "") {
    std::string vars = " -x WEFT_TOY_DATA=" + dir + "/data -x WEFT_TOY_OUT=" + dir + "/" + out + " -x WEFT_TOY_E=" +
                       std::to_string(E) + " -x WEFT_TOY_ACCUM=" + std::to_string(accum);
    if (!resume.empty()) vars += " -x WEFT_TOY_RESUME=" + dir + "/" + resume;
    ProcessResult r = run_mpi_workers(n, "ExpertTrainerWorker.*", vars);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
  };
  run(1, 1, 4, "e1");
  run(2, 2, 2, "e2");
  run(4, 2, 1, "e2d2");
  const auto l1 = losses(dir + "/e1");
  expect_close(losses(dir + "/e2"), l1, 1, "E = 2 vs E = 1");
  expect_close(losses(dir + "/e2d2"), l1, 1, "E = 2 x D = 2 vs E = 1");
  // The clipping norm is that of the whole logical model under every layout.
  expect_close(losses(dir + "/e2", "grad_norm"), losses(dir + "/e1", "grad_norm"), 1, "grad norm, E = 2");
  expect_close(losses(dir + "/e2d2", "grad_norm"), losses(dir + "/e1", "grad_norm"), 1, "grad norm, E = 2 x D = 2");
  const std::vector<float> w1 = final_weights(dir + "/e1");
  for (const char* other : {"e2", "e2d2"}) {
    const std::vector<float> w = final_weights(dir + "/" + other);
    ASSERT_EQ(w.size(), w1.size());
    double num = 0, den = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      num += (w[i] - w1[i]) * (w[i] - w1[i]);
      den += w1[i] * w1[i];
    }
    EXPECT_LT(std::sqrt(num / den), 1e-5) << other;
  }
  // E = 2 x D = 2 saves one shard file per expert shard (the first expert group writes them), none in the main file.
  const std::string saved = launch::resolve_checkpoint(dir + "/e2d2", "latest");
  EXPECT_TRUE(fs::exists(saved + "/experts_00000.h5") && fs::exists(saved + "/experts_00001.h5"));
  EXPECT_FALSE(fs::exists(saved + "/experts_00002.h5"));
  EXPECT_FALSE(ckpt::H5File::open_read(saved + "/rank_00000.h5").has("params/experts"));
  // Across layouts: E = 2's step-3 checkpoint continued with E = 1, E = 1's with E = 2 x D = 2.
  run(1, 1, 4, "e2_then_e1", "e2/checkpoints/step_00000003");
  expect_close(losses(dir + "/e2_then_e1"), losses(dir + "/e2"), 4, "E = 2 resumed with E = 1");
  run(4, 2, 1, "e1_then_e2d2", "e1/checkpoints/step_00000003");
  expect_close(losses(dir + "/e1_then_e2d2"), l1, 4, "E = 1 resumed with E = 2 x D = 2");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace weft::test
