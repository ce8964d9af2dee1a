// Representation accuracy (spec A.9, launch/analyze_represent.h): the pseudo-inverse against a known matrix,
// the Hamming metric on a hand-made case, Model::blocks_from_embeddings against the forward's last block tap
// for every family that implements it, and a tiny end-to-end recovery by an untrained mixer.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "launch/analyze_represent.h"
#include "models/registry.h"
#include "tests/harness/gradcheck.h"

namespace weft::launch {
namespace {

using test::error_of;
using test::random_ids;
using test::to_host_doubles;

TEST(Represent, PseudoInverseOfAKnownMatrix) {
  // E (4, 2) with E^T E = [[6, -1], [-1, 3]], det 17: P = (E^T E)^-1 E^T = [[3, 1], [1, 6]] E^T / 17.
  const std::vector<double> E = {1, 0, 0, 1, 1, 1, 2, -1};
  const std::vector<double> P = pseudo_inverse(E, 4, 2);
  ASSERT_EQ(P.size(), 8u);
  const std::vector<double> expect = {3.0 / 17, 1.0 / 17, 4.0 / 17, 5.0 / 17,   // row 0: 3 e0 + e1 over the rows
                                      1.0 / 17, 6.0 / 17, 7.0 / 17, -4.0 / 17};  // row 1: e0 + 6 e1
  for (size_t i = 0; i < P.size(); ++i) EXPECT_NEAR(P[i], expect[i], 1e-14) << i;
  // P E = I (full column rank), E P is a symmetric idempotent projection.
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      double s = 0;
      for (int v = 0; v < 4; ++v) s += P[i * 4 + v] * E[v * 2 + j];
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-14);
    }
  double H[4][4];
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) H[a][b] = E[a * 2] * P[b] + E[a * 2 + 1] * P[4 + b];
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) {
      double hh = 0;
      for (int c = 0; c < 4; ++c) hh += H[a][c] * H[c][b];
      EXPECT_NEAR(H[a][b], H[b][a], 1e-14);
      EXPECT_NEAR(hh, H[a][b], 1e-14);
    }
}

TEST(Represent, PseudoInverseRejectsRankDeficientMatrices) {
  const std::vector<double> dependent = {1, 2, 2, 4, -1, -2};  // (3, 2), column 1 = 2 x column 0
  EXPECT_NE(error_of([&] { pseudo_inverse(dependent, 3, 2); }).find("rank deficient"), std::string::npos);
  const std::vector<double> wide = {1, 0, 0, 0, 1, 0};  // (2, 3): fewer rows than columns
  EXPECT_NE(error_of([&] { pseudo_inverse(wide, 2, 3); }).find("full column rank"), std::string::npos);
}

TEST(Represent, TopTokensAndHammingOnAHandMadeCase) {
  // P = I (C = V = 3): the scores are x itself.
  const std::vector<double> P = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  const std::vector<double> x = {0.1, 0.9, 0.5,    // 1, 2, 0
                                 0.7, 0.7, 0.2};   // tie: 0 before 1, then 2
  EXPECT_EQ(top_tokens(x, 2, P, 3, 3, 2), (std::vector<int32_t>{1, 2, 0, 1}));
  // pad = 0; positions with ref 0 do not count.
  const std::vector<int32_t> ref = {3, 0, 5, 2, 7};
  const std::vector<int32_t> rec = {1, 3,    // hit
                                    9, 9,    // pad: ignored
                                    4, 6,    // miss
                                    2, 2,    // hit
                                    0, 1};   // miss
  const HammingCount h = hamming(ref, rec, 2, 0);
  EXPECT_EQ(h.positions, 4);
  EXPECT_EQ(h.misses, 2);
  EXPECT_DOUBLE_EQ(h.rate(), 0.5);
  EXPECT_DOUBLE_EQ(hamming({0, 0}, {1, 1}, 1, 0).rate(), 0.0);  // all pad: no position, rate 0
}

// A model of family `family` at configuration `flags`, initialised, in an f32 store.
struct Tiny {
  Tiny(const std::string& family, std::map<std::string, std::string> flags, int64_t V, int64_t L, uint64_t init = 11)
      : store(DType::f32) {
    flags["vocab-size"] = std::to_string(V);
    flags["seq-len"] = std::to_string(L);
    model = models::build_model(family, flags);
    model->declare(store);
    store.finalize();
    store.initialize(init);
  }
  Exec ex = cpu_exec(1);
  Arena arena;
  ParamStore store;
  std::unique_ptr<models::Model> model;
};

