// The bag-of-embeddings LM: the smallest model family, kept as the template for new ones and as the
// model the generic family tests exercise every hook with. Position t predicts token t+1 from the mean
// of the embeddings of tokens (t-w, t] (a causal banded averaging matrix A (T, T) applied to every
// sequence), one residual ReLU MLP and an untied head with bias:
//   x = E[ids]  (B, T, C);  bag = A x;  h = bag + carry;  z = h + W2 relu(W1 h + b1);  logits = H z + c
// Hooks it uses: an auxiliary term "bag_l2" (mean squared bag entry, weight --bag-l2) and, with
// --bag-carry, state across steps: each stream's last bag vector is added (detached) to every position of
// that stream's next training window. Taps: embed, blocks.0.bag, blocks.0.out.
#pragma once

#include <map>
#include <vector>

#include "models/flags.h"
#include "models/model.h"
#include "runtime/memory.h"

namespace weft::models {

struct BagConfig {
  int64_t vocab_size = 257;  // --vocab-size
  int64_t seq_len = 256;     // --seq-len (the model runs at any length)
  int64_t d_model = 128;     // --d-model
  int64_t window = 8;        // --bag-window: tokens averaged per position
  double l2 = 1e-3;          // --bag-l2: weight of the auxiliary term
  bool carry = false;        // --bag-carry: carry each stream's last bag vector into its next window

  void validate() const;  // errors name the flag
  static std::vector<Flag> flags();
  static BagConfig from_flags(const FlagValues& v);
};

class BagModel : public Model {
 public:
  explicit BagModel(BagConfig cfg);
  std::string name() const override { return "bag"; }
  void declare(ParamStore& store) override;
  Var loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) override;
  LossTerms loss_terms(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) override;
  Var logits(Graph& g, ParamStore& store, const Tensor& ids) override;
  double flops_per_token(int64_t T) const override;
  int64_t vocab_size() const override { return cfg_.vocab_size; }

  bool has_state() const override { return cfg_.carry; }
  void reset_state() override { carry_.clear(); }
  std::vector<StateTensor> save_state() const override;
  void load_state(const std::vector<StateTensor>& state) override;

 private:
  struct Forward {
    Var logits;  // (B, T, V)
    Var bag;     // (B, T, C)
  };
  Forward forward(Graph& g, ParamStore& store, const Tensor& ids, const int64_t* streams);
  Var averaging(Graph& g, DType dt, int64_t T);  // A (T, T), cached per length and dtype
  void update_carry(const Tensor& bag, const int64_t* streams);

  BagConfig cfg_;
  int emb_ = -1, fc_w_ = -1, fc_b_ = -1, proj_w_ = -1, head_w_ = -1, head_b_ = -1;
  OwnedTensor avg_;  // (T, T) for the last (T, dtype) seen
  std::map<int64_t, std::vector<double>> carry_;  // stream id -> last bag vector (C)
};

}  // namespace weft::models
