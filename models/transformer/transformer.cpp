// Transformer forward pass, built from runtime ops; the backward comes from the tape.
#include "models/transformer/transformer.h"

#include <algorithm>
#include <cmath>

#include "models/common/constants.h"
#include "runtime/kernels.h"

namespace weft::models {

Transformer::Transformer(TransformerConfig cfg) : cfg_(std::move(cfg)) { cfg_.validate(); }

void Transformer::declare(ParamStore& store) {
  const int64_t C = cfg_.d_model, V = cfg_.vocab_size, F = cfg_.ff(), L = cfg_.n_layers, A = cfg_.attn_width();
  const bool norm_bias = cfg_.norm == "layernorm" && cfg_.bias, decay = cfg_.decay_all;
  // --init gpt2: N(0, 0.02) everywhere, the residual branches' output projections N(0, 0.02 / sqrt(2 L)).
  // --init scaled (spec moeut A.6, the dense baseline's reset_prenorm_params): every layer weight
  // N(0, 2 / (L fan_in)) with fan_in its input width, biases 0. The reference draws a truncated normal
  // rescaled to that std; we draw a plain normal of the same std (they differ only in the far tails).
  // Embeddings (token and learned positions) N(0, 1 / C) (kaiming_normal fan_in, linear, on (V, C)); an
  // untied LM head keeps PyTorch's nn.Linear default, weight and bias U(+-1 / sqrt(C)), as in MoEUT.
  const bool scaled = cfg_.init == "scaled";
  const double std_init = 0.02, std_residual = 0.02 / std::sqrt(2.0 * L);  // GPT-2 scaled residual init
  auto layer_init = [&](int64_t fan_in, double gpt2_std) {
    return Init::Normal(scaled ? std::sqrt(2.0 / (static_cast<double>(L) * static_cast<double>(fan_in))) : gpt2_std);
  };
  const Init emb_init = Init::Normal(scaled ? 1.0 / std::sqrt(static_cast<double>(C)) : std_init);
  tok_emb_ = store.add("tok_emb.weight", {V, C}, emb_init);
  if (cfg_.position == PositionScheme::learned) pos_emb_ = store.add("pos_emb.weight", {cfg_.max_seq_len, C}, emb_init);
  const bool ab = cfg_.attn_biased(), fb = cfg_.ffn_biased();
  layers_.resize(L);
  for (int64_t l = 0; l < L; ++l) {
    Layer& y = layers_[l];
    std::string p = "blocks." + std::to_string(l);
    y.ln1 = declare_norm(store, p + ".ln1", C, norm_bias, decay);
    y.attn.qkv = declare_linear(store, p + ".attn.qkv", 3 * A, C, layer_init(C, std_init), ab, decay);
    y.attn.proj = declare_linear(store, p + ".attn.proj", C, A, layer_init(A, std_residual), ab, decay);
    y.ln2 = declare_norm(store, p + ".ln2", C, norm_bias, decay);
    int64_t fc_out = cfg_.activation == "swiglu" ? 2 * F : F;
    y.mlp.fc = declare_linear(store, p + ".mlp.fc", fc_out, C, layer_init(C, std_init), fb, decay);
    y.mlp.proj = declare_linear(store, p + ".mlp.proj", C, F, layer_init(F, std_residual), fb, decay);
  }
  ln_f_ = declare_norm(store, "ln_f", C, norm_bias, decay);
  if (!cfg_.tie_embeddings) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(C));
    const Init head_init = scaled ? Init::Uniform(bound) : Init::Normal(std_init);
    lm_head_ = store.add("lm_head.weight", {V, C}, head_init);
    if (cfg_.head_bias) lm_head_b_ = store.add("lm_head.bias", {V}, scaled ? Init::Uniform(bound) : Init::Zeros(), decay);
  }
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

Var Transformer::norm(Graph& g, ParamStore& store, Var x, const NormParams& n) const {
  return models::norm(g, store, cfg_.norm == "rmsnorm" ? NormKind::rmsnorm : NormKind::layernorm, n, x, cfg_.norm_eps);
}

Activation Transformer::activation() const {
  return cfg_.activation == "gelu" ? Activation::gelu_tanh : cfg_.activation == "relu" ? Activation::relu : Activation::swiglu;
}

AttentionPositions Transformer::attention_positions() const {
  AttentionPositions pos;
  if (cfg_.position == PositionScheme::rope) {
    pos.rope_channels = cfg_.rope_channels();
    pos.rope_base = cfg_.rope_base;
  } else if (cfg_.position == PositionScheme::alibi) {
    pos.bias.kind = PositionBias::Kind::alibi;
    pos.bias.slopes = head_slopes_.ptr<float>();
  } else if (cfg_.position == PositionScheme::sandwich) {
    pos.bias.kind = PositionBias::Kind::table;
    pos.bias.slopes = head_slopes_.ptr<float>();
    pos.bias.table = bias_table_.ptr<float>();
    pos.bias.table_len = positions_len_;
  }
  pos.bias.window = cfg_.attention_window;  // composes with every scheme (spec positions E.1)
  return pos;
}

Var Transformer::forward(Graph& g, ParamStore& store, const Tensor& ids, Rng* rng, bool training) {
  WEFT_CHECK(ids.shape.rank == 2 && ids.dtype == DType::i32, "[transformer] ids must be i32 (B, T), got ", ids.str());
  Var x = ops::embedding(g, g.constant(ids), g.param(store, tok_emb_));  // (B, T, C)
  x = blocks(g, store, x, rng, training);
  x = norm(g, store, x, ln_f_);
  if (tapping()) tap("final", x);
  return ops::linear(g, x, g.param(store, cfg_.tie_embeddings ? tok_emb_ : lm_head_),
                     lm_head_b_ < 0 ? nullptr : g.param(store, lm_head_b_));  // (B, T, V)
}

