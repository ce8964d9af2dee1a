// Sub-blocks shared by the decoder families (transformer, hybrid): linear layers and norms addressed by
// parameter ids, causal multi-head self-attention with a fused q|k|v projection, and the MLP. Each takes
// its input already normalised and returns the branch's output (B, T, C); the caller adds the residual.
// Declaration helpers register the parameters under `<prefix>.weight` / `<prefix>.bias`; the caller picks
// the initialisers (GPT-2 for the transformer, Llama/HF for the hybrid).
#pragma once

#include <cstdint>
#include <string>

#include "runtime/math/position_bias.h"
#include "runtime/ops/ops.h"
#include "models/model.h"
#include "runtime/param_store.h"

namespace weft::models {

struct LinearParams {  // parameter ids; b < 0: no bias
  int w = -1, b = -1;
};
struct NormParams {  // b < 0: no bias (RMSNorm, LayerNorm without bias)
  int w = -1, b = -1;
};
struct AttentionParams {
  LinearParams qkv;   // (3A, C): rows q | k | v, A = n_heads * head size (usually C)
  LinearParams proj;  // (C, A)
};
struct MlpParams {
  LinearParams fc;    // (F, C), or (2F, C) for SwiGLU: rows gate | up
  LinearParams proj;  // (C, F)
};

enum class NormKind { layernorm, rmsnorm };
enum class Activation { gelu_tanh, relu, swiglu };

// weight (out, in) with `w_init`; bias (out) zero-initialised when `bias`, weight-decayed only when
// `decay_bias`.
LinearParams declare_linear(ParamStore& store, const std::string& prefix, int64_t out, int64_t in, Init w_init,
                            bool bias, bool decay_bias = false);
// weight (C) ones; bias (C) zeros when `bias`. Neither decays unless `decay`.
NormParams declare_norm(ParamStore& store, const std::string& prefix, int64_t C, bool bias, bool decay = false);

Var linear(Graph& g, ParamStore& store, const LinearParams& l, Var x);
Var norm(Graph& g, ParamStore& store, NormKind kind, const NormParams& n, Var x, float eps);

// How attention sees positions: RoPE on the first rope_channels of each head of q and k (0: none), and an
// additive bias evaluated inside the attention kernel.
struct AttentionPositions {
  int64_t rope_channels = 0;
  float rope_base = 10000.0f;
  PositionBias bias;
};

// Causal self-attention of h (B, T, C): q|k|v = h Wqkv^T (+ b), n_heads heads of HS = A / n_heads channels
// (A = a third of Wqkv's rows: C / n_heads unless the caller declared another head size), RoPE and bias per
// `pos`, softmax(q k^T / sqrt(HS)) v, output projection (C, A). qk, when given, receives the heads' queries
// and keys after RoPE, (B, T, NH, HS) each (the "blocks.<l>.q" / ".k" taps: attention entropy is computed
// from them, since the attention kernel keeps no probabilities).
struct AttentionQK {
  Var q, k;
};
Var causal_self_attention(Graph& g, ParamStore& store, const AttentionParams& p, Var h, int64_t n_heads,
                          const AttentionPositions& pos, AttentionQK* qk = nullptr);

// proj(act(fc(h))); SwiGLU: silu(gate) * up of the fc's two halves. GELU (tanh) runs as ops::linear_gelu.
Var mlp(Graph& g, ParamStore& store, const MlpParams& p, Var h, Activation act);

// The next-token cross-entropy of logits (B, T, V) against batch.targets, ignore_index -100, divided by
// batch.normalizer (the global target count) when it is set: every language-model family's loss.
Var next_token_loss(Graph& g, Var logits, const Batch& batch);

}  // namespace weft::models
