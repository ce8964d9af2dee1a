// Process-level setup shared by the commands: the communicator (MPI when a launcher started us, else
// local), the launch report, and the rule that a fatal error on one rank brings every rank down.
#pragma once

#include <functional>
#include <memory>

#include "parallel/comm.h"
#include "parallel/launcher.h"

namespace weft::launch {

struct Session {
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

}  // namespace weft::launch
