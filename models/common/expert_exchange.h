// Token rows to and from the ranks that own their experts (expert parallelism, issue 13), written against
// models::ExpertExchange (models/parallel_context.h) so models never see MPI or NCCL.
//   exchange_counts  per-rank row counts: what every rank of the expert group sends to this one
//   exchange_rows    differentiable all-to-all of (M, C) rows; the backward sends gradients back
//   exchange_values  the same routing for plain tensors (expert ids, gates, positions): no gradient
// Rows for rank r are contiguous and in rank order on both sides: x's first send_rows[0] rows go to rank 0,
// the next send_rows[1] to rank 1, ...; the result holds the recv_rows[0] rows from rank 0 first, then rank
// 1's, ... (a rank's rows keep their order). ex == nullptr or a group of one rank: the identity.
// Collective: every rank of the expert group calls each of these in the same order (the backward of
// exchange_rows runs in tape order, which is the same on every rank of a model).
#pragma once

#include <cstdint>
#include <vector>

#include "models/parallel_context.h"
#include "runtime/graph.h"

namespace weft::models {

// recv[r] = send_rows[r] of rank r for this rank (an all-to-all of one i64 per rank, staged on g's device).
// send_rows has ex->size() entries; ex == nullptr: returns send_rows.
std::vector<int64_t> exchange_counts(Graph& g, ExpertExchange* ex, const std::vector<int64_t>& send_rows);

// y (sum(recv_rows), C) from x (M = sum(send_rows), C), any dtype; recv_rows from exchange_counts.
// Backward: dy's rows go back to the ranks they came from and accumulate (+=) into dx.
Var exchange_rows(Graph& g, Var x, ExpertExchange* ex, const std::vector<int64_t>& send_rows,
                  const std::vector<int64_t>& recv_rows);

// The same routing for a tensor without gradient (i32 expert ids, f32 gates, ...): x (M, ...) rows of
// x.numel() / M elements; the result (sum(recv_rows), ...) lives in g's arena. ex == nullptr: x itself.
Tensor exchange_values(Graph& g, const Tensor& x, ExpertExchange* ex, const std::vector<int64_t>& send_rows,
                       const std::vector<int64_t>& recv_rows);

}  // namespace weft::models
