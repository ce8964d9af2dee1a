// RetrievalMixer: the bidirectional mixer over candidate slots (retrieval_mixer.h).
#include "models/retrieval/retrieval_mixer.h"

#include <cmath>

namespace weft::models {

void RetrievalConfig::validate() const {
  WEFT_CHECK(d_model >= 1, "[retrieval] the embeddings' width must be positive, got ", d_model);
  WEFT_CHECK(slots >= 2, "--candidates must be >= 2 (the query and at least one candidate), got ", slots);
  WEFT_CHECK(n_layers >= 0, "--layers must be >= 0, got ", n_layers);
  WEFT_CHECK(d_ff >= 0, "--d-ff must be >= 0 (0 means 4 d), got ", d_ff);
}

RetrievalMixer::RetrievalMixer(RetrievalConfig cfg) : cfg_(cfg) { cfg_.validate(); }

void RetrievalMixer::declare(ParamStore& store) {
  const int64_t N = cfg_.slots, C = cfg_.d_model, F = cfg_.ff();
  auto bound = [](int64_t fan_in) { return 1.0 / std::sqrt(static_cast<double>(fan_in)); };
  blocks_.assign(static_cast<size_t>(cfg_.n_layers), Block{});
  for (int64_t l = 0; l < cfg_.n_layers; ++l) {
    Block& b = blocks_[static_cast<size_t>(l)];
    const std::string p = "blocks." + std::to_string(l);
    b.ln_mix_w = store.add(p + ".ln_mix.weight", {C}, Init::Ones(), false);
    b.ln_mix_b = store.add(p + ".ln_mix.bias", {C}, Init::Zeros(), false);
    b.mix_w = store.add(p + ".mix.weight", {N, N}, Init::Uniform(bound(N)));
    b.mix_b = store.add(p + ".mix.bias", {N}, Init::Uniform(bound(N)), false);
    b.ln_ffn_w = store.add(p + ".ln_ffn.weight", {C}, Init::Ones(), false);
    b.ln_ffn_b = store.add(p + ".ln_ffn.bias", {C}, Init::Zeros(), false);
    b.fc_w = store.add(p + ".ffn.fc.weight", {F, C}, Init::Uniform(bound(C)));
    b.fc_b = store.add(p + ".ffn.fc.bias", {F}, Init::Uniform(bound(C)), false);
    b.proj_w = store.add(p + ".ffn.proj.weight", {C, F}, Init::Uniform(bound(F)));
    b.proj_b = store.add(p + ".ffn.proj.bias", {C}, Init::Uniform(bound(F)), false);
  }
  head_w_ = store.add("head.weight", {1, C}, Init::Uniform(bound(C)));
  head_b_ = store.add("head.bias", {1}, Init::Uniform(bound(C)), false);
}

Var RetrievalMixer::scores(Graph& g, ParamStore& store, const Tensor& input) {
  const int64_t N = cfg_.slots, C = cfg_.d_model;
  WEFT_CHECK(input.shape.rank == 3 && input.shape[1] == N && input.shape[2] == C, "[retrieval] input must be (B, ", N,
             ", ", C, "), got ", input.str());
  const int64_t B = input.shape[0];
  Var x = g.constant(input);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    const Block& b = blocks_[l];
    Var u = ops::layernorm(g, x, g.param(store, b.ln_mix_w), g.param(store, b.ln_mix_b), 1e-5f);
    x = ops::add(g, x, ops::dense_mix(g, u, g.param(store, b.mix_w), g.param(store, b.mix_b)));
    Var h = ops::layernorm(g, x, g.param(store, b.ln_ffn_w), g.param(store, b.ln_ffn_b), 1e-5f);
    h = ops::gelu_erf(g, ops::linear(g, h, g.param(store, b.fc_w), g.param(store, b.fc_b)));
    x = ops::add(g, x, ops::linear(g, h, g.param(store, b.proj_w), g.param(store, b.proj_b)));
    if (tapping()) tap("blocks." + std::to_string(l) + ".out", x);
  }
  Var s = ops::reshape(g, ops::linear(g, x, g.param(store, head_w_), g.param(store, head_b_)), {B, N});
  return ops::split(g, s, {1, N - 1}, 1)[1];  // the query's own slot is not a candidate
}

Var RetrievalMixer::loss(Graph& g, ParamStore& store, const Tensor& x, const Tensor& labels) {
  return ops::cross_entropy(g, scores(g, store, x), g.constant(labels));
}

Var RetrievalMixer::loss(Graph&, ParamStore&, const Batch&, Rng&, bool) {
  WEFT_FAIL("[retrieval] the retrieval model scores embeddings, not token ids: use `weft retrieval`");
}

Var RetrievalMixer::logits(Graph&, ParamStore&, const Tensor&) {
  WEFT_FAIL("[retrieval] the retrieval model scores embeddings, not token ids: use `weft retrieval`");
}

double RetrievalMixer::flops_per_token(int64_t) const {
  const double N = static_cast<double>(cfg_.slots), C = static_cast<double>(cfg_.d_model),
               F = static_cast<double>(cfg_.ff());
  return 6.0 * (static_cast<double>(cfg_.n_layers) * (2.0 * C * F + N * C) + C);
}

}  // namespace weft::models
