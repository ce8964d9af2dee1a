// The masked mixer (models/mixer/mixer.h): flags, configuration, parameters and forward pass.
#include "models/mixer/mixer.h"

#include <cmath>

#include "models/common/constants.h"
#include "models/common/blocks.h"
#include "models/registry.h"
#include "runtime/check.h"

namespace weft::models {

std::vector<Flag> MixerConfig::flags() {
  return {
      Flag::integer("d-model", 128, "model width"),
      Flag::integer("n-layers", 4, "number of layers"),
      Flag::integer("d-ff", 0, "feed-forward width (0: 4 x d-model)"),
      Flag::integer("mixer-heads", 0, "masked mixer: 0 flat; H > 0 multi-headed (per-head projection, mixing, "
                                      "concat, output projection)"),
      Flag::integer("mixer-kernel", 1, "masked mixer: taps of the mixing convolution along d-model"),
      Flag::boolean("mixer-expanded", false, "masked mixer: two mixing matrices with a GELU between them"),
      Flag::integer("mixer-parallel", 1, "masked mixer: mixing matrices applied in parallel and summed"),
  };
}

MixerConfig MixerConfig::from_flags(const FlagValues& v) {
  MixerConfig c;
  c.vocab_size = v.integer("vocab-size");
  c.seq_len = v.integer("seq-len");
  c.d_model = v.integer("d-model");
  c.n_layers = v.integer("n-layers");
  c.d_ff = v.integer("d-ff");
  c.heads = v.integer("mixer-heads");
  c.kernel = v.integer("mixer-kernel");
  c.expanded = v.boolean("mixer-expanded");
  c.parallel = v.integer("mixer-parallel");
  c.validate();
  return c;
}

void MixerConfig::validate() const {
  WEFT_CHECK(vocab_size >= 2, "--vocab-size must be >= 2, got ", vocab_size);
  WEFT_CHECK(seq_len >= 1, "--seq-len must be positive, got ", seq_len);
  WEFT_CHECK(d_model >= 1, "--d-model must be positive, got ", d_model);
  WEFT_CHECK(n_layers >= 1, "--n-layers must be positive, got ", n_layers);
  WEFT_CHECK(d_ff >= 0, "--d-ff must be >= 0 (0 means 4 * d_model), got ", d_ff);
  WEFT_CHECK(heads >= 0, "--mixer-heads must be >= 0, got ", heads);
  WEFT_CHECK(heads == 0 || d_model % heads == 0, "--mixer-heads ", heads, " does not divide --d-model ", d_model);
  WEFT_CHECK(kernel >= 1 && kernel <= d_model, "--mixer-kernel must be in [1, d-model], got ", kernel);
  WEFT_CHECK(parallel >= 1, "--mixer-parallel must be positive, got ", parallel);
  const int variants = (heads > 0) + (kernel > 1) + (expanded ? 1 : 0) + (parallel > 1);
  WEFT_CHECK(variants <= 1, "--mixer-heads, --mixer-kernel, --mixer-expanded and --mixer-parallel select one "
                            "variant each; combine at most one of them");
}

namespace mixer {
ModelFamily family() {
  ModelFamily f{"mixer", "masked mixer: causal L x L token mixing instead of attention, no positions",
                &MixerConfig::flags,
                [](const FlagValues& v) -> std::unique_ptr<Model> {
                  return std::make_unique<MaskedMixer>(MixerConfig::from_flags(v));
                }};
  f.test_configs = [] {
    const std::map<std::string, std::string> tiny{{"d-model", "8"}, {"n-layers", "2"}, {"d-ff", "12"}};
    auto with = [&](std::map<std::string, std::string> extra) {
      extra.insert(tiny.begin(), tiny.end());
      return extra;
    };
    return std::vector<TestConfig>{{"flat", tiny},
                                   {"heads", with({{"mixer-heads", "2"}})},
                                   {"kernel", with({{"mixer-kernel", "3"}})},
                                   {"expanded", with({{"mixer-expanded", "true"}})},
                                   {"parallel", with({{"mixer-parallel", "2"}})}};
  };
  return f;
}
}  // namespace mixer

MaskedMixer::MaskedMixer(MixerConfig cfg) : cfg_(cfg) { cfg_.validate(); }

void MaskedMixer::declare(ParamStore& store) {
  const int64_t C = cfg_.d_model, V = cfg_.vocab_size, L = cfg_.seq_len, F = cfg_.ff();
  auto bound = [](int64_t fan_in) { return 1.0 / std::sqrt(static_cast<double>(fan_in)); };
  auto linear = [&](const std::string& name, int64_t out, int64_t in) {
    return Linear{store.add(name + ".weight", {out, in}, Init::Uniform(bound(in))),
                  store.add(name + ".bias", {out}, Init::Uniform(bound(in)), false)};
  };
  // A Conv1d(L, L, k) tap: fan_in = L * k for the weight and the bias (PyTorch's default).
  auto triangle = [&](const std::string& name, bool with_bias) {
    const double a = bound(L * cfg_.kernel);
    return Linear{store.add(name + ".weight", {L, L}, Init::Uniform(a).tril()),
                  with_bias ? store.add(name + ".bias", {L}, Init::Uniform(a), false) : -1};
  };
  tok_emb_ = store.add("tok_emb.weight", {V, C}, Init::Normal(1.0));
  blocks_.assign(static_cast<size_t>(cfg_.n_layers), Block{});
  for (int64_t l = 0; l < cfg_.n_layers; ++l) {
    Block& b = blocks_[l];
    const std::string p = "blocks." + std::to_string(l);
    b.ln_seq_w = store.add(p + ".ln_seq.weight", {C}, Init::Ones(), false);
    b.ln_seq_b = store.add(p + ".ln_seq.bias", {C}, Init::Zeros(), false);
    if (cfg_.heads > 0) {
      b.mix.proj = linear(p + ".mix.proj", C, C);
      for (int64_t h = 0; h < cfg_.heads; ++h) b.mix.tri.push_back(triangle(p + ".mix.head" + std::to_string(h), true));
      b.mix.out = linear(p + ".mix.out", C, C);
    } else if (cfg_.expanded) {
      b.mix.tri = {triangle(p + ".mix.in", true), triangle(p + ".mix.out", true)};
    } else if (cfg_.kernel > 1) {  // one bias for all taps, as one Conv1d has
      for (int64_t u = 0; u < cfg_.kernel; ++u) b.mix.tri.push_back(triangle(p + ".mix.tap" + std::to_string(u), u == 0));
    } else if (cfg_.parallel > 1) {
      for (int64_t q = 0; q < cfg_.parallel; ++q) b.mix.tri.push_back(triangle(p + ".mix." + std::to_string(q), true));
    } else {
      b.mix.tri = {triangle(p + ".mix", true)};
    }
    b.ln_ch_w = store.add(p + ".ln_ch.weight", {C}, Init::Ones(), false);
    b.ln_ch_b = store.add(p + ".ln_ch.bias", {C}, Init::Zeros(), false);
    b.fc = linear(p + ".ffn.fc", F, C);
    b.proj = linear(p + ".ffn.proj", C, F);
  }
  lm_head_ = store.add("lm_head.weight", {V, C}, Init::Uniform(bound(C)));
}

Var MaskedMixer::linear(Graph& g, ParamStore& store, const Linear& l, Var x) const {
  return ops::linear(g, x, g.param(store, l.w), l.b < 0 ? nullptr : g.param(store, l.b));
}

Var MaskedMixer::shift_matrix(Graph& g, DType dt, int64_t C, int64_t shift) {
  // S (C, C) with (U S)[.., f] = U[.., f + shift]: S[f + shift, f] = 1.
  std::vector<double> s(static_cast<size_t>(C * C), 0.0);
  for (int64_t f = 0; f < C; ++f)
    if (f + shift >= 0 && f + shift < C) s[(f + shift) * C + f] = 1.0;
  OwnedTensor host = device_constant(s, {C, C}, dt, g.device());
  Tensor kept = g.alloc(dt, {C, C});  // the step arena owns what the graph references
  device_copy(g.device(), kept.data, g.device(), host.tensor().data, host.tensor().nbytes());
  return g.constant(kept);
}

Var MaskedMixer::shifted(Graph& g, Var u, int64_t shift) {
  if (shift == 0) return u;
  return ops::matmul(g, u, shift_matrix(g, u->value.dtype, cfg_.d_model, shift));
}

Var MaskedMixer::mixing(Graph& g, ParamStore& store, const Mixing& m, Var u) {
  auto mix = [&](const Linear& t, Var x) {
    return ops::causal_mix(g, x, g.param(store, t.w), t.b < 0 ? nullptr : g.param(store, t.b));
  };
  if (cfg_.heads > 0) {  // per-head projection, mixing, concat, output projection
    const int64_t dh = cfg_.d_model / cfg_.heads;
    std::vector<Var> parts = ops::split(g, linear(g, store, m.proj, u), std::vector<int64_t>(cfg_.heads, dh), -1);
    for (int64_t h = 0; h < cfg_.heads; ++h) parts[h] = mix(m.tri[h], parts[h]);
    return linear(g, store, m.out, ops::concat(g, parts, -1));
  }
  if (cfg_.expanded) return mix(m.tri[1], ops::gelu_erf(g, mix(m.tri[0], u)));
  Var y = nullptr;
  const int64_t left = (cfg_.kernel - 1) / 2;
  for (size_t i = 0; i < m.tri.size(); ++i) {
    Var x = cfg_.kernel > 1 ? shifted(g, u, static_cast<int64_t>(i) - left) : u;
    Var term = mix(m.tri[i], x);
    y = y ? ops::add(g, y, term) : term;
  }
  return y;
}

Var MaskedMixer::forward(Graph& g, ParamStore& store, const Tensor& ids) {
  WEFT_CHECK(ids.shape.rank == 2 && ids.dtype == DType::i32, "[mixer] ids must be i32 (B, T), got ", ids.str());
  WEFT_CHECK(ids.shape[1] <= cfg_.seq_len, "[mixer] sequence length ", ids.shape[1], " exceeds the ", cfg_.seq_len,
             " positions of the mixing matrices (--seq-len of the run)");
  Var x = ops::embedding(g, g.constant(ids), g.param(store, tok_emb_));  // (B, T, C)
  return ops::linear(g, blocks_from_embeddings(g, store, x), g.param(store, lm_head_));  // (B, T, V), no final norm
}

Var MaskedMixer::blocks_from_embeddings(Graph& g, ParamStore& store, Var x) {
  WEFT_CHECK(x->value.shape.rank == 3 && x->value.shape[2] == cfg_.d_model, "[mixer] embeddings must be (B, T, ",
             cfg_.d_model, "), got ", x->value.str());
  WEFT_CHECK(x->value.shape[1] <= cfg_.seq_len, "[mixer] sequence length ", x->value.shape[1], " exceeds the ",
             cfg_.seq_len, " positions of the mixing matrices (--seq-len of the run)");
  if (tapping()) tap("embed", x);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    const Block& b = blocks_[l];
    Var u = ops::layernorm(g, x, g.param(store, b.ln_seq_w), g.param(store, b.ln_seq_b), 1e-5f);
    Var m = mixing(g, store, b.mix, u);
    x = ops::add(g, x, m);
    Var h = ops::layernorm(g, x, g.param(store, b.ln_ch_w), g.param(store, b.ln_ch_b), 1e-5f);
    Var f = linear(g, store, b.proj, ops::gelu_erf(g, linear(g, store, b.fc, h)));
    x = ops::add(g, x, f);
    if (tapping()) {
      const std::string p = "blocks." + std::to_string(l);
      tap(p + ".mix", m);
      tap(p + ".ffn", f);
      tap(p + ".out", x);
    }
  }
  return x;
}

