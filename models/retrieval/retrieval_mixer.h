// The retrieval model of spec masked-mixer.md A.10 item 6: a bidirectional mixer over the N slots
// [query, candidate_1 .. candidate_{N-1}] of frozen generative embeddings (no word embedding, no mask, no
// positions), scoring which candidate is the query's document.
//   X = I                                        (B, N, d)  slot embeddings
//   per block:  X = X + (W LN_mix(X)_b + c)      W (N, N) full, c (N): ops::dense_mix
//               X = X + W2 GELU_erf(W1 LN_ffn(X) + b1) + b2         (4d, exact GELU)
//   s = X w^T + b                                (B, N, 1)  Linear(d, 1)
//   logits = s[:, 1:]                            (B, N - 1); loss = cross-entropy against the true slot - 1
// Initialisation is PyTorch's default, as in the official code: Conv1d(N, N, 1) and Linear weights and biases
// U(+-1/sqrt(fan_in)) (mixing fan_in = N), LayerNorm (1, 0).
//
// It is a models::Model so TrainableState (AdamW, the GradReducer), checkpoints and taps work unchanged, but
// it is NOT a registered LM family: its input is a batch of embedding vectors, not token ids, so the LM
// entry points (loss / logits over a token Batch) throw, and the trainer, eval, sample, bench and the
// generic family tests, which all feed token ids, cannot run it. `weft retrieval` drives it through
// scores() and loss() below. Taps: blocks.<l>.out (B, N, d).
#pragma once

#include <string>
#include <vector>

#include "models/model.h"

namespace weft::models {

struct RetrievalConfig {
  int64_t d_model = 0;   // the embeddings' width d
  int64_t slots = 8;     // N: the query plus N - 1 candidates
  int64_t n_layers = 8;  // mixer blocks
  int64_t d_ff = 0;      // FFN width (0: 4 d)

  int64_t ff() const { return d_ff > 0 ? d_ff : 4 * d_model; }
  void validate() const;  // errors name the flag (--candidates, --layers)
};

class RetrievalMixer : public Model {
 public:
  explicit RetrievalMixer(RetrievalConfig cfg);
  std::string name() const override { return "retrieval"; }
  void declare(ParamStore& store) override;
  const RetrievalConfig& config() const { return cfg_; }

  // x (B, N, d) slot embeddings (a constant) -> candidate scores (B, N - 1).
  Var scores(Graph& g, ParamStore& store, const Tensor& x);
  // Mean cross-entropy of the scores against labels (B) i32 in [0, N - 1) (the true slot minus one).
  Var loss(Graph& g, ParamStore& store, const Tensor& x, const Tensor& labels);

  // Token-id entry points of Model: not applicable (see above); they throw naming the model.
  Var loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) override;
  Var logits(Graph& g, ParamStore& store, const Tensor& ids) override;
  double flops_per_token(int64_t T) const override;  // per slot, forward and backward (T is ignored)
  int64_t vocab_size() const override { return 0; }

 private:
  struct Block {
    int ln_mix_w = -1, ln_mix_b = -1, mix_w = -1, mix_b = -1;
    int ln_ffn_w = -1, ln_ffn_b = -1, fc_w = -1, fc_b = -1, proj_w = -1, proj_b = -1;
  };
  RetrievalConfig cfg_;
  std::vector<Block> blocks_;
  int head_w_ = -1, head_b_ = -1;
};

}  // namespace weft::models
