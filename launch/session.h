// Process-level setup shared by the commands: the communicator (MPI when a launcher started us, else
// local), the launch report, the watchdog that ends the job when a collective hangs
// (--collective-timeout), the CPU threads of each rank, and the rule that a fatal error on one rank
// brings every rank down.
#pragma once

#include <functional>
#include <memory>

#include "parallel/comm.h"
#include "parallel/launcher.h"
#include "parallel/watchdog.h"

namespace weft::launch {

struct Session {
  std::unique_ptr<par::Watchdog> watchdog;  // before comm: the communicators point to it
  std::unique_ptr<par::Communicator> comm;
  par::LaunchInfo launch;
  Session() = default;
  Session(Session&&) = default;
  ~Session();  // releases the communicator and finalizes MPI (a clean exit for mpirun / srun)
};

// MPI if the environment shows a launcher (mpirun, srun, PMI), else the local communicator; then the
// launcher cross-checks (a contradiction is a UsageError).
Session start_session();

// Runs body; on an exception prints "rank R: message" and, with more than one rank, calls MPI_Abort so
// no rank hangs. Returns body's exit code, or 2 for usage/input errors and 1 for other failures.
int run_ranked(Session& s, const std::function<int()>& body);

// --threads: an explicit count as given (rank 0 warns when count x ranks on this node exceeds the
// cores they share); 0 the cores available to this rank (par::default_threads), or OpenMP's choice
// when OMP_NUM_THREADS is set. Records the result in s.launch.threads for the launch line.
int resolve_threads(Session& s, int requested);

}  // namespace weft::launch
