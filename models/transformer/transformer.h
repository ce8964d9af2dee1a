// GPT-style decoder-only transformer (pre-LN) with six position schemes: learned, sinusoidal, rope,
// alibi, sandwich, none. ALiBi and Sandwich enter as additive biases computed inside the attention op
// from (i - j), so a model trained at length T evaluates at any length. Heads may be of any size (--head-dim;
// H dh need not be d), biases are chosen per part (--attn-bias, --ffn-bias, --head-bias), and --init scaled
// is the MoEUT paper's dense-baseline init (spec moeut A.6; transformer.cpp declare()).
// Taps: embed, blocks.<l>.attn (attention branch), blocks.<l>.mlp (MLP branch), blocks.<l>.out (residual
// stream after layer l), final (after the final norm), blocks.<l>.q / .k (the heads' queries and keys after
// RoPE, (B, T, NH, HS): attention entropy in `weft analyze norms`; the model has no README, this is its list).
#pragma once

#include <vector>

#include "models/common/blocks.h"
#include "models/model.h"
#include "models/transformer/config.h"
#include "runtime/memory.h"

namespace weft::models {

class Transformer : public Model {
 public:
  explicit Transformer(TransformerConfig cfg);
  std::string name() const override { return "transformer"; }
  void declare(ParamStore& store) override;
  Var loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) override;
  Var logits(Graph& g, ParamStore& store, const Tensor& ids) override;
  double flops_per_token(int64_t T) const override;
  double macs_per_token(int64_t T) const override;  // spec moeut A.7's dense count (transformer.cpp)
  std::string summary_notes() const override;        // "attention window W" with --attention-window
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  // Learned positions have seq-len rows; every other scheme evaluates at any length.
  int64_t max_seq_len() const override {
    return cfg_.position == PositionScheme::learned ? cfg_.max_seq_len : kUnboundedLength;
  }
  // The blocks on x + positions (learned or sinusoidal; RoPE, ALiBi and Sandwich act inside attention).
  Var blocks_from_embeddings(Graph& g, ParamStore& store, Var x) override;
  Tensor token_embeddings(const ParamStore& store) const override;  // tok_emb (V, C)
  // Decode cache (models/transformer/decode.cpp): keys (after RoPE) and values of every layer per row,
  // (rows, max_len, NH, HS) in the compute dtype on the model's device; every position scheme and window.
  std::unique_ptr<DecodeCache> begin_decode(ParamStore& store, Exec& ex, int64_t rows, int64_t max_len) override;
  Var decode(Graph& g, ParamStore& store, DecodeCache& cache, const Tensor& ids,
             const std::vector<int64_t>& rows) override;
  const TransformerConfig& config() const { return cfg_; }

 private:
  struct Layer {  // parameter ids (models/common/blocks.h); -1 when the configuration has no such parameter
    NormParams ln1, ln2;
    AttentionParams attn;
    MlpParams mlp;
  };
  Var forward(Graph& g, ParamStore& store, const Tensor& ids, Rng* rng, bool training);  // (B, T, V)
  // Positions, dropout and every layer on x (B, T, C) = E[ids]: the last layer's output (B, T, C).
  Var blocks(Graph& g, ParamStore& store, Var x, Rng* rng, bool training);
  Var norm(Graph& g, ParamStore& store, Var x, const NormParams& n) const;
  Activation activation() const;
  AttentionPositions attention_positions() const;
  double attended_length(int64_t T) const;  // T of flops_per_token's attention term (less with a window)
  void prepare_positions(Device dev, DType dt, int64_t T);  // device constants, grown on demand

  TransformerConfig cfg_;
  int tok_emb_ = -1, pos_emb_ = -1, lm_head_ = -1, lm_head_b_ = -1;
  NormParams ln_f_;
  std::vector<Layer> layers_;
  // Device-resident constants for the position scheme (sized for the longest T seen so far).
  int64_t positions_len_ = 0;
  OwnedTensor pos_ids_;      // (len) i32: 0, 1, 2, ... for learned positions
  OwnedTensor sinusoid_;     // (len, C)
  OwnedTensor head_slopes_;  // (NH) f32: ALiBi slopes or Sandwich 1/r_h
  OwnedTensor bias_table_;   // (len) f32: Sandwich T[d]
};

}  // namespace weft::models
