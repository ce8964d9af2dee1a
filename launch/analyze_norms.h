// Token-representation norms (spec ../shared/specs/token-norms.md D.3, issue 15): what a model's forward and
// backward on a fixed held-out batch say about the norms of its token representations, measured so that the
// direction of any effect (vs position, token frequency, layer, training time) can be read off, not presumed.
// measure_norms runs one forward (taps "embed", "blocks.*", "final") and one backward of the batch's mean
// next-token loss, then reduces on the host in float64:
//   h^(0) = the "embed" tap, h^(l) = "blocks.<l-1>.out" (l = 1..N), and "final" (after the final norm) where
//   the family has it; h_norm_pos per layer and position t: mean, p10, p50, p90 of ||h_t|| over the batch;
//   h_norm_tok / h_norm_next_tok: mean ||h^(N)_t|| and count by the token at t / the token at t + 1;
//   update_norm: mean ||token-mixing sub-block output|| (taps .attn/.att/.mix/.bag summed; else h^(l) - h^(l-1));
//   grad_h_norm: mean ||d loss / d h^(l)_t||; attn_entropy (H, T) from the q/k taps and the model's position
//   bias; mix_row_l1 (M, T): sum_{j<=i} |W[i, j]| of each causal mixing matrix (Init::tril parameters).
// The parameter gradients the backward accumulates are discarded (the store's gradients are zeroed), so
// the trainer can measure between steps. An expert-parallel model runs its exchange: every rank calls it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"
#include "runtime/arena.h"
#include "runtime/exec.h"
#include "runtime/param_store.h"

namespace weft::launch {

// The fixed held-out batch: B windows of T + 1 tokens (inputs = the first T, targets = the last T).
struct NormBatch {
  int64_t B = 0, T = 0;
  std::vector<int32_t> ids;  // (B, T + 1)
};

// The model's additive attention bias on the host (the transformer's alibi / sandwich; none otherwise) and
// its attention window (transformer, hybrid), the same function as runtime/math/position_bias.h evaluates in
// the attention kernel.
struct HostAttentionBias {
  enum class Kind { none, alibi, table } kind = Kind::none;
  std::vector<double> slopes;  // (NH)
  std::vector<double> table;   // indexed by |i - j| (clamped to the last entry)
  int64_t window = 0;          // > 0: keys j with i - j >= window are masked (--attention-window)
  int64_t first_key(int64_t i) const { return window > 0 && i >= window ? i - window + 1 : 0; }
  double operator()(int64_t h, int64_t i, int64_t j) const;
};
// From the checkpoint's configuration ([model] position, n-heads, sandwich-dim, attention-window) for
// sequences of T tokens.
HostAttentionBias attention_bias_of(const std::string& model_name, const std::string& config_ini, int64_t T);

struct NormDiagnostics {
  int64_t V = 0, T = 0, N = 0;               // vocabulary, positions, blocks
  std::vector<double> emb_row_norm;          // (V)
  std::vector<double> unemb_row_norm;        // (V); empty: tied to the embedding
  std::vector<std::vector<double>> h_norm_pos;  // [N + 1] (T, 4): mean, p10, p50, p90 of ||h^(l)_t||
  std::vector<double> h_norm_pos_final;      // (T, 4) after the final norm; empty: the family has none
  std::vector<double> h_norm_tok, h_norm_next_tok;  // (V, 2): mean ||h^(N)||, count
  std::vector<double> update_norm;           // (N)
  std::string update_source;                 // which taps made update_norm
  std::vector<double> grad_h_norm;           // (N + 1)
  int64_t heads = 0;                         // attention heads (0: no q/k taps)
  std::vector<std::vector<double>> attn_entropy;  // [N] (heads, T), nats
  int64_t mix_mats = 0;                      // causal mixing matrices per layer (0: none)
  std::vector<std::vector<double>> mix_row_l1;    // [N] (mix_mats, T)
  double loss = 0.0;                         // the batch's mean next-token loss
  // Summaries: mean ||h^(N)|| over the batch; Spearman rho against log training frequency (NaN when
  // undefined: no token counts, or a constant side).
  double mean_final_norm = 0.0, mean_emb_norm = 0.0;
  double rho_h_tok = 0.0, rho_h_next_tok = 0.0, rho_emb = 0.0, rho_unemb = 0.0;
};

// token_count (V): training-split frequency (empty: the rho summaries are NaN).
NormDiagnostics measure_norms(models::Model& model, ParamStore& store, Exec& ex, Arena& arena, const NormBatch& batch,
                              const std::vector<int64_t>& token_count, const HostAttentionBias& bias);

// `weft analyze norms` (launch/cmd_analyze_norms.cpp).
int analyze_norms(const std::vector<std::string>& args);

// Spearman rank correlation of x and y (ties get their average rank); NaN when n < 2 or a side is constant.
double spearman(const std::vector<double>& x, const std::vector<double>& y);
// p in [0, 1] of sorted values, linear interpolation between closest ranks (numpy's default).
double percentile_sorted(const std::vector<double>& sorted, double p);

}  // namespace weft::launch
