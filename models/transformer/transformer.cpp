// Transformer forward pass, built from runtime ops; the backward comes from the tape.
#include "models/transformer/transformer.h"

#include <cmath>

#include "models/common/constants.h"
#include "runtime/kernels.h"

namespace weft::models {

Transformer::Transformer(TransformerConfig cfg) : cfg_(std::move(cfg)) { cfg_.validate(); }

void Transformer::declare(ParamStore& store) {
  const int64_t C = cfg_.d_model, V = cfg_.vocab_size, F = cfg_.ff(), L = cfg_.n_layers;
  const double std_init = 0.02, std_residual = 0.02 / std::sqrt(2.0 * L);  // GPT-2 scaled residual init
  bool ln = cfg_.norm == "layernorm";
  auto add_norm = [&](const std::string& name, int& w, int& b) {
    w = store.add(name + ".weight", {C}, Init::Ones(), false);
    b = ln && cfg_.bias ? store.add(name + ".bias", {C}, Init::Zeros(), false) : -1;
  };
  auto add_linear = [&](const std::string& name, int64_t out, int64_t in, double std, int& w, int& b) {
    w = store.add(name + ".weight", {out, in}, Init::Normal(std));
    b = cfg_.bias ? store.add(name + ".bias", {out}, Init::Zeros(), false) : -1;
  };
  tok_emb_ = store.add("tok_emb.weight", {V, C}, Init::Normal(std_init));
  if (cfg_.position == PositionScheme::learned)
    pos_emb_ = store.add("pos_emb.weight", {cfg_.max_seq_len, C}, Init::Normal(std_init));
  layers_.resize(L);
  for (int64_t l = 0; l < L; ++l) {
    Layer& y = layers_[l];
    std::string p = "blocks." + std::to_string(l);
    add_norm(p + ".ln1", y.ln1_w, y.ln1_b);
    add_linear(p + ".attn.qkv", 3 * C, C, std_init, y.qkv_w, y.qkv_b);
    add_linear(p + ".attn.proj", C, C, std_residual, y.proj_w, y.proj_b);
    add_norm(p + ".ln2", y.ln2_w, y.ln2_b);
    int64_t fc_out = cfg_.activation == "swiglu" ? 2 * F : F;
    add_linear(p + ".mlp.fc", fc_out, C, std_init, y.fc_w, y.fc_b);
    add_linear(p + ".mlp.proj", C, F, std_residual, y.fc2_w, y.fc2_b);
  }
  add_norm("ln_f", lnf_w_, lnf_b_);
  if (!cfg_.tie_embeddings) lm_head_ = store.add("lm_head.weight", {V, C}, Init::Normal(std_init));
}

void Transformer::prepare_positions(Device dev, DType dt, int64_t T) {
  if (T <= positions_len_) return;
  const int64_t C = cfg_.d_model, NH = cfg_.n_heads;
  // Position ids are i32, the sinusoid table is in the compute dtype (f64 in gradient checks); the
  // slopes and the Sandwich table stay f32 whatever the compute dtype, since the attention kernels read
  // them as float (PositionBias).
  switch (cfg_.position) {
    case PositionScheme::learned: {
      std::vector<double> ids(T);
      for (int64_t t = 0; t < T; ++t) ids[t] = static_cast<double>(t);
      pos_ids_ = device_constant(ids, {T}, DType::i32, dev);
      break;
    }
    case PositionScheme::sinusoidal: sinusoid_ = device_constant(sinusoidal_table(T, C), {T, C}, dt, dev); break;
    case PositionScheme::alibi:
      head_slopes_ = device_constant(alibi_slopes(static_cast<int>(NH)), {NH}, DType::f32, dev);
      break;
    case PositionScheme::sandwich:
      head_slopes_ = device_constant(sandwich_head_scales(static_cast<int>(NH)), {NH}, DType::f32, dev);
      bias_table_ = device_constant(sandwich_table(static_cast<int>(cfg_.sandwich_dim), T), {T}, DType::f32, dev);
      break;
    default: break;
  }
  positions_len_ = T;
}

Var Transformer::norm(Graph& g, ParamStore& store, Var x, int w, int b) const {
  if (cfg_.norm == "rmsnorm") return ops::rmsnorm(g, x, g.param(store, w), 1e-5f);
  return ops::layernorm(g, x, g.param(store, w), param_or_null(g, store, b), 1e-5f);
}

Var Transformer::attention_block(Graph& g, ParamStore& store, const Layer& l, Var x, int64_t B, int64_t T) {
  const int64_t C = cfg_.d_model, NH = cfg_.n_heads, HS = cfg_.head_size();
  Var h = norm(g, store, x, l.ln1_w, l.ln1_b);
  Var qkv = ops::linear(g, h, g.param(store, l.qkv_w), param_or_null(g, store, l.qkv_b));  // (B, T, 3C)
  std::vector<Var> parts = ops::split(g, qkv, {C, C, C}, -1);
  Shape heads{B, T, NH, HS};
  Var q = ops::reshape(g, parts[0], heads), k = ops::reshape(g, parts[1], heads), v = ops::reshape(g, parts[2], heads);
  PositionBias bias;
  if (cfg_.position == PositionScheme::rope) {
    q = ops::rope(g, q, cfg_.rope_channels(), cfg_.rope_base);
    k = ops::rope(g, k, cfg_.rope_channels(), cfg_.rope_base);
  } else if (cfg_.position == PositionScheme::alibi) {
    bias.kind = PositionBias::Kind::alibi;
    bias.slopes = head_slopes_.ptr<float>();
  } else if (cfg_.position == PositionScheme::sandwich) {
    bias.kind = PositionBias::Kind::table;
    bias.slopes = head_slopes_.ptr<float>();
    bias.table = bias_table_.ptr<float>();
    bias.table_len = positions_len_;
  }
  Var att = ops::attention(g, q, k, v, bias);                                               // (B, T, NH, HS)
  Var y = ops::linear(g, ops::reshape(g, att, {B, T, C}), g.param(store, l.proj_w), param_or_null(g, store, l.proj_b));
  return y;
}

Var Transformer::mlp_block(Graph& g, ParamStore& store, const Layer& l, Var x) {
  Var h = norm(g, store, x, l.ln2_w, l.ln2_b);
  Var fc_w = g.param(store, l.fc_w), fc_b = param_or_null(g, store, l.fc_b);
  Var f;  // (B, T, F)
  if (cfg_.activation == "gelu") f = ops::linear_gelu(g, h, fc_w, fc_b);  // GELU fused into the GEMM on CUDA
  else if (cfg_.activation == "relu") f = ops::relu(g, ops::linear(g, h, fc_w, fc_b));
  else f = ops::swiglu(g, ops::linear(g, h, fc_w, fc_b));  // (B, T, 2F) -> (B, T, F)
  return ops::linear(g, f, g.param(store, l.fc2_w), param_or_null(g, store, l.fc2_b));
}

Var Transformer::forward(Graph& g, ParamStore& store, const Tensor& ids, Rng* rng, bool training) {
  WEFT_CHECK(ids.shape.rank == 2 && ids.dtype == DType::i32, "[transformer] ids must be i32 (B, T), got ", ids.str());
  const int64_t B = ids.shape[0], T = ids.shape[1];
  if (cfg_.position == PositionScheme::learned)
    WEFT_CHECK(T <= cfg_.max_seq_len, "[transformer] sequence length ", T, " exceeds the ", cfg_.max_seq_len,
               " learned positions (use rope, alibi, sandwich or sinusoidal to evaluate longer)");
  prepare_positions(g.device(), store.dtype(), T);
  bool drop = training && cfg_.dropout > 0.0f && rng;
  Var x = ops::embedding(g, g.constant(ids), g.param(store, tok_emb_));  // (B, T, C)
  if (cfg_.position == PositionScheme::learned)
    x = ops::add(g, x, ops::embedding(g, g.constant(pos_ids_.tensor().slice_rows(0, T)), g.param(store, pos_emb_)));
  else if (cfg_.position == PositionScheme::sinusoidal)
    x = ops::add(g, x, ops::cast(g, g.constant(sinusoid_.tensor().slice_rows(0, T)), store.dtype()));
  if (drop) x = ops::dropout(g, x, cfg_.dropout, *rng);
  if (tapping()) tap("embed", x);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    Var a = attention_block(g, store, l, x, B, T);
    if (drop) a = ops::dropout(g, a, cfg_.dropout, *rng);
    x = ops::add(g, x, a);
    Var m = mlp_block(g, store, l, x);
    if (drop) m = ops::dropout(g, m, cfg_.dropout, *rng);
    x = ops::add(g, x, m);
    if (tapping()) {
      const std::string p = "blocks." + std::to_string(i);
      tap(p + ".attn", a);
      tap(p + ".mlp", m);
      tap(p + ".out", x);
    }
  }
  x = norm(g, store, x, lnf_w_, lnf_b_);
  if (tapping()) tap("final", x);
  return ops::linear(g, x, g.param(store, cfg_.tie_embeddings ? tok_emb_ : lm_head_));  // (B, T, V)
}

Var Transformer::loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
  Var logits = forward(g, store, batch.inputs, &rng, training);
  int64_t N = batch.inputs.numel();
  return ops::cross_entropy(g, ops::reshape(g, logits, {N, cfg_.vocab_size}),
                            g.constant(batch.targets.reshape({N})), -100, batch.normalizer);
}

Var Transformer::logits(Graph& g, ParamStore& store, const Tensor& ids) {
  return forward(g, store, ids, nullptr, false);
}

double Transformer::flops_per_token(int64_t T) const {
  const double C = static_cast<double>(cfg_.d_model), V = static_cast<double>(cfg_.vocab_size),
               F = static_cast<double>(cfg_.ff()), L = static_cast<double>(cfg_.n_layers);
  double fc = cfg_.activation == "swiglu" ? 3.0 : 2.0;  // matrices in the MLP
  double per_layer = 4.0 * C * C + fc * C * F;          // qkv + proj + mlp (weights only)
  double n = L * per_layer + V * C + (cfg_.tie_embeddings ? 0.0 : V * C);
  return 6.0 * n + 6.0 * L * static_cast<double>(T) * C;
}

}  // namespace weft::models
