// Replicated and Zero1 gradient reducers.
#include "parallel/grad_reducer.h"

#include <cmath>
#include <cstring>

#include "runtime/kernels.h"
#include "runtime/optim/grad_clip.h"

namespace weft::par {

namespace {

bool has_experts(const ParamStore& store) {
  for (int id = 0; id < store.size(); ++id)
    if (store.info(id).group == ParamGroup::expert) return true;
  return false;
}

class Replicated : public GradReducer {
 public:
  Replicated(ParamStore& master, Communicator& grad_comm, int64_t bucket_bytes, RangeFn fold, const ExpertGrads* experts)
      : total_(master.total()) {
    if (experts && experts->replicas && has_experts(master)) experts_ = *experts;
    if (grad_comm.size() > 1)
      sync_ = std::make_unique<GradSync>(master, grad_comm, bucket_bytes, std::move(fold), experts_.replicas);
  }
  std::string name() const override { return "replicated"; }
  int64_t update_begin() const override { return 0; }
  int64_t update_end() const override { return total_; }
  bool attach(Graph& g) override {
    if (!sync_) return false;
    sync_->attach(g);  // buckets fold (bf16) and all-reduce during the backward
    return true;
  }
  double reduce(Exec& ex, ParamStore& master) override {
    if (sync_) sync_->finish();
    if (!experts_.replicas) return optim::global_grad_norm(ex, master);
    // Dense gradients are equal on every rank: counted once. Each rank of the expert group holds another
    // shard of the expert gradients: their squares are summed over the group.
    double expert_ss = group_grad_sum_squares(ex, master, ParamGroup::expert);
    if (experts_.group_host) experts_.group_host->all_reduce(&expert_ss, 1, DType::f64, ReduceOp::sum);
    return std::sqrt(group_grad_sum_squares(ex, master, ParamGroup::dense) + expert_ss);
  }
  void* update_grads(ParamStore& master) override { return master.grads().data; }
  OwnedTensor gather_full(const Tensor& range, int64_t total) override {
    WEFT_CHECK(range.numel() == total, "[Replicated] range of ", range.numel(), " elements, expected ", total);
    OwnedTensor full(range.dtype, {total}, range.device);
    device_copy(range.device, full.tensor().data, range.device, range.data, range.nbytes());
    return full;
  }

 private:
  int64_t total_;
  ExpertGrads experts_;
  std::unique_ptr<GradSync> sync_;
};

class Zero1 : public GradReducer {
 public:
  Zero1(ParamStore& master, Communicator& grad_comm, Communicator& host_comm)
      : grad_comm_(grad_comm), host_comm_(host_comm) {
    const int64_t world = grad_comm.size();
    WEFT_CHECK(master.total() % world == 0, "[Zero1] the flat layout (", master.total(),
               " elements) is not a multiple of the ", world, " ranks (finalize the store with that multiple)");
    const int64_t shard = master.total() / world;
    begin_ = grad_comm.rank() * shard;
    end_ = begin_ + shard;
    shard_grads_ = OwnedTensor(master.dtype(), {shard}, master.device());
  }
  std::string name() const override { return "zero1"; }
  int64_t update_begin() const override { return begin_; }
  int64_t update_end() const override { return end_; }
  double reduce(Exec& ex, ParamStore& master) override {
    const Tensor grads = master.grads(), shard = shard_grads_.tensor();
    grad_comm_.reduce_scatter(grads.data, shard.data, shard.numel(), grads.dtype, ReduceOp::sum);
    double ss = 0.0;  // the global norm from every rank's shard
    WEFT_LAUNCH(ex, sum_squares, ex, shard.dtype, &ss, shard.data, shard.numel());
    host_comm_.all_reduce(&ss, 1, DType::f64, ReduceOp::sum);
    return std::sqrt(ss);
  }
  void* update_grads(ParamStore&) override { return shard_grads_.tensor().data; }
  void after_update(ParamStore& master) override {
    const Tensor values = master.values();
    char* own = static_cast<char*>(values.data) + begin_ * static_cast<int64_t>(dtype_size(values.dtype));
    grad_comm_.all_gather(own, values.data, end_ - begin_, values.dtype);  // in place
  }
  OwnedTensor gather_full(const Tensor& range, int64_t total) override {
    OwnedTensor full(range.dtype, {total}, range.device);
    grad_comm_.all_gather(range.data, full.tensor().data, range.numel(), range.dtype);
    return full;
  }

 private:
  Communicator& grad_comm_;
  Communicator& host_comm_;
  int64_t begin_ = 0, end_ = 0;
  OwnedTensor shard_grads_;  // this rank's reduced gradient shard
};

}  // namespace

double group_grad_sum_squares(Exec& ex, const ParamStore& store, ParamGroup group) {
  const Tensor grads = store.grads();
  const size_t es = dtype_size(grads.dtype);
  double total = 0.0;
  for (int id = 0; id < store.size();) {  // runs of consecutive parameters of the group, padding included
    if (store.info(id).group != group) {
      ++id;
      continue;
    }
    const int64_t begin = store.info(id).offset;
    while (id < store.size() && store.info(id).group == group) ++id;
    const int64_t end = id < store.size() ? store.info(id).offset : store.total();
    double ss = 0.0;
    WEFT_LAUNCH(ex, sum_squares, ex, grads.dtype, &ss, static_cast<const char*>(grads.data) + begin * es, end - begin);
    total += ss;
  }
  return total;
}

std::unique_ptr<GradReducer> make_grad_reducer(int zero, ParamStore& master, Communicator& grad_comm,
                                               Communicator& host_comm, int64_t bucket_bytes,
                                               GradReducer::RangeFn fold, const ExpertGrads* experts) {
  if (zero == 1) {
    WEFT_CHECK(!(experts && experts->replicas && has_experts(master)),
               "--zero 1 with --expert-parallel > 1: ZeRO-1 shards the flat layout over every rank, which would mix "
               "the expert shards of different ranks; use --zero 0 with expert parallelism");
    return std::make_unique<Zero1>(master, grad_comm, host_comm);
  }
  WEFT_CHECK(zero == 0, "--zero must be 0 or 1, got ", zero);
  return std::make_unique<Replicated>(master, grad_comm, bucket_bytes, std::move(fold), experts);
}

}  // namespace weft::par
