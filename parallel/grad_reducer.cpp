// Replicated and Zero1 gradient reducers.
#include "parallel/grad_reducer.h"

#include <cmath>
#include <cstring>

#include "runtime/kernels.h"
#include "runtime/optim/grad_clip.h"

namespace weft::par {

namespace {

class Replicated : public GradReducer {
 public:
  Replicated(ParamStore& master, Communicator& grad_comm, int64_t bucket_bytes, RangeFn fold) : total_(master.total()) {
    if (grad_comm.size() > 1) sync_ = std::make_unique<GradSync>(master, grad_comm, bucket_bytes, std::move(fold));
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
    return optim::global_grad_norm(ex, master);
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

std::unique_ptr<GradReducer> make_grad_reducer(int zero, ParamStore& master, Communicator& grad_comm,
                                               Communicator& host_comm, int64_t bucket_bytes,
                                               GradReducer::RangeFn fold) {
  if (zero == 1) return std::make_unique<Zero1>(master, grad_comm, host_comm);
  WEFT_CHECK(zero == 0, "--zero must be 0 or 1, got ", zero);
  return std::make_unique<Replicated>(master, grad_comm, bucket_bytes, std::move(fold));
}

}  // namespace weft::par
