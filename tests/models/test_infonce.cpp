// The InfoNCE objective of `weft train --objective infonce` (models/common/infonce.h, spec masked-mixer.md A.10
// item 10): the loss composed from runtime ops against a direct fp64 formula, its fp64 finite-difference
// gradient (the spec's tau = 0.02 and a mild tau), and the whole path through a tiny masked mixer (tap at -2 of
// the last block, cosine, softmax cross-entropy) against the independent PyTorch reference
// tools/reference/infonce_reference.py: the loss and every parameter gradient (the LM head's is zero: its
// output is not used), f32 to 1e-5 and f64 to 1e-6 relative.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "models/common/infonce.h"
#include "models/registry.h"
#include "tests/harness/fixture.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

// The loss straight from the definition, in fp64 on the host: embeddings (G N, C) row-major.
double reference_loss(const std::vector<double>& e, int64_t G, int64_t N, int64_t C, const std::vector<int>& targets,
                      double tau) {
  auto unit = [&](int64_t row) {
    double sq = 0;
    for (int64_t c = 0; c < C; ++c) sq += e[row * C + c] * e[row * C + c];
    std::vector<double> u(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) u[c] = e[row * C + c] / std::sqrt(sq);
    return u;
  };
  double total = 0;
  for (int64_t g = 0; g < G; ++g) {
    const std::vector<double> q = unit(g * N);
    std::vector<double> s;
    for (int64_t j = 1; j < N; ++j) {
      const std::vector<double> d = unit(g * N + j);
      double dot = 0;
      for (int64_t c = 0; c < C; ++c) dot += q[c] * d[c];
      s.push_back(dot / tau);
    }
    double z = 0;
    for (double v : s) z += std::exp(v);
    total += std::log(z) - s[static_cast<size_t>(targets[static_cast<size_t>(g)])];
  }
  return total / static_cast<double>(G);
}

TEST(InfoNce, LossMatchesTheDefinition) {
  const int64_t G = 3, N = 4, C = 6;
  OwnedTensor e = random_f64({G * N, C}, 11);
  const std::vector<int> targets = {2, 0, 1};
  for (double tau : {0.02, 0.5}) {
    Exec ex = cpu_exec();
    Arena arena;
    Graph g(ex, arena);
    OwnedTensor t = from_values(DType::i32, {G}, {2, 0, 1});
    models::InfoNce nce = models::infonce_loss(g, g.constant(e.tensor()), N, g.constant(t.tensor()),
                                               static_cast<float>(tau));
    const double ref = reference_loss(to_host_doubles(e.tensor()), G, N, C, targets, tau);
    // 1e-7: the op takes tau and the mean's divisor as floats (1 / 3 rounded to f32), the rest is fp64
    EXPECT_NEAR(to_host_doubles(nce.loss->value)[0], ref, 1e-7 * std::fabs(ref)) << "tau " << tau;
    EXPECT_EQ(nce.scores->value.shape, (Shape{G, N - 1}));
    // normalizer: the summed losses divided by it (data parallel passes the global group count)
    Graph g2(ex, arena);
    models::InfoNce sum = models::infonce_loss(g2, g2.constant(e.tensor()), N, g2.constant(t.tensor()),
                                               static_cast<float>(tau), 1.0f);
    EXPECT_NEAR(to_host_doubles(sum.loss->value)[0], ref * G, 1e-7 * std::fabs(ref * G));
  }
}

TEST(InfoNce, GradientFp64) {
  for (double tau : {0.02, 0.5}) {
    std::vector<GradInput> in;
    in.push_back({random_f64({2 * 5, 7}, 3), true});
    in.push_back({from_values(DType::i32, {2}, {3, 1}), false});
    auto r = gradcheck(in, [tau](Graph& g, const std::vector<Var>& v) {
      return std::vector<Var>{models::infonce_loss(g, v[0], 5, v[1], static_cast<float>(tau), 2.0f).loss};
    });
    EXPECT_LT(r.max_rel_error, 1e-6) << "tau " << tau << "\n" << r.report;
  }
}

