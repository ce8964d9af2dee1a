// The one-rank communicator: collectives are copies (or nothing), so single-process runs need no MPI.
// The copies run on the device that holds the buffers (host memory, or GPU memory for a one-GPU run's
// gradient communicator).
#include <cstdlib>

#include "parallel/comm.h"
#include "runtime/check.h"
#include "runtime/memory.h"

namespace weft::par {

namespace {

class LocalCommunicator final : public Communicator {
 public:
  explicit LocalCommunicator(Device buffers) : dev_(buffers) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string kind() const override { return "local"; }
  void all_reduce(void*, int64_t, DType, ReduceOp) override {}
  int start_all_reduce(void*, int64_t, DType, ReduceOp) override { return 0; }
  void wait(int) override {}
  void reduce_scatter(const void* send, void* recv, int64_t n, DType dt, ReduceOp) override {
    if (send != recv) device_copy(dev_, recv, dev_, send, n * dtype_size(dt));
  }
  void all_gather(const void* send, void* recv, int64_t n, DType dt) override {
    if (send != recv) device_copy(dev_, recv, dev_, send, n * dtype_size(dt));
  }
  void all_to_all_v(const void* send, const int64_t* sc, const int64_t* sd, void* recv, const int64_t* rc,
                    const int64_t* rd, DType dt) override {
    WEFT_CHECK(sc[0] == rc[0], "[all_to_all_v] one rank sends ", sc[0], " elements to itself but expects ", rc[0]);
    size_t es = dtype_size(dt);
    if (sc[0] > 0)
      device_copy(dev_, static_cast<char*>(recv) + rd[0] * es, dev_, static_cast<const char*>(send) + sd[0] * es, sc[0] * es);
  }
  void broadcast(void*, int64_t, DType, int root) override {
    WEFT_CHECK(root == 0, "[broadcast] root ", root, " out of range for 1 rank");
  }
  void barrier() override {}
  std::unique_ptr<Communicator> split(int, int) override { return std::make_unique<LocalCommunicator>(dev_); }
  std::unique_ptr<Communicator> split_node() override { return std::make_unique<LocalCommunicator>(dev_); }
  [[noreturn]] void abort(int code) override { std::_Exit(code); }

 private:
  Device dev_;
};

}  // namespace

std::unique_ptr<Communicator> make_local_communicator(Device buffers) {
  return std::make_unique<LocalCommunicator>(buffers);
}

}  // namespace weft::par
