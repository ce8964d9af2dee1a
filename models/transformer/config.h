// TransformerConfig: every knob of the GPT-style decoder, named as its command-line flag; the family's
// flag list and the typed config read from flag values (models/transformer/config.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/common/positions.h"
#include "models/flags.h"

namespace weft::models {

struct TransformerConfig {
  int64_t vocab_size = 257;     // --vocab-size
  int64_t d_model = 128;        // --d-model
  int64_t n_layers = 4;         // --n-layers
  int64_t n_heads = 4;          // --n-heads
  int64_t d_ff = 0;             // --d-ff (0: 4 * d_model)
  int64_t max_seq_len = 256;    // --seq-len (learned positions have this many rows)
  std::string activation = "gelu";   // --activation gelu | relu | swiglu  (gelu = tanh approximation)
  std::string norm = "layernorm";    // --norm layernorm | rmsnorm
  float norm_eps = 1e-5f;            // --norm-eps
  bool tie_embeddings = true;   // --tie-embeddings
  bool bias = true;             // --bias (linear and LayerNorm biases)
  std::string attn_bias = "auto";  // --attn-bias true | false | auto (auto: --bias): q|k|v and output projection
  std::string ffn_bias = "auto";   // --ffn-bias true | false | auto (auto: --bias): the MLP's two linears
  bool head_bias = false;       // --head-bias: LM head bias (untied embeddings only)
  bool decay_all = false;       // --decay-all: AdamW decay also on norms and biases (spec moeut A.8)
  int64_t head_dim = 0;         // --head-dim (0: d_model / n_heads); q|k|v (3 H dh, C), output (C, H dh)
  std::string init = "gpt2";    // --init gpt2 | scaled (spec moeut A.6 dense baseline; transformer.cpp)
  float dropout = 0.0f;         // --dropout
  PositionScheme position = PositionScheme::learned;  // --position
  double rope_fraction = 1.0;   // --rope-fraction: share of each head's channels that rotate
  float rope_base = 10000.0f;   // --rope-base
  int64_t sandwich_dim = 128;   // --sandwich-dim (d-bar)
  int64_t attention_window = 0; // --attention-window W: query i sees keys i - W < j <= i (0: all; any --position)

  int64_t head_size() const { return head_dim > 0 ? head_dim : d_model / n_heads; }
  int64_t attn_width() const { return n_heads * head_size(); }  // H * dh: rows of q, k and v
  bool attn_biased() const { return attn_bias == "auto" ? bias : attn_bias == "true"; }
  bool ffn_biased() const { return ffn_bias == "auto" ? bias : ffn_bias == "true"; }
  int64_t ff() const { return d_ff > 0 ? d_ff : 4 * d_model; }
  // Rotated channels per head: floor(fraction * HS) of the decimal the user typed (a product within 1e-6
  // of an integer counts as that integer, so 0.84 * 150 gives 126, not 125), rounded down to even.
  int64_t rope_channels() const;
  // Throws weft::Error naming the flag of the first invalid value.
  void validate() const;

  static std::vector<Flag> flags();                          // the family's [model] flags
  static TransformerConfig from_flags(const FlagValues& v);  // shared + own flags; validates
};

}  // namespace weft::models
