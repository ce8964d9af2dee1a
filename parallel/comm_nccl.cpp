// NCCL communicator implementation (compiled with WEFT_CUDA). Collectives run on the communicator's own
// stream so they overlap compute: each call first makes that stream wait for the work already queued
// on the Exec's (compute) stream, then makes the compute stream wait for the collective, so device
// buffers are used in program order without blocking the host. start_all_reduce/wait split the second
// half: wait() only orders the compute stream after that collective (DDP-style overlap with backward).
// Host-side data (loss sums, stop flags) goes through the bootstrap (MPI) communicator instead.
// Hung collectives: the host does not block in NCCL calls, so each collective is numbered and an event
// after it is watched by a probe of the bootstrap's watchdog (parallel/watchdog.h), which names the
// oldest one unfinished past --collective-timeout; its abort hook calls ncclCommAbort before the exit.
#include "parallel/comm_nccl.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "parallel/watchdog.h"
#include "runtime/check.h"

#define NCCL_CHECK(call)                                                                                     \
  do {                                                                                                       \
    ncclResult_t nccl_status_ = (call);                                                                      \
    if (nccl_status_ != ncclSuccess)                                                                         \
      WEFT_FAIL("[nccl] ", #call, " failed at ", __FILE__, ":", __LINE__, ": ", ncclGetErrorString(nccl_status_)); \
  } while (0)

#define CUDA_OK(call)                                                                                   \
  do {                                                                                                  \
    cudaError_t cuda_status_ = (call);                                                                  \
    if (cuda_status_ != cudaSuccess)                                                                    \
      WEFT_FAIL("[nccl] ", #call, " failed at ", __FILE__, ":", __LINE__, ": ", cudaGetErrorString(cuda_status_)); \
  } while (0)

namespace weft::par {

namespace {

ncclDataType_t nccl_type(DType dt) {
  switch (dt) {
    case DType::f32: return ncclFloat32;
    case DType::bf16: return ncclBfloat16;
    case DType::f64: return ncclFloat64;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
  }
  return ncclUint8;
}

ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::sum ? ncclSum : op == ReduceOp::max ? ncclMax : ncclMin; }

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, Communicator& bootstrap, Exec& ex)
      : comm_(comm), bootstrap_(bootstrap), compute_(static_cast<cudaStream_t>(ex.stream)), ex_(ex),
        watchdog_(bootstrap.watchdog()) {
    NCCL_CHECK(ncclCommUserRank(comm_, &rank_));
    NCCL_CHECK(ncclCommCount(comm_, &size_));
    CUDA_OK(cudaGetDevice(&device_));
    CUDA_OK(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking));
    CUDA_OK(cudaEventCreateWithFlags(&queued_, cudaEventDisableTiming));
    label_ = "nccl, " + std::to_string(size_) + " ranks";
    if (watchdog_) {
      probe_id_ = watchdog_->add_probe([this](WatchClock::time_point before) { return oldest_unfinished(before); });
      abort_hook_id_ = watchdog_->add_abort_hook([c = comm_] { ncclCommAbort(c); });
    }
  }
  ~NcclCommunicator() override {
    cudaStreamSynchronize(comm_stream_);  // still watched: a hung collective ends the job here too
    if (watchdog_) {
      watchdog_->remove_probe(probe_id_);
      watchdog_->remove_abort_hook(abort_hook_id_);
    }
    ncclCommDestroy(comm_);
    for (cudaEvent_t e : done_) cudaEventDestroy(e);
    for (const Watched& w : watched_) cudaEventDestroy(w.finished);
    for (cudaEvent_t e : spare_events_) cudaEventDestroy(e);
    cudaEventDestroy(queued_);
    cudaStreamDestroy(comm_stream_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string kind() const override { return "nccl"; }
  Watchdog* watchdog() const override { return watchdog_; }

  void all_reduce(void* data, int64_t n, DType dt, ReduceOp op) override { wait(start_all_reduce(data, n, dt, op)); }
  int start_all_reduce(void* data, int64_t n, DType dt, ReduceOp op) override {
    after_compute();
    NCCL_CHECK(ncclAllReduce(data, data, static_cast<size_t>(n), nccl_type(dt), nccl_op(op), comm_, comm_stream_));
    watch("all_reduce", n * dtype_size(dt));
    return record_done();
  }
  void wait(int handle) override {
    WEFT_CHECK(handle >= 0 && handle < static_cast<int>(done_.size()) && in_flight_[handle], "[nccl] wait on handle ",
               handle, " that is not in flight");
    CUDA_OK(cudaStreamWaitEvent(compute_, done_[handle], 0));
    in_flight_[handle] = false;
  }
  void reduce_scatter(const void* send, void* recv, int64_t n, DType dt, ReduceOp op) override {
    after_compute();
    NCCL_CHECK(ncclReduceScatter(send, recv, static_cast<size_t>(n), nccl_type(dt), nccl_op(op), comm_, comm_stream_));
    watch("reduce_scatter", size_ * n * dtype_size(dt));
    wait(record_done());
  }
  void all_gather(const void* send, void* recv, int64_t n, DType dt) override {
    after_compute();
    NCCL_CHECK(ncclAllGather(send, recv, static_cast<size_t>(n), nccl_type(dt), comm_, comm_stream_));  // in place ok
    watch("all_gather", size_ * n * dtype_size(dt));
    wait(record_done());
  }
  void all_to_all_v(const void* send, const int64_t* sc, const int64_t* sd, void* recv, const int64_t* rc,
                    const int64_t* rd, DType dt) override {
    const size_t es = dtype_size(dt);
    after_compute();
    NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < size_; ++r) {
      if (sc[r]) NCCL_CHECK(ncclSend(static_cast<const char*>(send) + sd[r] * es, sc[r], nccl_type(dt), r, comm_, comm_stream_));
      if (rc[r]) NCCL_CHECK(ncclRecv(static_cast<char*>(recv) + rd[r] * es, rc[r], nccl_type(dt), r, comm_, comm_stream_));
    }
    NCCL_CHECK(ncclGroupEnd());
    int64_t sent = 0;
    for (int r = 0; r < size_; ++r) sent += sc[r];
    watch("all_to_all_v", sent * static_cast<int64_t>(es));
    wait(record_done());
  }
  void broadcast(void* data, int64_t n, DType dt, int root) override {
    after_compute();
    NCCL_CHECK(ncclBroadcast(data, data, static_cast<size_t>(n), nccl_type(dt), root, comm_, comm_stream_));
    watch("broadcast", n * dtype_size(dt));
    wait(record_done());
  }
  void barrier() override {
    auto armed = watchdog_ ? watchdog_->arm(seq_++, "barrier", 0, label_) : Watchdog::Armed(nullptr);
    CUDA_OK(cudaStreamSynchronize(comm_stream_));
    CUDA_OK(cudaStreamSynchronize(compute_));
    bootstrap_.barrier();
  }
  std::unique_ptr<Communicator> split(int color, int key) override {
    ncclComm_t sub;
    NCCL_CHECK(ncclCommSplit(comm_, color, key, &sub, nullptr));
    return std::make_unique<NcclCommunicator>(sub, bootstrap_, ex_);
  }
  std::unique_ptr<Communicator> split_node() override {
    // Color = the lowest world rank on this node, found through the bootstrap's node group.
    int32_t leader = bootstrap_.rank();
    bootstrap_.split_node()->all_reduce(&leader, 1, DType::i32, ReduceOp::min);
    return split(leader, rank_);
  }
  [[noreturn]] void abort(int code) override {
    ncclCommAbort(comm_);
    bootstrap_.abort(code);
    std::_Exit(code);  // not reached: the bootstrap's abort does not return
  }

 private:
  // One collective queued on comm_stream_, finished when `finished` (recorded after it) has completed.
  struct Watched {
    CollectiveCall call;
    cudaEvent_t finished;
  };

  // Numbers the collective just queued and, with a watchdog, records an event after it for the probe.
  void watch(const char* name, size_t bytes) {
    const uint64_t seq = seq_++;
    if (!watchdog_) return;
    std::lock_guard<std::mutex> lk(watched_mu_);  // no event queries here: see drop_finished_locked
    cudaEvent_t e;
    if (spare_events_.empty()) {
      CUDA_OK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    } else {
      e = spare_events_.back();
      spare_events_.pop_back();
    }
    CUDA_OK(cudaEventRecord(e, comm_stream_));
    watched_.push_back({CollectiveCall{seq, name, static_cast<int64_t>(bytes), label_, WatchClock::now()}, e});
  }
  // Collectives finish in queue order: drop the finished ones from the front, keeping their events. Only
  // on the watchdog's thread: a query that answers cudaErrorNotReady may leave it as the thread's last
  // error, which the main thread's launch checks (cudaGetLastError) would report; here it is cleared.
  void drop_finished_locked() {
    while (!watched_.empty()) {
      const cudaError_t status = cudaEventQuery(watched_.front().finished);
      if (status != cudaSuccess) {
        (void)cudaGetLastError();
        return;  // not finished yet (or failed: then it stays unfinished and the deadline names it)
      }
      spare_events_.push_back(watched_.front().finished);
      watched_.pop_front();
    }
  }
  // The watchdog's probe (its thread): the oldest collective queued before `before` and not finished.
  std::optional<CollectiveCall> oldest_unfinished(WatchClock::time_point before) {
    std::lock_guard<std::mutex> lk(watched_mu_);
    cudaSetDevice(device_);  // the watchdog thread's current device, for the event queries
    drop_finished_locked();
    if (watched_.empty() || watched_.front().call.since >= before) return std::nullopt;
    return watched_.front().call;
  }

  // The communicator stream waits for everything queued on the compute stream so far.
  void after_compute() {
    CUDA_OK(cudaEventRecord(queued_, compute_));
    CUDA_OK(cudaStreamWaitEvent(comm_stream_, queued_, 0));
  }
  // An event marking the end of the collective just queued; its index is the handle.
  int record_done() {
    int h = 0;
    while (h < static_cast<int>(done_.size()) && in_flight_[h]) ++h;
    if (h == static_cast<int>(done_.size())) {  // grows to the number of buckets once, then reused
      cudaEvent_t e;
      CUDA_OK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      done_.push_back(e);
      in_flight_.push_back(false);
    }
    CUDA_OK(cudaEventRecord(done_[h], comm_stream_));
    in_flight_[h] = true;
    return h;
  }

  ncclComm_t comm_;
  Communicator& bootstrap_;
  cudaStream_t compute_;
  cudaStream_t comm_stream_ = nullptr;
  cudaEvent_t queued_ = nullptr;
  std::vector<cudaEvent_t> done_;
  std::vector<bool> in_flight_;
  Exec& ex_;
  int rank_ = 0, size_ = 1;
  int device_ = 0;
  Watchdog* watchdog_;  // [nullable] the bootstrap's, owned by the session
  int probe_id_ = -1, abort_hook_id_ = -1;
  std::string label_;  // "nccl, 8 ranks"
  uint64_t seq_ = 0;   // collectives so far, the same count on every rank
  std::mutex watched_mu_;  // watched_ and spare_events_: the main thread queues, the watchdog's probe drops
  std::deque<Watched> watched_;
  std::vector<cudaEvent_t> spare_events_;
};

}  // namespace

bool nccl_available() { return true; }

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, Exec& ex) {
  WEFT_CHECK(ex.device == Device::cuda, "[nccl] the NCCL communicator needs a CUDA Exec");
  ncclUniqueId id;
  if (bootstrap.rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  static_assert(sizeof(ncclUniqueId) % sizeof(int32_t) == 0);
  bootstrap.broadcast(&id, sizeof id / sizeof(int32_t), DType::i32, 0);  // the id travels as 32 i32s
  ncclComm_t comm;
  NCCL_CHECK(ncclCommInitRank(&comm, bootstrap.size(), id, bootstrap.rank()));
  return std::make_unique<NcclCommunicator>(comm, bootstrap, ex);
}

}  // namespace weft::par
