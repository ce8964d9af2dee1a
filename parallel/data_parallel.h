// Bucketed gradient all-reduce for data parallelism. The flat gradient buffer of the ParamStore is cut
// into buckets of about `bucket_bytes` along parameter boundaries; during the last micro-batch's
// backward, a bucket's non-blocking all-reduce starts as soon as every parameter in it is final (the
// Graph's gradient-ready tracking), so communication overlaps the rest of the backward. finish() waits.
// An optional before_reduce(begin, end) runs on a bucket's flat range just before its all-reduce starts
// (mixed precision folds the bf16 gradients of the range into the fp32 ones there).
// Expert parallelism: given expert_comm, a bucket never mixes parameter groups, and the buckets of
// ParamGroup::expert parameters are summed over expert_comm (the replicas of this rank's expert shard)
// instead of comm (the whole world); a bucket whose communicator has one rank is only folded.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "parallel/comm.h"
#include "runtime/graph.h"
#include "runtime/param_store.h"

namespace weft::par {

class GradSync {
 public:
  using RangeFn = std::function<void(int64_t begin, int64_t end)>;
  GradSync(ParamStore& store, Communicator& comm, int64_t bucket_bytes, RangeFn before_reduce = {},
           Communicator* expert_comm = nullptr);
  // Arms the hook on g for this backward (call after the forward, before g.backward).
  void attach(Graph& g);
  // Starts the buckets not started yet and waits for all of them.
  void finish();
  int buckets() const { return static_cast<int>(buckets_.size()); }

 private:
  struct Bucket {
    int64_t begin, end;       // flat element range
    std::vector<int> params;  // parameter ids in it
    size_t ready_below = 0;   // the bucket is final once the backward has run position <= this
    int handle = -1;          // -1: not started; kNothing: started, nothing to wait for
    Communicator* comm = nullptr;
  };
  static constexpr int kNothing = -2;
  static void on_position(void* self, size_t position);
  void start(Bucket& b);

  ParamStore& store_;
  Communicator& comm_;
  RangeFn before_reduce_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> param_position_;  // [param id] tape position where it entered (SIZE_MAX: unused)
};

}  // namespace weft::par
