// MoEUT (models/moeut/moeut.h): parameters with the spec's initialisation (A.6), the layer loop over
// repeats of the shared groups, the LM head, and the objective (cross-entropy + entropy regulariser).
#include "models/moeut/moeut.h"

#include <cmath>

#include "models/common/blocks.h"
#include "runtime/check.h"

namespace weft::models {

Moeut::Moeut(MoeutConfig cfg) : cfg_(cfg) { cfg_.validate(); }

void Moeut::declare(ParamStore& store) {
  const int64_t d = cfg_.d_model, H = cfg_.n_heads, dh = cfg_.head_dim, NA = cfg_.att_experts;
  const int64_t NE = cfg_.n_experts, es = cfg_.expert_size, V = cfg_.vocab_size;
  const int E = parallel().expert_world(), r = parallel().expert_rank();
  WEFT_CHECK(NE % E == 0, "--expert-parallel ", E, " does not divide --n-experts ", NE);
  local_experts_ = NE / E;
  first_expert_ = r * local_experts_;
  // A.6: std s / sqrt(fan_in) with s = sqrt(2 / L), L the total depth. The paper's recipe decays every
  // parameter (one AdamW group, A.8), norms and biases included.
  const double s = std::sqrt(2.0 / static_cast<double>(cfg_.n_layers));
  auto normal = [&](int64_t fan_in) { return Init::Normal(s / std::sqrt(static_cast<double>(fan_in))); };
  auto add = [&](const std::string& name, Shape shape, Init init) { return store.add(name, shape, init, true); };
  auto norm = [&](const std::string& name) {
    return Norm{add(name + ".weight", {d}, Init::Ones()), add(name + ".bias", {d}, Init::Zeros())};
  };
  tok_emb_ = add("tok_emb.weight", {V, d}, Init::Normal(1.0 / std::sqrt(static_cast<double>(d))));
  layers_.clear();
  for (int64_t g = 0; g < cfg_.n_groups; ++g) {
    const std::string p = "blocks." + std::to_string(g) + ".";
    Layer l;
    l.ln1 = norm(p + "ln1");
    l.ln2 = norm(p + "ln2");
    l.q = add(p + "attn.q.weight", {H * dh, d}, normal(d));
    l.k = add(p + "attn.k.weight", {H * dh, d}, normal(d));
    if (NA > 1) {
      l.v = add(p + "attn.v", {H * NA, d, dh}, normal(d));
      l.o = add(p + "attn.o", {H * NA, dh, d}, normal(H * dh));
      l.sel_v = add(p + "attn.sel_v", {H * NA, d}, normal(d).renormed(Init::row_std));
      l.sel_o = add(p + "attn.sel_o", {H * NA, d}, normal(d).renormed(Init::row_std));
    } else {
      l.v = add(p + "attn.v.weight", {H * dh, d}, normal(d));
      l.o = add(p + "attn.o.weight", {d, H * dh}, normal(H * dh));
      l.sel_o = add(p + "attn.sel_o", {H, d}, normal(d).renormed(Init::row_std));
    }
    const ShardOf shard{first_expert_, NE};
    l.keys = store.add(p + "ffn.keys", {local_experts_, d, es}, normal(d), true, ParamGroup::expert, shard);
    l.values = store.add(p + "ffn.values", {local_experts_, es, d}, normal(NE * es), true, ParamGroup::expert, shard);
    l.expert_sel = add(p + "ffn.expert_sel", {NE, d}, normal(d).renormed(Init::keep_std));
    layers_.push_back(l);
  }
  ln_f_ = norm("ln_f");
  const double bound = 1.0 / std::sqrt(static_cast<double>(d));  // PyTorch's nn.Linear default
  lm_head_w_ = add("lm_head.weight", {V, d}, Init::Uniform(bound));
  lm_head_b_ = add("lm_head.bias", {V}, Init::Uniform(bound));
}

Var Moeut::run_layers(Graph& g, ParamStore& store, Var x, std::vector<std::vector<Selections>>* sel) {
  const int64_t G = cfg_.n_groups;
  for (int64_t r = 0; r < cfg_.repeats(); ++r)
    for (int64_t gi = 0; gi < G; ++gi) {
      const Layer& l = layers_[gi];
      const std::string at = tapping() ? "blocks." + std::to_string(r * G + gi) + "." : "";
      Selections s;
      Var x_hat = ops::layernorm(g, x, g.param(store, l.ln1.w), g.param(store, l.ln1.b), 1e-5f);
      x = ops::add(g, x, tap(at + "att", attention(g, store, l, x, x_hat, s)));
      Var x_hat2 = ops::layernorm(g, x, g.param(store, l.ln2.w), g.param(store, l.ln2.b), 1e-5f);
      x = ops::add(g, x, tap(at + "ffn", sigma_moe(g, store, l, cfg_.peri ? x : x_hat2, x_hat2, s)));
      x = tap(at + "out", x);
      if (sel) (*sel)[gi].push_back(s);
    }
  return x;
}

Var Moeut::head(Graph& g, ParamStore& store, Var x) {
  Var h = ops::layernorm(g, x, g.param(store, ln_f_.w), g.param(store, ln_f_.b), 1e-5f);
  return ops::linear(g, h, g.param(store, lm_head_w_), g.param(store, lm_head_b_));
}

LossTerms Moeut::loss_terms(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
  (void)rng;  // no dropout in MoEUT (A.8)
  std::vector<std::vector<Selections>> sel(cfg_.n_groups);
  Var x = tap("embed", ops::embedding(g, g.constant(batch.inputs), g.param(store, tok_emb_)));  // (B, T, d)
  Var logits = head(g, store, run_layers(g, store, x, &sel));
  Var ce = next_token_loss(g, logits, batch);
  if (!training) return LossTerms{ce, {}};  // the regulariser exists only in training (A.5)
  Var reg = regulariser(g, sel);
  if (reg->value.dtype != ce->value.dtype) reg = ops::cast(g, reg, ce->value.dtype);
  const double share = batch.token_share();
  Var total = ops::add(g, ce, ops::scale(g, reg, static_cast<float>(share)));
  // Both terms are reported as micro-batch means (the trainer weights aux terms by their token share).
  return LossTerms{total, {AuxTerm{"ce", ops::scale(g, ce, static_cast<float>(1.0 / share))}, AuxTerm{"reg", reg}}};
}

Var Moeut::loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
  return loss_terms(g, store, batch, rng, training).total;
}

Var Moeut::logits(Graph& g, ParamStore& store, const Tensor& ids) {
  Var x = tap("embed", ops::embedding(g, g.constant(ids), g.param(store, tok_emb_)));
  return head(g, store, run_layers(g, store, x, nullptr));
}

Var Moeut::blocks_from_embeddings(Graph& g, ParamStore& store, Var x) { return run_layers(g, store, x, nullptr); }

Tensor Moeut::token_embeddings(const ParamStore& store) const { return store.value(tok_emb_); }

double Moeut::flops_per_token(int64_t T) const {
  // Forward + backward = 3 x the forward, 2 FLOPs per MAC; A.7's count leaves out the LM head, added here.
  const double head = static_cast<double>(cfg_.vocab_size * cfg_.d_model);
  return 6.0 * (cfg_.macs_per_token(T) + head);
}

}  // namespace weft::models
