// TransformerConfig: every knob of the GPT-style decoder, named as its command-line flag.
#pragma once

#include <cstdint>
#include <string>

#include "models/common/positions.h"

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
  bool tie_embeddings = true;   // --tie-embeddings
  bool bias = true;             // --bias (linear and LayerNorm biases)
  float dropout = 0.0f;         // --dropout
  PositionScheme position = PositionScheme::learned;  // --position
  float rope_fraction = 1.0f;   // --rope-fraction: share of each head's channels that rotate
  float rope_base = 10000.0f;   // --rope-base
  int64_t sandwich_dim = 128;   // --sandwich-dim (d-bar)

  int64_t head_size() const { return d_model / n_heads; }
  int64_t ff() const { return d_ff > 0 ? d_ff : 4 * d_model; }
  int64_t rope_channels() const;  // rotated channels per head: even, floor(fraction * HS)
  // Throws weft::Error naming the flag of the first invalid value.
  void validate() const;
};

}  // namespace weft::models
