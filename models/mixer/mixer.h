// The masked mixer LM (spec ../shared/specs/masked-mixer.md A.2-A.5): attention replaced by causal token
// mixing with one L x L lower-triangular matrix per layer (ops::causal_mix), no positions, no final norm.
//   x = E[ids]                                                 (B, T, C), T <= L
//   per block:  x = x + Mix(LN_seq(x));  x = x + W2 GELU_erf(W1 LN_ch(x) + b1) + b2
//   logits = x H^T                                             untied head, no bias
// Mix, by --mixer-* options (one variant at a time):
//   flat (default)   tril(W) U + c
//   parallel P       sum_p (tril(W_p) U + c_p)
//   kernel k         sum_u tril(W_u) shift_u(U) + c: taps along d_model, shift_u(U)[.., f] = U[.., f + u - (k-1)/2]
//                    with zeros outside (PyTorch Conv1d padding='same')
//   expanded         tril(W2) GELU_erf(tril(W1) U + c1) + c2
//   heads H          concat_h[tril(W_h) (U P_h^T + q_h) + c_h] W_o^T + b_o, head size d/H
// Initialisation is PyTorch's default (A.3 item 3): Conv1d and Linear U(+-1/sqrt(fan_in)) for weights and
// biases (mixing fan_in = L), embedding N(0, 1), LayerNorm (1, 0); the mixing matrices' upper triangles are
// zero from the start and, since causal_mix neither reads them nor gives them a gradient, stay zero.
// Taps: embed, blocks.<l>.mix, blocks.<l>.ffn, blocks.<l>.out.
#pragma once

#include <vector>

#include "models/flags.h"
#include "models/model.h"
#include "runtime/memory.h"

namespace weft::models {

struct MixerConfig {
  int64_t vocab_size = 257;  // --vocab-size
  int64_t seq_len = 256;     // --seq-len: L, the mixing matrices' size (evaluation may use any T <= L)
  int64_t d_model = 128;     // --d-model
  int64_t n_layers = 4;      // --n-layers
  int64_t d_ff = 0;          // --d-ff (0: 4 * d_model)
  int64_t heads = 0;         // --mixer-heads (0: flat)
  int64_t kernel = 1;        // --mixer-kernel
  bool expanded = false;     // --mixer-expanded
  int64_t parallel = 1;      // --mixer-parallel

  int64_t ff() const { return d_ff > 0 ? d_ff : 4 * d_model; }
  void validate() const;  // errors name the flag
  static std::vector<Flag> flags();
  static MixerConfig from_flags(const FlagValues& v);
};

class MaskedMixer : public Model {
 public:
  explicit MaskedMixer(MixerConfig cfg);
  std::string name() const override { return "mixer"; }
  void declare(ParamStore& store) override;
  Var loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) override;
  Var logits(Graph& g, ParamStore& store, const Tensor& ids) override;
  double flops_per_token(int64_t T) const override;
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t max_seq_len() const override { return cfg_.seq_len; }
  Var blocks_from_embeddings(Graph& g, ParamStore& store, Var x) override;  // every block, no head
  Tensor token_embeddings(const ParamStore& store) const override;         // tok_emb (V, C)
  const MixerConfig& config() const { return cfg_; }

 private:
  struct Linear {
    int w = -1, b = -1;
  };
  struct Mixing {
    std::vector<Linear> tri;  // (L, L) matrices and their (L) biases: parallel/taps/heads, or [in, out] when expanded
    Linear proj, out;         // multi-headed: U P^T + q (H * dh, C) and W_o (C, H * dh) + b_o
  };
  struct Block {
    int ln_seq_w = -1, ln_seq_b = -1, ln_ch_w = -1, ln_ch_b = -1;
    Mixing mix;
    Linear fc, proj;
  };
  Var forward(Graph& g, ParamStore& store, const Tensor& ids);  // (B, T, V)
  Var mixing(Graph& g, ParamStore& store, const Mixing& m, Var u);
  Var linear(Graph& g, ParamStore& store, const Linear& l, Var x) const;
  Var shifted(Graph& g, Var u, int64_t shift);  // u (B, T, C) shifted along C, zero fill
  Var shift_matrix(Graph& g, DType dt, int64_t C, int64_t shift);

  MixerConfig cfg_;
  int tok_emb_ = -1, lm_head_ = -1;
  std::vector<Block> blocks_;
  std::vector<OwnedTensor> shifts_;  // kernel variant: (C, C) shift matrices per tap, in the compute dtype
};

}  // namespace weft::models
