// The token-norms diagnostics file (`weft analyze norms --out FILE.h5`, and RUN/norms.h5 of
// `weft train --log-norms-every N`), its held-out batch and its JSON summary line. Layout (docs/analysis.md):
//   /eval_ids (B, T + 1) i32          the fixed held-out batch (val split windows, Philox seed)
//   /token_count (V) i64              training-split frequency of each token id
//   root attributes                   model, seq_len, batch_size, seed
//   /diag/step_<s>/emb_row_norm (V), unemb_row_norm (V) or emb_row_norm's attribute unemb = "tied",
//       h_norm_pos/layer_<l> (T, 4) l = 0..N, h_norm_pos/final (T, 4), h_norm_tok (V, 2), h_norm_next_tok (V, 2),
//       update_norm (N), grad_h_norm (N + 1), attn_entropy/layer_<l> (H, T), mix_row_l1/layer_<l> (M, T), loss
//   Spearman rho against log frequency: attribute spearman_log_freq of h_norm_tok, h_norm_next_tok,
//   emb_row_norm and unemb_row_norm.
// Steps are appended; a step already in the file is left as it is (a resumed run does not duplicate it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launch/analyze_norms.h"

namespace weft::launch {

// B windows of T + 1 consecutive tokens of the val split of `dir`, at offsets drawn by Philox `seed`
// (uniform over every window that fits inside one shard). Throws naming `dir` when the split is missing or
// shorter than T + 1 tokens.
NormBatch norm_eval_batch(const std::string& dir, int64_t vocab, int64_t B, int64_t T, uint64_t seed);

// How often each id occurs in the train split of `dir` (V).
std::vector<int64_t> token_counts(const std::string& dir, int64_t vocab);

struct NormsFileHeader {
  std::string model;
  uint64_t seed = 1;
  const NormBatch* batch = nullptr;
  const std::vector<int64_t>* token_count = nullptr;
};

// Creates `path` (truncate = true) or opens it to append, writing the header when it has none. An existing
// file's /eval_ids must equal the batch's (errors name the file).
void open_norms_file(const std::string& path, const NormsFileHeader& header, bool truncate);
bool norms_file_has_step(const std::string& path, int64_t step);
void write_norms_step(const std::string& path, int64_t step, const NormDiagnostics& d);
// The steps recorded in a file, ascending.
std::vector<int64_t> norms_file_steps(const std::string& path);

// {"step", "loss", "mean_final_norm", "mean_emb_norm", "rho_h_tok", ...}: one line per measured step.
std::string norms_json_line(int64_t step, const NormDiagnostics& d, const std::string& model);

}  // namespace weft::launch
