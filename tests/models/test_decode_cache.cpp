// The transformer's decode cache (models/transformer/decode.cpp) against full recomputation: for every
// position scheme, with and without an attention window, in f32 and f64 on the CPU, the logits decode()
// returns for each new position equal those of logits() on the row's whole sequence so far, for two rows
// of different lengths prefilled one at a time, then extended together one token per step, then several
// tokens per step, then one row alone; and greedy decoding with the cache picks the same tokens as greedy
// decoding by full recomputation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "models/transformer/transformer.h"
#include "tests/harness/gradcheck.h"

namespace weft::models {
namespace {

using test::random_ids;
using test::to_host_doubles;

struct Setup {
  TransformerConfig cfg;
  DType dt;
};

TransformerConfig tiny(PositionScheme p, int64_t window) {
  TransformerConfig c;
  c.vocab_size = 23;
  c.d_model = 16;
  c.n_layers = 2;
  c.n_heads = 2;
  c.max_seq_len = 16;
  c.position = p;
  c.attention_window = window;
  if (p == PositionScheme::rope) c.rope_fraction = 0.5;
  if (p == PositionScheme::sandwich) c.sandwich_dim = 8;
  return c;
}

// A model with weights larger than the GPT-2 init, so logits differ visibly between positions.
struct Fixture {
  Exec ex = cpu_exec(1);
  Transformer model;
  ParamStore store;
  Arena arena;
  Graph g{ex, arena};
  Fixture(const TransformerConfig& cfg, DType dt) : model(cfg), store(dt) {
    model.declare(store);
    store.finalize();
    store.initialize(7);
    std::vector<double> v = to_host_doubles(store.values());
    Rng r(5, 1);
    for (double& x : v) x += 0.6 * (r.uniform() - 0.5);
    OwnedTensor w = test::from_values(dt, store.values().shape, v);
    std::copy_n(static_cast<const char*>(w.tensor().data), store.values().nbytes(), static_cast<char*>(store.values().data));
    g.grad_enabled = false;
  }
  // logits() of ids[0 .. len) of one sequence: (len, V) as doubles.
  std::vector<double> full(const std::vector<int32_t>& seq, int64_t len) {
    OwnedTensor ids(DType::i32, {1, len});
    std::copy_n(seq.data(), len, ids.ptr<int32_t>());
    std::vector<double> out = to_host_doubles(model.logits(g, store, ids)->value);
    g.clear();
    return out;
  }
};

double tolerance(DType dt) { return dt == DType::f64 ? 1e-11 : 1e-5; }

// decode() of `n` tokens per item for items (row, sequence) against full recomputation of each row.
void step_and_compare(Fixture& f, DecodeCache& cache, const std::vector<int64_t>& rows,
                      const std::vector<std::vector<int32_t>>& seqs, int64_t n, const std::string& what) {
  const int64_t B = static_cast<int64_t>(rows.size()), V = f.model.vocab_size();
  OwnedTensor ids(DType::i32, {B, n});
  std::vector<int64_t> before(rows.size());
  for (int64_t b = 0; b < B; ++b) {
    before[b] = cache.lengths[rows[b]];
    std::copy_n(seqs[rows[b]].data() + before[b], n, ids.ptr<int32_t>() + b * n);
  }
  std::vector<double> got = to_host_doubles(f.model.decode(f.g, f.store, cache, ids, rows)->value);  // (B, n, V)
  f.g.clear();
  ASSERT_EQ(static_cast<int64_t>(got.size()), B * n * V);
  for (int64_t b = 0; b < B; ++b) {
    EXPECT_EQ(cache.lengths[rows[b]], before[b] + n) << what;
    const std::vector<double> ref = f.full(seqs[rows[b]], before[b] + n);  // (before + n, V)
    double worst = 0, scale = 0;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < V; ++c) {
        const double r = ref[(before[b] + t) * V + c];
        worst = std::max(worst, std::fabs(got[(b * n + t) * V + c] - r));
        scale = std::max(scale, std::fabs(r));
      }
    EXPECT_GT(scale, 0.1) << what;  // logits that carry information
    EXPECT_LE(worst, tolerance(f.store.dtype()) * std::max(1.0, scale))
        << what << ": row " << rows[b] << ", positions " << before[b] << ".." << before[b] + n - 1;
  }
}

class DecodeCacheTest : public ::testing::TestWithParam<std::tuple<PositionScheme, int64_t, DType>> {};

TEST_P(DecodeCacheTest, LogitsEqualFullRecomputeAtEveryStep) {
  const auto [scheme, window, dt] = GetParam();
  Fixture f(tiny(scheme, window), dt);
  const int64_t L = 16;
  std::vector<std::vector<int32_t>> seqs(3);  // row 2 stays empty: rows are independent
  for (int r = 0; r < 3; ++r) {
    OwnedTensor ids = random_ids({L}, 40 + r, 23);
    seqs[r].assign(ids.ptr<int32_t>(), ids.ptr<int32_t>() + L);
  }
  std::unique_ptr<DecodeCache> cache = f.model.begin_decode(f.store, f.ex, 3, L);
  ASSERT_TRUE(cache);
  step_and_compare(f, *cache, {1}, seqs, 3, "prefill row 1");
  step_and_compare(f, *cache, {0}, seqs, 5, "prefill row 0");
  for (int s = 0; s < 4; ++s) step_and_compare(f, *cache, {0, 1}, seqs, 1, "step " + std::to_string(s));
  step_and_compare(f, *cache, {1, 0}, seqs, 2, "two tokens, rows swapped");
  step_and_compare(f, *cache, {0}, seqs, 5, "row 0 alone to the end");
  EXPECT_EQ(cache->lengths, (std::vector<int64_t>{16, 9, 0}));
  // A full row refuses more tokens with a message naming the length.
  OwnedTensor one(DType::i32, {1, 1});
  const std::string err = test::error_of([&] { f.model.decode(f.g, f.store, *cache, one, {0}); });
  EXPECT_NE(err.find("exceed the cache length 16"), std::string::npos) << err;
  f.g.clear();
}

TEST_P(DecodeCacheTest, GreedyTokensMatchFullRecompute) {
  const auto [scheme, window, dt] = GetParam();
  Fixture f(tiny(scheme, window), dt);
  const int64_t V = f.model.vocab_size(), max_len = 16;
  const std::vector<int32_t> prompt{3, 1, 4, 1, 5};
  auto argmax = [&](const std::vector<double>& logits, int64_t row) {
    return static_cast<int32_t>(std::max_element(logits.begin() + row * V, logits.begin() + (row + 1) * V) -
                                (logits.begin() + row * V));
  };
  std::vector<int32_t> full = prompt, cached = prompt;
  while (static_cast<int64_t>(full.size()) < max_len)
    full.push_back(argmax(f.full(full, static_cast<int64_t>(full.size())), static_cast<int64_t>(full.size()) - 1));
  std::unique_ptr<DecodeCache> cache = f.model.begin_decode(f.store, f.ex, 1, max_len);
  OwnedTensor ids(DType::i32, {1, static_cast<int64_t>(prompt.size())});
  std::copy(prompt.begin(), prompt.end(), ids.ptr<int32_t>());
  std::vector<double> logits = to_host_doubles(f.model.decode(f.g, f.store, *cache, ids, {})->value);
  f.g.clear();
  cached.push_back(argmax(logits, static_cast<int64_t>(prompt.size()) - 1));
  while (static_cast<int64_t>(cached.size()) < max_len) {
    OwnedTensor next(DType::i32, {1, 1});
    next.ptr<int32_t>()[0] = cached.back();
    logits = to_host_doubles(f.model.decode(f.g, f.store, *cache, next, {})->value);
    f.g.clear();
    cached.push_back(argmax(logits, 0));
  }
  EXPECT_EQ(cached, full);
}

std::string name_of(const ::testing::TestParamInfo<DecodeCacheTest::ParamType>& info) {
  const auto [scheme, window, dt] = info.param;
  return position_scheme_name(scheme) + (window > 0 ? "_window" + std::to_string(window) : std::string()) + "_" +
         std::string(dtype_name(dt));
}

INSTANTIATE_TEST_SUITE_P(AllSchemes, DecodeCacheTest,
                         ::testing::Combine(::testing::Values(PositionScheme::learned, PositionScheme::sinusoidal,
                                                              PositionScheme::rope, PositionScheme::alibi,
                                                              PositionScheme::sandwich, PositionScheme::none),
                                            ::testing::Values(int64_t(0), int64_t(3)),
                                            ::testing::Values(DType::f32, DType::f64)),
                         name_of);

TEST(DecodeCacheErrors, LearnedPositionsBoundTheCacheLength) {
  Fixture f(tiny(PositionScheme::learned, 0), DType::f32);
  const std::string err = test::error_of([&] { f.model.begin_decode(f.store, f.ex, 1, 17); });
  EXPECT_NE(err.find("decode length 17 exceeds the 16 learned positions"), std::string::npos) << err;
}

}  // namespace
}  // namespace weft::models
