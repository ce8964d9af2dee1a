// MoEUT (spec ../shared/specs/moeut.md part A): a shared-layer (universal) transformer whose attention
// and feed-forward layers are mixtures of experts.
//   x = E[ids]                                        (B, T, d), no scaling, no position embedding
//   for r in 0..R-1, g in 0..G-1 (R = L / G, ABAB):   x = layer_g(x)
//   logits = LN_f(x) W_out^T + b_out                  untied head with bias
// layer_g (peri-LN, A.4): x_hat = LN1(x); x += SwitchHead(q, k, selections from x_hat; V from x)
//                                         x += sigmaMoE(experts read x; selector reads LN2(x))
// (--norm-layout pre: V and the experts read the normalised input instead.)
// SwitchHead (A.2): dense Q, K scaled by dh^(-1/4), RoPE on the even-rounded half of dh (A.3), softmax with
// scale 1; V and O are per-head expert projections picked by top-K_A of sigmoid selections (raw gates);
// N_A = 1: dense V and O with a sigmoid output gate per head. sigma-MoE (A.1): top-K of sigmoid(LN2(x) W_S^T),
// y = sum_k g_k ReLU(x W1[e_k]) W2[e_k], sort-based dispatch (ops::grouped_matmul), no capacity limit.
// Objective: mean CE + gamma * sum_g L_ffn(g) + delta * sum_g L_att(g) (A.5: entropy of each sequence's
// time- and repeat-pooled selection distribution, log-softmax based), reported as aux term "reg".
// Expert parallelism (issue 13): with an ExpertExchange in the ParallelContext, each rank holds experts
// [r * N_E / E, (r + 1) * N_E / E) of every sigma-MoE module and token rows travel to their owners and back
// (models/common/expert_exchange.h). SwitchHead's attention experts stay replicated (they are small:
// H * N_A matrices of d x dh per layer). Taps: embed, blocks.<i>.att, blocks.<i>.ffn, blocks.<i>.out for
// the applied layer index i = r * G + g.
#pragma once

#include <string>
#include <vector>

#include "models/flags.h"
#include "models/model.h"

namespace weft::models {

struct MoeutConfig {
  int64_t vocab_size = 257;   // --vocab-size
  int64_t seq_len = 256;      // --seq-len (RoPE: any length works; kept for presets and FLOPs)
  int64_t d_model = 128;      // --d-model (d)
  int64_t n_layers = 4;       // --n-layers (L, total depth)
  int64_t n_groups = 2;       // --n-groups (G unique layers, repeated L / G times)
  int64_t n_heads = 4;        // --n-heads (H)
  int64_t head_dim = 32;      // --head-dim (dh)
  int64_t n_experts = 16;     // --n-experts (N_E)
  int64_t expert_size = 128;  // --expert-size (es)
  int64_t top_k = 4;          // --top-k (K)
  int64_t att_experts = 4;    // --att-experts (N_A)
  int64_t att_top_k = 2;      // --att-top-k (K_A)
  bool peri = true;           // --norm-layout peri|pre
  double entropy_reg = 0.01;       // --entropy-reg (gamma)
  double att_entropy_reg = 0.001;  // --att-entropy-reg (delta)

  int64_t repeats() const { return n_layers / n_groups; }
  int64_t rope_channels() const;  // int(0.5 * dh), rounded down to even (A.3)
  int64_t param_count() const;    // the logical model (all experts), A.7's formula
  double macs_per_token(int64_t T) const;  // A.7: the paper's own count, x L
  void validate() const;                   // errors name the flag
  static std::vector<Flag> flags();
  static MoeutConfig from_flags(const FlagValues& v);
};

class Moeut : public Model {
 public:
  explicit Moeut(MoeutConfig cfg);
  std::string name() const override { return "moeut"; }
  void declare(ParamStore& store) override;
  Var loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) override;
  LossTerms loss_terms(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) override;
  Var logits(Graph& g, ParamStore& store, const Tensor& ids) override;
  double flops_per_token(int64_t T) const override;  // 6 x A.7's MACs (fwd + bwd, 2 FLOPs per MAC)
  double macs_per_token(int64_t T) const override { return cfg_.macs_per_token(T); }  // A.7, no LM head
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t n_experts() const override { return cfg_.n_experts; }
  Var blocks_from_embeddings(Graph& g, ParamStore& store, Var x) override;
  Tensor token_embeddings(const ParamStore& store) const override;
  const MoeutConfig& config() const { return cfg_; }

  // The selection logits of one applied layer, for the regulariser (A.5).
  struct Selections {
    Var ffn;        // (B, T, N_E)
    Var att_v, att_o;  // (B, T, H, N_A), null when N_A = 1
  };

 private:
  struct Norm {
    int w = -1, b = -1;
  };
  struct Layer {
    Norm ln1, ln2;
    int q = -1, k = -1;          // (H * dh, d)
    int v = -1, o = -1;          // N_A > 1: (H * N_A, d, dh), (H * N_A, dh, d); N_A = 1: (H * dh, d), (d, H * dh)
    int sel_v = -1, sel_o = -1;  // (H * N_A, d) (sel_v absent when N_A = 1; sel_o is then (H, d))
    int keys = -1, values = -1, expert_sel = -1;  // (N_E_local, d, es), (N_E_local, es, d), (N_E, d)
  };

  // Every applied layer from x (B, T, d); fills sel[g] with each unique layer's selections per repeat.
  Var run_layers(Graph& g, ParamStore& store, Var x, std::vector<std::vector<Selections>>* sel);
  Var attention(Graph& g, ParamStore& store, const Layer& l, Var x, Var x_hat, Selections& s);  // (B, T, d)
  Var sigma_moe(Graph& g, ParamStore& store, const Layer& l, Var x, Var sel_in, Selections& s);  // (B, T, d)
  // The experts of one sigma-MoE module applied to rows x (N, d) for the choices idx (N, K): (N * K, d),
  // row n * K + k = ReLU(x[n] W1[idx[n, k]]) W2[idx[n, k]], wherever the experts live.
  Var apply_experts(Graph& g, ParamStore& store, const Layer& l, Var x, const Tensor& idx);
  Var regulariser(Graph& g, const std::vector<std::vector<Selections>>& sel) const;  // (1)
  Var head(Graph& g, ParamStore& store, Var x);  // LN_f, W_out, b_out: (B, T, V)

  MoeutConfig cfg_;
  int64_t local_experts_ = 0, first_expert_ = 0;  // this rank's slice of every sigma-MoE module
  int tok_emb_ = -1, lm_head_w_ = -1, lm_head_b_ = -1;
  Norm ln_f_;
  std::vector<Layer> layers_;  // G unique layers
};

}  // namespace weft::models
