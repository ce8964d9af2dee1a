// The transformer-mixer hybrid (models/hybrid/hybrid.h): flags, configuration, parameters and forward pass.
// Attention, MLP and norms are the transformer's (models/common/blocks.h); the mixing is ops::causal_mix.
#include "models/hybrid/hybrid.h"

#include <cmath>

#include "models/common/blocks.h"
#include "models/registry.h"
#include "runtime/check.h"

namespace weft::models {

std::vector<Flag> HybridConfig::flags() {
  // Keys shared with the transformer keep its type, default and help (registry_conflicts()).
  return {
      Flag::integer("d-model", 128, "model width"),
      Flag::integer("n-layers", 4, "number of layers"),
      Flag::integer("n-heads", 4, "attention heads"),
      Flag::integer("d-ff", 0, "feed-forward width (0: 4 x d-model)"),
      Flag::real("rope-base", 10000.0, "RoPE frequency base"),
      Flag::integer("attention-window", 0,
                    "windowed attention: each token attends to its W latest positions, itself included (0: all)"),
      Flag::real("norm-eps", 1e-5, "epsilon of the model's LayerNorm/RMSNorm"),
      Flag::text("hybrid-layout", "serial", "hybrid: serial (mixer on the attention output) | parallel (mixer on "
                                            "the normed layer input, beside attention)"),
  };
}

HybridConfig HybridConfig::from_flags(const FlagValues& v) {
  HybridConfig c;
  c.vocab_size = v.integer("vocab-size");
  c.seq_len = v.integer("seq-len");
  c.d_model = v.integer("d-model");
  c.n_layers = v.integer("n-layers");
  c.n_heads = v.integer("n-heads");
  c.d_ff = v.integer("d-ff");
  c.rope_base = static_cast<float>(v.real("rope-base"));
  c.attention_window = v.integer("attention-window");
  c.norm_eps = static_cast<float>(v.real("norm-eps"));
  c.layout = v.text("hybrid-layout");
  c.validate();
  return c;
}

void HybridConfig::validate() const {
  WEFT_CHECK(vocab_size >= 2, "--vocab-size must be >= 2, got ", vocab_size);
  WEFT_CHECK(seq_len >= 1, "--seq-len must be positive, got ", seq_len);
  WEFT_CHECK(d_model >= 1, "--d-model must be positive, got ", d_model);
  WEFT_CHECK(n_layers >= 1, "--n-layers must be positive, got ", n_layers);
  WEFT_CHECK(n_heads >= 1, "--n-heads must be positive, got ", n_heads);
  WEFT_CHECK(d_model % n_heads == 0, "--n-heads ", n_heads, " does not divide --d-model ", d_model);
  WEFT_CHECK((d_model / n_heads) % 2 == 0, "--d-model / --n-heads must be even (RoPE rotates channel pairs), got ",
             d_model / n_heads);
  WEFT_CHECK(d_ff >= 0, "--d-ff must be >= 0 (0 means 4 * d_model), got ", d_ff);
  WEFT_CHECK(rope_base > 1.0f, "--rope-base must be > 1, got ", rope_base);
  WEFT_CHECK(attention_window >= 0, "--attention-window must be >= 0 (0: no window), got ", attention_window);
  WEFT_CHECK(norm_eps > 0.0f && std::isfinite(norm_eps), "--norm-eps must be positive, got ", norm_eps);
  WEFT_CHECK(layout == "serial" || layout == "parallel", "--hybrid-layout must be serial or parallel, got '", layout,
             "'");
}

namespace hybrid {
ModelFamily family() {
  ModelFamily f{"hybrid", "transformer-mixer hybrid: Llama layers (RoPE, SwiGLU, RMSNorm) plus a masked L x L mixer",
                &HybridConfig::flags,
                [](const FlagValues& v) -> std::unique_ptr<Model> {
                  return std::make_unique<Hybrid>(HybridConfig::from_flags(v));
                }};
  f.test_configs = [] {
    const std::map<std::string, std::string> tiny{{"d-model", "8"}, {"n-layers", "2"}, {"n-heads", "2"}, {"d-ff", "12"}};
    std::map<std::string, std::string> parallel = tiny;
    parallel["hybrid-layout"] = "parallel";
    return std::vector<TestConfig>{{"serial", tiny}, {"parallel", parallel}};
  };
  return f;
}
}  // namespace hybrid

Hybrid::Hybrid(HybridConfig cfg) : cfg_(std::move(cfg)) { cfg_.validate(); }

void Hybrid::declare(ParamStore& store) {
  const int64_t C = cfg_.d_model, V = cfg_.vocab_size, L = cfg_.seq_len, F = cfg_.ff();
  const Init llama = Init::Normal(0.02);                     // HF LlamaConfig.initializer_range
  const double conv = 1.0 / std::sqrt(static_cast<double>(L));  // Conv1d(L, L, 1): fan_in = L
  tok_emb_ = store.add("tok_emb.weight", {V, C}, llama);
  layers_.assign(static_cast<size_t>(cfg_.n_layers), Layer{});
  for (int64_t l = 0; l < cfg_.n_layers; ++l) {
    Layer& y = layers_[l];
    const std::string p = "blocks." + std::to_string(l);
    y.ln1 = declare_norm(store, p + ".ln1", C, false);
    y.attn.qkv = declare_linear(store, p + ".attn.qkv", 3 * C, C, llama, false);
    y.attn.proj = declare_linear(store, p + ".attn.proj", C, C, llama, false);
    y.mix.w = store.add(p + ".mix.weight", {L, L}, Init::Uniform(conv).tril());
    y.mix.b = store.add(p + ".mix.bias", {L}, Init::Uniform(conv), false);
    y.ln2 = declare_norm(store, p + ".ln2", C, false);
    y.mlp.fc = declare_linear(store, p + ".mlp.fc", 2 * F, C, llama, false);
    y.mlp.proj = declare_linear(store, p + ".mlp.proj", C, F, llama, false);
  }
  ln_f_ = declare_norm(store, "ln_f", C, false);
  lm_head_ = store.add("lm_head.weight", {V, C}, llama);
}

Var Hybrid::forward(Graph& g, ParamStore& store, const Tensor& ids) {
  WEFT_CHECK(ids.shape.rank == 2 && ids.dtype == DType::i32, "[hybrid] ids must be i32 (B, T), got ", ids.str());
  WEFT_CHECK(ids.shape[1] <= cfg_.seq_len, "[hybrid] sequence length ", ids.shape[1], " exceeds the ", cfg_.seq_len,
             " positions of the mixing matrices (--seq-len of the run)");
  Var x = ops::embedding(g, g.constant(ids), g.param(store, tok_emb_));  // (B, T, C)
  x = norm(g, store, NormKind::rmsnorm, ln_f_, blocks_from_embeddings(g, store, x), cfg_.norm_eps);
  if (tapping()) tap("final", x);
  return ops::linear(g, x, g.param(store, lm_head_));  // (B, T, V)
}

Var Hybrid::blocks_from_embeddings(Graph& g, ParamStore& store, Var x) {
  WEFT_CHECK(x->value.shape.rank == 3 && x->value.shape[2] == cfg_.d_model, "[hybrid] embeddings must be (B, T, ",
             cfg_.d_model, "), got ", x->value.str());
  WEFT_CHECK(x->value.shape[1] <= cfg_.seq_len, "[hybrid] sequence length ", x->value.shape[1], " exceeds the ",
             cfg_.seq_len, " positions of the mixing matrices (--seq-len of the run)");
  AttentionPositions pos;
  pos.rope_channels = cfg_.d_model / cfg_.n_heads;
  pos.rope_base = cfg_.rope_base;
  pos.bias.window = cfg_.attention_window;
  const float eps = cfg_.norm_eps;
  if (tapping()) tap("embed", x);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    Var u = norm(g, store, NormKind::rmsnorm, l.ln1, x, eps);
    AttentionQK qk;
    Var a = causal_self_attention(g, store, l.attn, u, cfg_.n_heads, pos, tapping() ? &qk : nullptr);
    Var m = ops::causal_mix(g, cfg_.parallel() ? u : a, g.param(store, l.mix.w), g.param(store, l.mix.b));
    x = ops::add(g, ops::add(g, x, a), m);
    Var f = mlp(g, store, l.mlp, norm(g, store, NormKind::rmsnorm, l.ln2, x, eps), Activation::swiglu);
    x = ops::add(g, x, f);
    if (tapping()) {
      const std::string p = "blocks." + std::to_string(i);
      tap(p + ".q", qk.q);
      tap(p + ".k", qk.k);
      tap(p + ".attn", a);
      tap(p + ".mix", m);
      tap(p + ".mlp", f);
      tap(p + ".out", x);
    }
  }
  return x;
}

