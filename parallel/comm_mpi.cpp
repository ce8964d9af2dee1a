// The MPI communicator (host buffers): what CPU ranks use, and how GPU runs bootstrap NCCL. Every
// blocking collective is numbered and, with a watchdog, deadlined (arm before, disarm after); the
// non-blocking all-reduce takes its number when it starts and is deadlined in wait().
#include <mpi.h>

#include <climits>
#include <vector>

#include "parallel/comm.h"
#include "parallel/watchdog.h"
#include "runtime/check.h"

#define MPI_CHECK(call)                                                                   \
  do {                                                                                    \
    int mpi_status_ = (call);                                                             \
    if (mpi_status_ != MPI_SUCCESS) {                                                     \
      char mpi_msg_[MPI_MAX_ERROR_STRING];                                                \
      int mpi_len_ = 0;                                                                   \
      MPI_Error_string(mpi_status_, mpi_msg_, &mpi_len_);                                 \
      WEFT_FAIL("[mpi] ", #call, " failed at ", __FILE__, ":", __LINE__, ": ", mpi_msg_); \
    }                                                                                     \
  } while (0)

namespace weft::par {

namespace {

MPI_Datatype mpi_type(DType dt) {
  switch (dt) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    case DType::bf16: return MPI_UINT16_T;  // moved, never reduced
  }
  return MPI_BYTE;
}

MPI_Op mpi_op(ReduceOp op, DType dt) {
  WEFT_CHECK(dt != DType::bf16, "[mpi] reductions over bf16 are not supported on host buffers (reduce in f32)");
  return op == ReduceOp::sum ? MPI_SUM : op == ReduceOp::max ? MPI_MAX : MPI_MIN;
}

int to_int(int64_t n, const char* what) {
  WEFT_CHECK(n >= 0 && n <= INT_MAX, "[mpi] ", what, " count ", n, " exceeds MPI's int range");
  return static_cast<int>(n);
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, bool owned, Watchdog* watchdog) : comm_(comm), owned_(owned), watchdog_(watchdog) {
    MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    MPI_CHECK(MPI_Comm_size(comm_, &size_));
    label_ = "mpi, " + std::to_string(size_) + " ranks";
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owned_ && !finalized) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string kind() const override { return "mpi"; }
  Watchdog* watchdog() const override { return watchdog_; }

  void all_reduce(void* data, int64_t n, DType dt, ReduceOp op) override {
    auto armed = arm("all_reduce", n * dtype_size(dt));
    // Large buffers in chunks so counts stay within int.
    const int64_t chunk = int64_t(1) << 30;
    for (int64_t off = 0; off < n; off += chunk) {
      int64_t c = std::min(chunk, n - off);
      MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, static_cast<char*>(data) + off * dtype_size(dt), to_int(c, "all_reduce"),
                              mpi_type(dt), mpi_op(op, dt), comm_));
    }
  }
  int start_all_reduce(void* data, int64_t n, DType dt, ReduceOp op) override {
    MPI_Request req;
    MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, data, to_int(n, "start_all_reduce"), mpi_type(dt), mpi_op(op, dt), comm_,
                             &req));
    requests_.push_back(req);
    request_calls_.push_back({seq_++, n * static_cast<int64_t>(dtype_size(dt))});
    return static_cast<int>(requests_.size()) - 1;
  }
  void wait(int handle) override {
    WEFT_CHECK(handle >= 0 && handle < static_cast<int>(requests_.size()), "[mpi] unknown request ", handle);
    {
      const auto [seq, bytes] = request_calls_[handle];
      auto armed = watchdog_ ? watchdog_->arm(seq, "all_reduce", bytes, label_) : Watchdog::Armed(nullptr);
      MPI_CHECK(MPI_Wait(&requests_[handle], MPI_STATUS_IGNORE));
    }
    bool all_done = true;
    for (auto& r : requests_) all_done = all_done && r == MPI_REQUEST_NULL;
    if (all_done) {
      requests_.clear();
      request_calls_.clear();
    }
  }
  void reduce_scatter(const void* send, void* recv, int64_t n, DType dt, ReduceOp op) override {
    auto armed = arm("reduce_scatter", size_ * n * dtype_size(dt));
    MPI_CHECK(MPI_Reduce_scatter_block(send, recv, to_int(n, "reduce_scatter"), mpi_type(dt), mpi_op(op, dt), comm_));
  }
  void all_gather(const void* send, void* recv, int64_t n, DType dt) override {
    auto armed = arm("all_gather", size_ * n * dtype_size(dt));
    // send may already sit at this rank's block of recv (ZeRO-1 parameters): gather in place.
    const void* in = send == static_cast<const char*>(recv) + rank_ * n * dtype_size(dt) ? MPI_IN_PLACE : send;
    MPI_CHECK(MPI_Allgather(in, to_int(n, "all_gather"), mpi_type(dt), recv, to_int(n, "all_gather"), mpi_type(dt),
                            comm_));
  }
  void all_to_all_v(const void* send, const int64_t* sc, const int64_t* sd, void* recv, const int64_t* rc,
                    const int64_t* rd, DType dt) override {
    std::vector<int> isc(size_), isd(size_), irc(size_), ird(size_);
    int64_t sent = 0;
    for (int r = 0; r < size_; ++r) sent += sc[r];
    auto armed = arm("all_to_all_v", sent * dtype_size(dt));
    for (int r = 0; r < size_; ++r) {
      isc[r] = to_int(sc[r], "all_to_all_v send");
      isd[r] = to_int(sd[r], "all_to_all_v send displacement");
      irc[r] = to_int(rc[r], "all_to_all_v receive");
      ird[r] = to_int(rd[r], "all_to_all_v receive displacement");
    }
    MPI_CHECK(MPI_Alltoallv(send, isc.data(), isd.data(), mpi_type(dt), recv, irc.data(), ird.data(), mpi_type(dt),
                            comm_));
  }
  void broadcast(void* data, int64_t n, DType dt, int root) override {
    auto armed = arm("broadcast", n * dtype_size(dt));
    MPI_CHECK(MPI_Bcast(data, to_int(n, "broadcast"), mpi_type(dt), root, comm_));
  }
  void barrier() override {
    auto armed = arm("barrier", 0);
    MPI_CHECK(MPI_Barrier(comm_));
  }
  std::unique_ptr<Communicator> split(int color, int key) override {
    MPI_Comm sub;
    {
      auto armed = arm("split", 0);
      MPI_CHECK(MPI_Comm_split(comm_, color, key, &sub));
    }
    return std::make_unique<MpiCommunicator>(sub, true, watchdog_);
  }
  std::unique_ptr<Communicator> split_node() override {
    MPI_Comm node;
    {
      auto armed = arm("split_node", 0);
      MPI_CHECK(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
    }
    return std::make_unique<MpiCommunicator>(node, true, watchdog_);
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(comm_, code);
    std::_Exit(code);
  }

 private:
  // The next sequence number, deadlined while the returned guard lives (nothing without a watchdog).
  Watchdog::Armed arm(const char* name, size_t bytes) {
    const uint64_t seq = seq_++;
    return watchdog_ ? watchdog_->arm(seq, name, static_cast<int64_t>(bytes), label_) : Watchdog::Armed(nullptr);
  }

  MPI_Comm comm_;
  bool owned_;
  Watchdog* watchdog_;  // [nullable] owned by the session, outlives the communicator
  std::string label_;   // "mpi, 2 ranks": how the watchdog names this communicator
  uint64_t seq_ = 0;    // collectives so far, the same count on every rank
  std::vector<MPI_Request> requests_;
  struct RequestCall {
    uint64_t seq;
    int64_t bytes;
  };
  std::vector<RequestCall> request_calls_;  // [handle]
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool mpi_available() { return true; }

std::unique_ptr<Communicator> make_mpi_communicator(Watchdog* watchdog) {
  int initialized = 0;
  MPI_CHECK(MPI_Initialized(&initialized));
  if (!initialized) {
    int provided = 0;
    MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  }
  // FUNNELED is enough: the watchdog thread never calls MPI (it leaves through _exit, parallel/watchdog.h).
  // Errors come back as codes (MPI_CHECK turns them into exceptions, then MPI_Abort at top level).
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  auto world = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, false, watchdog);
  if (watchdog) watchdog->set_rank(world->rank());
  return world;
}

void mpi_finalize_if_initialized() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Finalize();
}

}  // namespace weft::par