TEST(Represent, BlocksFromEmbeddingsEqualTheForwardsLastBlock) {
  constexpr int64_t V = 13, L = 9, B = 2, T = 7;
  // Every family's test configurations, and the transformer at every position scheme (positions are added to
  // the given embeddings inside the hook).
  std::vector<std::pair<std::string, models::TestConfig>> cases;
  for (const models::ModelFamily& f : models::model_families())
    for (const models::TestConfig& c : models::family_test_configs(f)) cases.push_back({f.name, c});
  for (const char* p : {"learned", "sinusoidal", "rope", "alibi", "sandwich", "none"})
    cases.push_back({"transformer", {p, {{"d-model", "8"}, {"n-layers", "2"}, {"n-heads", "2"}, {"position", p}}}});
  int implemented = 0;
  for (const auto& [family, c] : cases) {
    SCOPED_TRACE(family + "/" + c.name);
    Tiny m(family, c.flags, V, L);
    Tensor E;
    const std::string err = error_of([&] { E = m.model->token_embeddings(m.store); });
    if (!err.empty()) {  // the default hooks: both unsupported, naming the model
      EXPECT_NE(err.find(m.model->name()), std::string::npos) << err;
      Graph g(m.ex, m.arena);
      OwnedTensor x(DType::f32, {B, T, 4});
      EXPECT_NE(error_of([&] { m.model->blocks_from_embeddings(g, m.store, g.constant(x.tensor())); })
                    .find("does not support"),
                std::string::npos);
      continue;
    }
    ++implemented;
    const OwnedTensor ids = random_ids({B, T}, 3, static_cast<int32_t>(V));
    Graph g(m.ex, m.arena);
    g.grad_enabled = false;
    models::Taps taps({"blocks.*"});
    m.model->set_taps(&taps);
    m.model->logits(g, m.store, ids.tensor());
    m.model->set_taps(nullptr);
    Var last = nullptr;
    for (const auto& [name, v] : taps.captured())
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".out") == 0) last = v;
    ASSERT_NE(last, nullptr);
    const std::vector<double> want = to_host_doubles(last->value);
    // E[ids] on the host, then the blocks from it.
    const std::vector<double> table = to_host_doubles(E);
    const int64_t C = E.shape[1];
    std::vector<double> e(static_cast<size_t>(B * T * C));
    for (int64_t n = 0; n < B * T; ++n)
      for (int64_t k = 0; k < C; ++k) e[n * C + k] = table[ids.ptr<int32_t>()[n] * C + k];
    const OwnedTensor x = test::from_values(DType::f32, {B, T, C}, e);
    const std::vector<double> got = to_host_doubles(m.model->blocks_from_embeddings(g, m.store, g.constant(x.tensor()))->value);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "element " << i;
    g.clear();
  }
  EXPECT_GE(implemented, 3 + 6) << "transformer, mixer and hybrid implement blocks_from_embeddings";
}

// An untrained tiny mixer: from a random start, 300 steps recover most tokens (top-5 of 64); with no step the
// random start recovers few, so the check can fail.
TEST(Represent, AnUntrainedMixerRecoversItsInput) {
  constexpr int64_t V = 64, L = 8, B = 2;
  Tiny m("mixer", {{"d-model", "32"}, {"n-layers", "2"}, {"d-ff", "64"}}, V, L);
  const EmbeddingInverse inv = embedding_inverse(*m.model, m.store);
  ASSERT_EQ(inv.V, V);
  ASSERT_EQ(inv.C, 32);
  const OwnedTensor r = random_ids({B, L}, 5, static_cast<int32_t>(V - 1));
  std::vector<int32_t> ids(r.ptr<int32_t>(), r.ptr<int32_t>() + B * L);
  for (int32_t& t : ids) t += 1;  // pad = 0 never appears in the stories...
  ids[B * L - 1] = 0;              // ...except at one padded end
  RepresentOptions opt;
  opt.steps = 0;
  const RepresentResult start = represent_batch(*m.model, m.store, m.ex, inv, ids, B, L, 0, 0, opt);
  opt.steps = 300;
  const RepresentResult fit = represent_batch(*m.model, m.store, m.ex, inv, ids, B, L, 0, 0, opt);
  EXPECT_EQ(fit.count.positions, B * L - 1);
  EXPECT_GT(start.count.rate(), 0.6) << "a random start should recover few tokens";
  EXPECT_LT(fit.count.rate(), 0.25) << "misses " << fit.count.misses << " of " << fit.count.positions;
  EXPECT_LT(fit.l1_end, 0.2 * fit.l1_start);
  // Frozen weights: nothing left in the gradients.
  for (double v : to_host_doubles(m.store.grads())) ASSERT_EQ(v, 0.0);
  // Batching does not change the answer: the same two samples one at a time.
  RepresentResult one;
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int32_t> row(ids.begin() + b * L, ids.begin() + (b + 1) * L);
    one += represent_batch(*m.model, m.store, m.ex, inv, row, 1, L, 0, b, opt);
  }
  EXPECT_EQ(one.count.misses, fit.count.misses);
  EXPECT_NEAR(one.l1_end, fit.l1_end, 1e-4 * fit.l1_start);
}

}  // namespace
}  // namespace weft::launch