Var Transformer::blocks(Graph& g, ParamStore& store, Var x, Rng* rng, bool training) {
  WEFT_CHECK(x->value.shape.rank == 3 && x->value.shape[2] == cfg_.d_model, "[transformer] embeddings must be (B, T, ",
             cfg_.d_model, "), got ", x->value.str());
  const int64_t T = x->value.shape[1];
  if (cfg_.position == PositionScheme::learned)
    WEFT_CHECK(T <= cfg_.max_seq_len, "[transformer] sequence length ", T, " exceeds the ", cfg_.max_seq_len,
               " learned positions (use rope, alibi, sandwich or sinusoidal to evaluate longer)");
  prepare_positions(g.device(), store.dtype(), T);
  bool drop = training && cfg_.dropout > 0.0f && rng;
  if (cfg_.position == PositionScheme::learned)
    x = ops::add(g, x, ops::embedding(g, g.constant(pos_ids_.tensor().slice_rows(0, T)), g.param(store, pos_emb_)));
  else if (cfg_.position == PositionScheme::sinusoidal)
    x = ops::add(g, x, ops::cast(g, g.constant(sinusoid_.tensor().slice_rows(0, T)), store.dtype()));
  if (drop) x = ops::dropout(g, x, cfg_.dropout, *rng);
  if (tapping()) tap("embed", x);
  const AttentionPositions pos = attention_positions();
  const Activation act = activation();
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    AttentionQK qk;
    Var a = causal_self_attention(g, store, l.attn, norm(g, store, x, l.ln1), cfg_.n_heads, pos, tapping() ? &qk : nullptr);
    if (drop) a = ops::dropout(g, a, cfg_.dropout, *rng);
    x = ops::add(g, x, a);
    Var m = mlp(g, store, l.mlp, norm(g, store, x, l.ln2), act);
    if (drop) m = ops::dropout(g, m, cfg_.dropout, *rng);
    x = ops::add(g, x, m);
    if (tapping()) {
      const std::string p = "blocks." + std::to_string(i);
      tap(p + ".q", qk.q);
      tap(p + ".k", qk.k);
      tap(p + ".attn", a);
      tap(p + ".mlp", m);
      tap(p + ".out", x);
    }
  }
  return x;
}

Var Transformer::blocks_from_embeddings(Graph& g, ParamStore& store, Var x) {
  return blocks(g, store, x, nullptr, false);
}

Tensor Transformer::token_embeddings(const ParamStore& store) const { return store.value(tok_emb_); }

Var Transformer::loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
  return next_token_loss(g, forward(g, store, batch.inputs, &rng, training), batch);
}

Var Transformer::logits(Graph& g, ParamStore& store, const Tensor& ids) {
  return forward(g, store, ids, nullptr, false);
}

double Transformer::flops_per_token(int64_t T) const {
  const double C = static_cast<double>(cfg_.d_model), V = static_cast<double>(cfg_.vocab_size),
               F = static_cast<double>(cfg_.ff()), L = static_cast<double>(cfg_.n_layers),
               A = static_cast<double>(cfg_.attn_width());  // H * dh (C unless --head-dim)
  double fc = cfg_.activation == "swiglu" ? 3.0 : 2.0;  // matrices in the MLP
  double per_layer = 4.0 * C * A + fc * C * F;          // qkv + proj + mlp (weights only)
  double n = L * per_layer + V * C + (cfg_.tie_embeddings ? 0.0 : V * C);
  return 6.0 * n + 6.0 * L * attended_length(T) * A;
}

double Transformer::attended_length(int64_t T) const {
  // 6 L T A counts a causal T-token sequence: its queries see (T + 1) / 2 keys on average, ~T / 2. With a
  // window W < T they see (W (W + 1) / 2 + (T - W) W) / T ~ W - W^2 / (2T): the same count at T' = 2W - W^2 / T
  // (T' = T at W = T, ~2W for T >> W).
  const double t = static_cast<double>(T), w = static_cast<double>(cfg_.attention_window);
  return cfg_.attention_window > 0 && w < t ? 2.0 * w - w * w / t : t;
}

std::string Transformer::summary_notes() const {
  return cfg_.attention_window > 0 ? "attention window " + std::to_string(cfg_.attention_window) : "";
}

double Transformer::macs_per_token(int64_t T) const {
  // The MoEUT paper's dense count (spec moeut.md A.7, get_attention_flops / get_ff_flops), per token, x L:
  // attention 2 H dh T (QK^T and PV) + 4 d H dh (q, k, v, output), FFN 2 d dff (3 d dff with SwiGLU's three
  // matrices); no embedding, no LM head, no norms or biases.
  const double d = static_cast<double>(cfg_.d_model), H = static_cast<double>(cfg_.n_heads),
               dh = static_cast<double>(cfg_.head_size()), F = static_cast<double>(cfg_.ff());
  // With --attention-window W the spec's T keys per query become min(T, W).
  const int64_t keys = cfg_.attention_window > 0 ? std::min(T, cfg_.attention_window) : T;
  const double att = 2.0 * H * dh * static_cast<double>(keys) + 4.0 * d * H * dh;
  const double ff = (cfg_.activation == "swiglu" ? 3.0 : 2.0) * d * F;
  return static_cast<double>(cfg_.n_layers) * (att + ff);
}

}  // namespace weft::models
