// Watchdog for hung collectives: one per process (owned by the Session, shared by pointer with every
// communicator it creates). Before a blocking collective a communicator arms a deadline (its own sequence
// number, the collective's name and size) and disarms it after; collectives that run asynchronously
// (NCCL, on a stream) are watched through a probe the communicator registers, which names the oldest
// one still unfinished. A thread started on the first arm sleeps until the deadline (never spins); on
// expiry it prints one line naming the rank and the collective (and, over TCP, a second naming the peers that
// stopped acknowledging: parallel/tcp_peers.h), runs the abort hooks (ncclCommAbort),
// and ends the process with _exit(kExitCollectiveTimeout). _exit rather than MPI_Abort: MPI is
// initialised with MPI_THREAD_FUNNELED (only the main thread may call MPI, and it is blocked inside the
// collective), and a rank that exits non-zero before MPI_Finalize makes mpirun / srun end the job.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace weft::par {

constexpr int kExitCollectiveTimeout = 5;            // a collective did not complete in --collective-timeout
constexpr double kDefaultCollectiveTimeout = 600.0;  // seconds; generous: a rank saving a large checkpoint

using WatchClock = std::chrono::steady_clock;

// One collective as the watchdog names it: "collective #57 (all_reduce, 8 bytes, mpi)".
struct CollectiveCall {
  uint64_t seq = 0;          // per communicator, the same on every rank for the same call
  std::string name;          // "all_reduce", "barrier", ...
  int64_t bytes = 0;
  std::string comm;          // the communicator's kind and size: "mpi, 2 ranks"
  WatchClock::time_point since;
  std::string describe() const;
};

// The line printed on expiry (without the trailing newline); pure, for tests.
std::string timeout_message(int rank, const CollectiveCall& call, double timeout_s);

class Watchdog {
 public:
  explicit Watchdog(double timeout_s = kDefaultCollectiveTimeout);
  ~Watchdog();  // stops the thread
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void set_timeout(double seconds);  // 0: off (arms are ignored)
  double timeout() const;
  void set_rank(int rank);

  // Arm before a blocking collective, disarm after (Armed does it on destruction). A nested arm (an
  // NCCL barrier on its MPI bootstrap) keeps the outer collective's deadline.
  class Armed {
   public:
    explicit Armed(Watchdog* w) : w_(w) {}
    Armed(Armed&& o) noexcept : w_(o.w_) { o.w_ = nullptr; }
    ~Armed() {
      if (w_) w_->disarm();
    }
   private:
    Watchdog* w_;
  };
  [[nodiscard]] Armed arm(uint64_t seq, const char* name, int64_t bytes, const std::string& comm);

  // A probe returns the oldest collective that started before `started_before` and has not finished.
  // Called from the watchdog thread every timeout / 10 while a probe is registered; ids for removal.
  using Probe = std::function<std::optional<CollectiveCall>(WatchClock::time_point started_before)>;
  int add_probe(Probe probe);
  void remove_probe(int id);
  // Run on expiry, on the watchdog thread, before the process exits (ncclCommAbort).
  int add_abort_hook(std::function<void()> hook);
  void remove_abort_hook(int id);

 private:
  void disarm();
  void start_thread_locked();
  void loop();
  [[noreturn]] void expire(const CollectiveCall& call, double timeout_s);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool stop_ = false;
  double timeout_s_;
  int rank_ = 0;
  int depth_ = 0;  // nesting of arms; the outermost one holds `armed_`
  CollectiveCall armed_;
  int next_id_ = 0;
  std::vector<std::pair<int, Probe>> probes_;
  std::vector<std::pair<int, std::function<void()>>> abort_hooks_;
};

}  // namespace weft::par