Tensor MaskedMixer::token_embeddings(const ParamStore& store) const { return store.value(tok_emb_); }

Var MaskedMixer::loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
  (void)rng;
  (void)training;
  return next_token_loss(g, forward(g, store, batch.inputs), batch);
}

Var MaskedMixer::logits(Graph& g, ParamStore& store, const Tensor& ids) { return forward(g, store, ids); }

double MaskedMixer::flops_per_token(int64_t T) const {
  // Matrices every token goes through (6 per weight: forward, input and weight gradients), and the mixing
  // products as computed: T x T GEMMs, 2 T d FLOPs per token and product in the forward for a dense product,
  // three products in all, times the share causal_mix computes (it skips the upper triangle in blocks); the
  // kernel variant's shift matrices count as weights.
  const double C = static_cast<double>(cfg_.d_model), V = static_cast<double>(cfg_.vocab_size),
               F = static_cast<double>(cfg_.ff()), Tt = static_cast<double>(T), Ly = static_cast<double>(cfg_.n_layers);
  double per_layer = 2.0 * C * F;
  double products = 1.0;  // mixing products of width C per layer
  if (cfg_.heads > 0) per_layer += 2.0 * C * C;
  else if (cfg_.expanded) products = 2.0;
  else if (cfg_.kernel > 1) products = static_cast<double>(cfg_.kernel), per_layer += (products - 1.0) * C * C;
  else products = static_cast<double>(cfg_.parallel);
  return 6.0 * (Ly * per_layer + V * C) + 6.0 * Ly * products * ops::causal_mix_share(T) * Tt * C;
}

}  // namespace weft::models
