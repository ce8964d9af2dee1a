// Communicator: the collectives weft needs, behind one interface with local (one rank), MPI (host
// buffers, CPU ranks) and NCCL (device buffers) implementations. Counts are in elements of `dt`.
// All calls are collective: every rank of the communicator must make the same call in the same order.
// Models never see this header; parallel/ and launch/ pass a Communicator& explicitly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/dtype.h"

namespace weft::par {

enum class ReduceOp { sum, max, min };
class Watchdog;  // parallel/watchdog.h

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string kind() const = 0;  // "local", "mpi", "nccl"

  // In place: data (count) becomes the reduction over ranks.
  virtual void all_reduce(void* data, int64_t count, DType dt, ReduceOp op) = 0;
  // Non-blocking in-place all-reduce: returns a handle for wait(); data must stay untouched until then.
  virtual int start_all_reduce(void* data, int64_t count, DType dt, ReduceOp op) = 0;
  virtual void wait(int handle) = 0;
  // send (size * recv_count) reduced over ranks; rank r keeps block r in recv (recv_count).
  virtual void reduce_scatter(const void* send, void* recv, int64_t recv_count, DType dt, ReduceOp op) = 0;
  // send (send_count) of every rank concatenated in rank order into recv (size * send_count); send may
  // be this rank's own block of recv (in place).
  virtual void all_gather(const void* send, void* recv, int64_t send_count, DType dt) = 0;
  // Variable all-to-all: send_counts[r] elements at send_displs[r] go to rank r; recv likewise. [rank]
  virtual void all_to_all_v(const void* send, const int64_t* send_counts, const int64_t* send_displs, void* recv,
                            const int64_t* recv_counts, const int64_t* recv_displs, DType dt) = 0;
  virtual void broadcast(void* data, int64_t count, DType dt, int root) = 0;
  virtual void barrier() = 0;
  // Sub-group of the ranks with the same color, ordered by key (MPI_Comm_split semantics).
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;
  // The ranks on this node (MPI_Comm_split_type SHARED): its rank() is the local rank.
  virtual std::unique_ptr<Communicator> split_node() = 0;
  // Bring every rank of the job down (MPI_Abort); never returns.
  [[noreturn]] virtual void abort(int exit_code) = 0;
  // The watchdog that deadlines this communicator's collectives (shared with its splits); null: none.
  virtual Watchdog* watchdog() const { return nullptr; }
};

// One rank; its collectives copy buffers that live on `buffers` (cpu, or cuda for device buffers).
std::unique_ptr<Communicator> make_local_communicator(Device buffers = Device::cpu);

// MPI_COMM_WORLD (initialises MPI with MPI_THREAD_FUNNELED if needed). Throws when built without MPI.
// With a watchdog, every blocking collective of it and of its splits is deadlined (parallel/watchdog.h).
std::unique_ptr<Communicator> make_mpi_communicator(Watchdog* watchdog = nullptr);
bool mpi_available();           // built with MPI
void mpi_finalize_if_initialized();

}  // namespace weft::par
