// The one evaluation loop (weft eval and the trainer's periodic validation): windows of a data split in
// file order (with --pack padded: its documents, one per window), dealt to ranks in batches, scored by the
// model's logits in evaluation mode, per-token losses of the targets that count (not ignore_index) summed
// in fp64 on the host, sums and counts all-reduced in fp64. The mean depends neither on --batch-size nor on
// the rank count beyond fp64 rounding of the final sums.
#pragma once

#include <cstdint>
#include <functional>

#include "data/loader.h"
#include "models/model.h"
#include "parallel/comm.h"
#include "runtime/arena.h"
#include "runtime/memory.h"

namespace weft::launch {

struct EvalTotals {
  double loss_sum = 0.0;  // summed token NLL (nats)
  int64_t tokens = 0;  // targets that counted (padded: not the pads)
  double mean() const { return tokens > 0 ? loss_sum / static_cast<double>(tokens) : 0.0; }
};

struct EvalRequest {
  int64_t windows = 0;     // score windows (padded: documents) [0, windows) of the loader, clamped to windows()
  int64_t batch_size = 8;  // windows per forward pass on each rank
};

// Collective over `comm` (every rank calls it). The model runs on `params` with ex; scratch comes from
// `arena` (reset after every batch). Throws naming the length when the model cannot run at the loader's
// window length (Model::max_seq_len).
EvalTotals evaluate_windows(models::Model& model, ParamStore& params, Exec& ex, Arena& arena,
                            const data::WindowLoader& loader, const EvalRequest& request, par::Communicator& comm);

}  // namespace weft::launch
