// Empirical receptive field (spec positions-alibi-sandwich.md C.4, issue 15): how far back the loss at the
// last position of a window reaches. For each window length L and each of S windows of L + 1 tokens of the
// val stream (inputs t_0 .. t_{L-1}, the target of the last position t_L):
//   g_j = || d NLL(t_L | t_0..t_{L-1}) / d x_j ||_2      j = 0..L-1, x = the "embed" tap (B, L, C): the input of
//                                                         the first layer (token embedding, plus the learned
//                                                         or sinusoidal positions where the family adds them)
//   g^_j = g_j / sum_j g_j                                per window, THEN averaged over the S windows
//   C(k) = sum_{j >= L - k} g^_j                          k = 1..L
//   receptive field = the smallest k with C(k) >= threshold (L when rounding keeps C(L) just below it)
// Windows are independent (no family mixes batch rows; evaluation mode, no state), so a window's g^ does not
// depend on which rank or batch computed it beyond the GEMM shapes (the command fixes the batches globally).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/shard.h"
#include "models/model.h"
#include "runtime/exec.h"
#include "runtime/param_store.h"

namespace weft::launch {

// S non-overlapping windows of L + 1 tokens of the concatenated val split (its shards in order): window w
// starts at token w (L + 1); the S windows are the first S of a Fisher-Yates shuffle of all of them drawn
// from Philox(seed, stream 0). Fewer windows than S exist: all of them, shuffled.
struct ValWindows {
  int64_t length = 0;             // L (each window holds L + 1 tokens)
  std::vector<int64_t> starts;    // (S) first token of each window in the val stream
  std::vector<int32_t> ids;       // (S, L + 1)
  int64_t count() const { return static_cast<int64_t>(starts.size()); }
};
ValWindows draw_val_windows(const std::vector<std::shared_ptr<const data::Shard>>& shards, int64_t L, int64_t S,
                            uint64_t seed);

// Per-window normalised gradient norms g^ (B, L) for windows (B, L + 1), from one forward (Model::logits in
// evaluation mode, the "embed" tap captured) and one backward of the summed last-position NLLs. The store's
// parameter gradients the backward accumulates are zeroed again. Throws weft::Error naming the model when it
// offers no "embed" tap or a window's gradient is zero everywhere.
std::vector<double> last_position_gradient_profile(models::Model& model, ParamStore& store, Exec& ex,
                                                   const std::vector<int32_t>& windows, int64_t B, int64_t L);

struct ReceptiveCurve {
  std::vector<double> g_hat;       // (L) mean over windows of g^_j, j = 0..L-1
  std::vector<double> cumulative;  // (L) cumulative[k - 1] = C(k)
  int64_t receptive_field = 0;     // smallest k with C(k) >= threshold
};
// From the per-window g^ (S, L), summed in window order.
ReceptiveCurve receptive_curve(const std::vector<double>& per_window, int64_t S, int64_t L, double threshold);

// `weft analyze receptive-field` (launch/cmd_analyze.cpp dispatches to it).
int analyze_receptive_field(const std::vector<std::string>& args);

}  // namespace weft::launch
