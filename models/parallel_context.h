// What a model may know of the parallel layout, and the one door through which an expert-parallel model
// exchanges tokens with the ranks that hold its experts. Models never include MPI or NCCL: parallel/
// implements ExpertExchange over a Communicator and the trainer hands it in. Today every model runs with
// the default (one expert group of one rank, no exchange); MoEUT's expert parallelism plugs in here.
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace weft::models {

class ExpertExchange {
 public:
  virtual ~ExpertExchange() = default;
  virtual int rank() const = 0;  // within the expert-parallel group
  virtual int size() const = 0;
  // Variable all-to-all over the expert group (element counts and displacements per rank, of dtype dt;
  // buffers on the model's device). Collective: every rank of the group calls it in the same order.
  virtual void all_to_all_v(const void* send, const int64_t* send_counts, const int64_t* send_displs, void* recv,
                            const int64_t* recv_counts, const int64_t* recv_displs, DType dt) = 0;
};

struct ParallelContext {
  int data_rank = 0, data_world = 1;  // data-parallel position (for per-rank choices such as logging)
  ExpertExchange* experts = nullptr;  // null: every expert is local
  int expert_rank() const { return experts ? experts->rank() : 0; }
  int expert_world() const { return experts ? experts->size() : 1; }
};

}  // namespace weft::models
