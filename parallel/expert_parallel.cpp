// Expert-parallel layout, sub-communicators and the ExpertExchange over a Communicator.
#include "parallel/expert_parallel.h"

#include "runtime/check.h"

namespace weft::par {

ExpertLayout make_expert_layout(int world, int rank, int expert_parallel, int64_t n_experts,
                                const std::string& model_name) {
  const int E = expert_parallel;
  WEFT_CHECK(E >= 1, "--expert-parallel must be >= 1, got ", E);
  WEFT_CHECK(world % E == 0, "--expert-parallel ", E, " does not divide the world size ", world,
             " (the ranks form E x D: start a multiple of ", E, " ranks)");
  if (E > 1) {
    WEFT_CHECK(n_experts > 0, "--expert-parallel ", E, ": model '", model_name,
               "' has no experts (only an MoE model can split its experts over ranks; use 1)");
    WEFT_CHECK(n_experts % E == 0, "--expert-parallel ", E, " does not divide the ", n_experts,
               " experts per MoE module of model '", model_name, "'");
  }
  WEFT_CHECK(rank >= 0 && rank < world, "[expert parallel] rank ", rank, " outside a world of ", world);
  return ExpertLayout{world, rank, E};
}

RowRange shard_rows(int64_t total, int expert_parallel, int shard) {
  WEFT_CHECK(expert_parallel >= 1 && total % expert_parallel == 0, "[expert parallel] ", total,
             " rows do not split evenly over ", expert_parallel, " shards");
  const int64_t n = total / expert_parallel;
  return RowRange{shard * n, n};
}

ExpertComms split_expert_comms(Communicator& world, const ExpertLayout& layout) {
  WEFT_CHECK(world.size() == layout.world && world.rank() == layout.rank, "[expert parallel] layout of rank ",
             layout.rank, " in ", layout.world, " used with a communicator of rank ", world.rank(), " in ",
             world.size());
  ExpertComms c;
  c.group = world.split(layout.group(), layout.rank);     // ordered by world rank: rank() == shard()
  c.replicas = world.split(layout.shard(), layout.rank);  // ordered by world rank: rank() == group()
  return c;
}

void CommExpertExchange::all_to_all_v(const void* send, const int64_t* send_counts, const int64_t* send_displs,
                                      void* recv, const int64_t* recv_counts, const int64_t* recv_displs, DType dt) {
  group_.all_to_all_v(send, send_counts, send_displs, recv, recv_counts, recv_displs, dt);
  for (int r = 0; r < group_.size(); ++r)
    if (r != group_.rank()) bytes_sent_ += send_counts[r] * static_cast<int64_t>(dtype_size(dt));
}

models::ParallelContext make_parallel_context(const ExpertLayout& layout, models::ExpertExchange* exchange) {
  models::ParallelContext ctx;
  ctx.data_rank = layout.rank;
  ctx.data_world = layout.world;
  ctx.experts = layout.expert_parallel > 1 ? exchange : nullptr;
  return ctx;
}

}  // namespace weft::par
