// weft eval --lengths: the length-extrapolation evaluator (spec E.2, B.3, C.3). For each length L, the
// split's windows of L tokens (data/strided_windows.h: nonoverlap, or sliding with stride S) are scored by
// the model's logits; per length: total NLL, scored tokens, perplexity, and the mean NLL per position within
// the window (the early-token curse). Windows are dealt to ranks in batches; each round's per-token losses
// are summed over ranks (exactly one rank contributes each value) and every rank then adds them up in window
// order in fp64, so the result is bit-identical for any rank count and --batch-size. Rank 0 prints one JSON
// line per length on stdout and a table on stderr. A length the model cannot run (Model::max_seq_len), or
// that no window of the split fits, gets an error line and the other lengths still run.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/shard.h"
#include "models/model.h"
#include "parallel/comm.h"
#include "runtime/exec.h"
#include "runtime/param_store.h"

namespace weft::launch {

enum class WindowMode { nonoverlap, sliding };

struct LengthEvalRequest {
  std::vector<int64_t> lengths;  // window lengths L, in the order given
  WindowMode mode = WindowMode::nonoverlap;
  int64_t stride = 0;         // sliding: S for every length; 0: L / 2 per length (at least 1)
  int64_t batch_size = 8;     // windows per forward pass on each rank
  int64_t batches = 0;        // at most batches * batch_size windows per length, over all ranks; 0: all
  std::string positions_out;  // a JSONL file: the full per-position mean NLL per length (rank 0 writes); "" none
};

// "128,256,512": distinct positive integers separated by commas (weft eval --lengths, weft analyze
// receptive-field --lengths). UsageError naming --lengths otherwise.
std::vector<int64_t> parse_lengths(const std::string& text);
// "nonoverlap" | "sliding"; UsageError naming --mode otherwise.
WindowMode parse_window_mode(const std::string& text);
// The stride a length is evaluated with: L (nonoverlap), the request's stride, or L / 2.
int64_t stride_for(const LengthEvalRequest& request, int64_t length);
// Bin edges of the per-position summary: 0, 1, 2, 4, ..., then L (bins [e_i, e_i+1)).
std::vector<int64_t> position_bin_edges(int64_t length);

// Collective over `comm`. Validates the request (UsageError naming --stride, --batch-size, --positions-out),
// scores every length, prints on rank 0. Returns 0 if at least one length ran, 2 if none did.
int evaluate_lengths(models::Model& model, ParamStore& params, Exec& ex,
                     const std::vector<std::shared_ptr<const data::Shard>>& shards,
                     const std::vector<std::shared_ptr<const data::Shard>>& masks, const std::string& split,
                     const LengthEvalRequest& request, par::Communicator& comm);

}  // namespace weft::launch
