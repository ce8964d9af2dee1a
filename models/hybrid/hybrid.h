// The transformer-mixer hybrid ("transfixer", spec ../shared/specs/masked-mixer.md A.6): a Llama decoder
// (RMSNorm, RoPE attention without biases, SwiGLU MLP, final RMSNorm, untied head) with one masked L x L
// mixer per layer (ops::causal_mix) whose output joins the residual next to attention's.
//   x = E[ids]                                                    (B, T, C), T <= L
//   per layer:  u = RMSNorm(x);  a = Attn(u)
//               serial (default):  h = x + a + (tril(W) a + c)    the stored code of the blog's hybrid
//               parallel:          h = x + a + (tril(W) u + c)    mixer beside attention, same normed input
//               x = h + W2 (silu(G u') * (U u')),  u' = RMSNorm(h)
//   logits = RMSNorm(x) H^T
// Initialisation: Llama/HF (Linear and embedding N(0, 0.02), RMSNorm 1); the mixing matrix and its bias
// PyTorch's Conv1d default U(+-1/sqrt(L)), the matrix's upper triangle zero (causal_mix keeps it so).
// Taps: embed, blocks.<l>.q / .k (after RoPE), blocks.<l>.attn, blocks.<l>.mix, blocks.<l>.mlp, blocks.<l>.out, final.
#pragma once

#include <string>
#include <vector>

#include "models/common/blocks.h"
#include "models/flags.h"
#include "models/model.h"

namespace weft::models {

struct HybridConfig {
  int64_t vocab_size = 257;          // --vocab-size
  int64_t seq_len = 256;             // --seq-len: L, the mixing matrices' size (evaluation may use any T <= L)
  int64_t d_model = 128;             // --d-model
  int64_t n_layers = 4;              // --n-layers
  int64_t n_heads = 4;               // --n-heads
  int64_t d_ff = 0;                  // --d-ff (0: 4 * d_model), SwiGLU width
  float rope_base = 10000.0f;        // --rope-base
  int64_t attention_window = 0;      // --attention-window W: query i sees keys i - W < j <= i (0: all)
  float norm_eps = 1e-5f;            // --norm-eps (Llama: 1e-6)
  std::string layout = "serial";     // --hybrid-layout serial | parallel

  int64_t ff() const { return d_ff > 0 ? d_ff : 4 * d_model; }
  bool parallel() const { return layout == "parallel"; }
  void validate() const;  // errors name the flag
  static std::vector<Flag> flags();
  static HybridConfig from_flags(const FlagValues& v);
};

class Hybrid : public Model {
 public:
  explicit Hybrid(HybridConfig cfg);
  std::string name() const override { return "hybrid"; }
  void declare(ParamStore& store) override;
  Var loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) override;
  Var logits(Graph& g, ParamStore& store, const Tensor& ids) override;
  double flops_per_token(int64_t T) const override;
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t max_seq_len() const override { return cfg_.seq_len; }
  Var blocks_from_embeddings(Graph& g, ParamStore& store, Var x) override;  // every layer, no final norm
  Tensor token_embeddings(const ParamStore& store) const override;         // tok_emb (V, C)
  const HybridConfig& config() const { return cfg_; }

 private:
  struct Layer {
    NormParams ln1, ln2;
    AttentionParams attn;
    LinearParams mix;  // (L, L) lower-triangular matrix and its (L) bias
    MlpParams mlp;
  };
  Var forward(Graph& g, ParamStore& store, const Tensor& ids);  // (B, T, V)

  HybridConfig cfg_;
  int tok_emb_ = -1, lm_head_ = -1;
  NormParams ln_f_;
  std::vector<Layer> layers_;
};

}  // namespace weft::models
