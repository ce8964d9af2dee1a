// Expert parallelism (issue 13): world = E x D ranks.
//   expert group  the E consecutive ranks with the same rank / E: together they hold every expert of each
//                 MoE module (rank r holds shard r % E) and exchange tokens with all-to-all-v;
//   replicas      the D ranks with the same rank % E: the data-parallel group of one expert shard, over
//                 which its gradients are summed (dense gradients are summed over the whole world).
// Data stays sharded over the whole world: all E x D ranks read different samples.
// This file holds the layout (validated up front), the two sub-communicators, the models::ExpertExchange a
// model sends its token rows through, and the ParallelContext handed to Model::set_parallel before declare().
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "models/parallel_context.h"
#include "parallel/comm.h"

namespace weft::par {

struct ExpertLayout {
  int world = 1, rank = 0, expert_parallel = 1;  // E = expert_parallel
  int data_parallel() const { return world / expert_parallel; }  // D
  int shard() const { return rank % expert_parallel; }           // rank within the expert group
  int group() const { return rank / expert_parallel; }           // which expert group (replica index)
};

// The layout of `rank` in `world` for --expert-parallel E, checked against the model's experts per MoE
// module (0: a model without experts). Throws weft::Error naming --expert-parallel when E < 1, E does not
// divide the world, or E does not divide n_experts (or E > 1 for a model without experts).
ExpertLayout make_expert_layout(int world, int rank, int expert_parallel, int64_t n_experts,
                                const std::string& model_name);

// `total` rows (experts) split evenly over E shards: shard s holds [begin, begin + count).
struct RowRange {
  int64_t begin = 0, count = 0;
};
RowRange shard_rows(int64_t total, int expert_parallel, int shard);

struct ExpertComms {
  std::unique_ptr<Communicator> group;     // the E ranks of this rank's expert group; rank() == shard()
  std::unique_ptr<Communicator> replicas;  // the D ranks holding the same shard; rank() == group()
};
// Collective over `world` (two splits). Works on any communicator kind (MPI for host buffers, NCCL for
// device buffers); with E = 1 both are still made (group of one rank, replicas = the world's ranks).
ExpertComms split_expert_comms(Communicator& world, const ExpertLayout& layout);

// models::ExpertExchange over an expert-group communicator (buffers on that communicator's device). It
// counts the elements it sends to other ranks, for `weft bench`'s all-to-all bytes per step.
class CommExpertExchange final : public models::ExpertExchange {
 public:
  explicit CommExpertExchange(Communicator& group) : group_(group) {}
  int rank() const override { return group_.rank(); }
  int size() const override { return group_.size(); }
  void all_to_all_v(const void* send, const int64_t* send_counts, const int64_t* send_displs, void* recv,
                    const int64_t* recv_counts, const int64_t* recv_displs, DType dt) override;
  int64_t bytes_sent() const { return bytes_sent_; }  // to other ranks, since construction or reset
  void reset_bytes() { bytes_sent_ = 0; }

 private:
  Communicator& group_;
  int64_t bytes_sent_ = 0;
};

// The context for Model::set_parallel: the data-parallel position is the world's (every rank reads its
// own data), the exchange is null when E = 1 (every expert is local).
models::ParallelContext make_parallel_context(const ExpertLayout& layout, models::ExpertExchange* exchange);

}  // namespace weft::par