Tensor Hybrid::token_embeddings(const ParamStore& store) const { return store.value(tok_emb_); }

Var Hybrid::loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
  (void)rng;
  (void)training;
  return next_token_loss(g, forward(g, store, batch.inputs), batch);
}

Var Hybrid::logits(Graph& g, ParamStore& store, const Tensor& ids) { return forward(g, store, ids); }

double Hybrid::flops_per_token(int64_t T) const {
  // What runs: 6 per weight (forward, input and weight gradients) of q|k|v, proj, the SwiGLU's three
  // matrices and the head (the embedding is a lookup); attention 6 T C per layer as the transformer counts
  // it; the mixing as computed, one T x T product of width C per layer (2 T C per token in the forward for a
  // dense product, three products in all) times the share causal_mix computes of it (it skips the upper
  // triangle in blocks), as MaskedMixer::flops_per_token counts it.
  const double C = static_cast<double>(cfg_.d_model), V = static_cast<double>(cfg_.vocab_size),
               F = static_cast<double>(cfg_.ff()), Tt = static_cast<double>(T), Ly = static_cast<double>(cfg_.n_layers);
  const double per_layer = 4.0 * C * C + 3.0 * C * F;
  return 6.0 * (Ly * per_layer + V * C) + 6.0 * Ly * Tt * C + 6.0 * Ly * ops::causal_mix_share(T) * Tt * C;
}

}  // namespace weft::models