TEST(InfoNce, BadShapesNameTheOp) {
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor e = random_f64({9, 4}, 1);
  OwnedTensor t = from_values(DType::i32, {2}, {0, 1});
  EXPECT_NE(error_of([&] { models::infonce_loss(g, g.constant(e.tensor()), 4, g.constant(t.tensor()), 0.02f); })
                .find("[infonce_loss]"),
            std::string::npos);
}

// A tiny mixer, the fixture's parameters, one group batch: loss and gradients against PyTorch.
void check_reference(DType dt, double tol) {
  const Fixture fx = load_fixture(fixture_dir() + "/infonce_mixer.fix");
  std::map<std::string, std::string> flags;
  for (const auto& [k, v] : fx.config)
    if (k != "model" && k.rfind("infonce-", 0) != 0) flags[k] = v;
  std::unique_ptr<models::Model> model = models::build_model(fx.config.at("model"), flags);
  ParamStore store(dt);
  model->declare(store);
  store.finalize();
  load_fixture_params(fx, store);
  const FixtureTensor &ids_t = fx.at("ids"), &pos_t = fx.at("positions"), &tg_t = fx.at("targets");
  OwnedTensor ids = from_values(DType::i32, ids_t.shape, std::vector<double>(ids_t.i32.begin(), ids_t.i32.end()));
  OwnedTensor targets = from_values(DType::i32, tg_t.shape, std::vector<double>(tg_t.i32.begin(), tg_t.i32.end()));
  const std::vector<int64_t> positions(pos_t.i32.begin(), pos_t.i32.end());
  const int64_t N = std::stoll(fx.config.at("infonce-group"));
  const float tau = std::stof(fx.config.at("infonce-tau"));
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  Var emb = models::tap_embeddings(g, *model, store, ids.tensor(), fx.config.at("infonce-tap"), positions);
  models::InfoNce nce = models::infonce_loss(g, emb, N, g.constant(targets.tensor()), tau);
  g.backward(nce.loss);
  const double ref = fx.at("loss").f32[0], got = to_host_doubles(nce.loss->value)[0];
  EXPECT_NEAR(got, ref, tol * std::fabs(ref));
  double worst = 0;
  int checked = 0, nonzero = 0;
  for (int id = 0; id < store.size(); ++id) {
    const std::string& name = store.info(id).name;
    const FixtureTensor& gref = fx.at("grad." + name);
    const double err = max_rel_error(to_host_doubles(store.grad(id)), gref.f32);
    EXPECT_LT(err, tol) << "gradient of " << name;
    worst = std::max(worst, err);
    ++checked;
    for (float v : gref.f32) nonzero += v != 0.0f;
  }
  EXPECT_EQ(checked, static_cast<int>(fx.tensors.size() - 4) / 2) << "every reference parameter is in weft";
  EXPECT_GT(nonzero, 1000) << "the fixture's gradients are not all zero";
  std::printf("  infonce_mixer %s: loss %.6f (reference %.6f), worst gradient rel %.2e over %d parameters\n",
              std::string(dtype_name(dt)).c_str(), got, ref, worst, checked);
}

TEST(InfoNceReference, MixerLossAndGradientsF32) { check_reference(DType::f32, 1e-5); }
TEST(InfoNceReference, MixerLossAndGradientsF64) { check_reference(DType::f64, 1e-6); }

TEST(InfoNce, UnknownTapIsAnError) {
  std::unique_ptr<models::Model> model = models::build_model("mixer", {{"vocab-size", "11"}, {"seq-len", "6"},
                                                                       {"d-model", "8"}, {"n-layers", "1"}});
  ParamStore store(DType::f32);
  model->declare(store);
  store.finalize();
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor ids = from_values(DType::i32, {2, 6}, std::vector<double>(12, 1.0));
  const std::string err =
      error_of([&] { models::tap_embeddings(g, *model, store, ids.tensor(), "final", {4, 4}); });
  EXPECT_NE(err.find("no (S, L, C) tap 'final'"), std::string::npos) << err;
}

}  // namespace
}  // namespace weft::test
