// Model state across steps (models::Model::save_state) in a data-parallel run: which global streams a
// rank owns, and the gather of every rank's state to rank 0 for the checkpoint. Streams are positions in
// the global step's batch (micro-batch m, rank r, row b -> (m * world + r) * B + b), the same samples for
// any split into ranks and micro-batches, so a checkpoint's state resumes on any rank count.
#pragma once

#include <cstdint>
#include <vector>

#include "models/model.h"
#include "parallel/comm.h"

namespace weft::launch {

// The stream ids of micro-batch `micro` on `rank` (B rows).
std::vector<int64_t> stream_ids(int64_t micro, int rank, int world, int64_t B);
// Whether this rank owns `stream` (shared state, stream < 0, belongs to rank 0) in a run with the given layout.
bool owns_stream(int64_t stream, int rank, int world, int64_t B, int64_t accum);

// Every rank's owned state concatenated on rank 0 (others get an empty list). Collective over `comm` (host).
std::vector<models::StateTensor> gather_model_state(const std::vector<models::StateTensor>& local,
                                                    par::Communicator& comm);

}  // namespace weft::launch
