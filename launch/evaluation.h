// The one evaluation loop (weft eval and the trainer's periodic validation): windows of a data split in
// file order (with --pack padded: its documents, one per window), dealt to ranks in batches, scored by the
// model's logits in evaluation mode, per-token losses of the targets that count (not ignore_index) summed
// in fp64 on the host, sums and counts all-reduced in fp64. The mean depends neither on --batch-size nor on
// the rank count beyond fp64 rounding of the final sums.
// evaluate_segments (--pack segments): --batch-size evaluation streams walk their regions of the split
// (data/segments.h) segment after segment through Model::stream_logits, so a model with memory carries it
// across a stream's segments; streams are dealt to ranks round-robin.
// Accuracy (EvalRequest::accuracy, for data with a loss mask such as the sorting task): the argmax of the
// logits against each counted target, and per answer (a maximal run of consecutive counted targets of one
// row, or of one stream across its segments) whether every token of it is right.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "data/loader.h"
#include "data/segments.h"
#include "models/model.h"
#include "parallel/comm.h"
#include "runtime/arena.h"
#include "runtime/graph.h"
#include "runtime/memory.h"

namespace weft::launch {

struct EvalTotals {
  double loss_sum = 0.0;  // summed token NLL (nats)
  int64_t tokens = 0;  // targets that counted (padded: not the pads)
  double mean() const { return tokens > 0 ? loss_sum / static_cast<double>(tokens) : 0.0; }
  // EvalRequest::accuracy: counted targets predicted exactly by argmax; answers (runs of counted targets) and
  // those predicted entirely right.
  int64_t correct = 0, sequences = 0, exact_sequences = 0;
  double accuracy() const { return tokens > 0 ? static_cast<double>(correct) / static_cast<double>(tokens) : 0.0; }
  double sequence_accuracy() const {
    return sequences > 0 ? static_cast<double>(exact_sequences) / static_cast<double>(sequences) : 0.0;
  }
};

struct EvalRequest {
  int64_t windows = 0;     // score windows (padded: documents) [0, windows) of the loader, clamped to windows()
  int64_t batch_size = 8;  // windows per forward pass on each rank (segments: the loader's streams)
  bool accuracy = false;   // also count argmax hits and exact answers (copies the logits to the host)
};

// The per-token losses (ops::token_losses) of logits (.., V) = N rows against targets (N), on the host widened
// to fp64 into out[0, N) (0 where a target is kIgnoreIndex). floats: host scratch for f32 losses.
void host_token_losses(Graph& g, Exec& ex, Var logits, const Tensor& targets, int64_t N, std::vector<float>& floats,
                       double* out);

// Rows [0, n) of a forward's host inputs and targets (in, tg: (rows, T) i32) as the tensors the model reads on
// `dev`: the host tensors themselves on the CPU; on a GPU, copies into din, dtg (the same shapes on the device).
std::pair<Tensor, Tensor> batch_rows_on(Device dev, const OwnedTensor& in, const OwnedTensor& tg, OwnedTensor& din,
                                        OwnedTensor& dtg, int64_t n);

// Collective over `comm` (every rank calls it). The model runs on `params` with ex; scratch comes from
// `arena` (reset after every batch). Throws naming the length when the model cannot run at the loader's
// window length (Model::max_seq_len).
EvalTotals evaluate_windows(models::Model& model, ParamStore& params, Exec& ex, Arena& arena,
                            const data::WindowLoader& loader, const EvalRequest& request, par::Communicator& comm);
// --pack segments: every stream of `loader` (its streams() must equal request.batch_size) scores its segments
// 0, 1, ... of one pass, at most ceil(request.windows / batch_size) each (all of them when that is larger),
// under stream id models::kEvalStreamBase + s. Collective over `comm`.
EvalTotals evaluate_segments(models::Model& model, ParamStore& params, Exec& ex, Arena& arena,
                             const data::SegmentLoader& loader, const EvalRequest& request, par::Communicator& comm);

}  // namespace weft::launch
