// Session setup and the rank-aware error handling.
#include "launch/session.h"

#include <cstdio>
#include <cstdlib>

#include "launch/options.h"

namespace weft::launch {

Session::~Session() {
  if (!comm) return;
  comm->barrier();
  comm.reset();
  par::mpi_finalize_if_initialized();
  watchdog.reset();
}

Session start_session() {
  Session s;
  par::Environment env = par::current_environment();
  bool launched = env.count("OMPI_COMM_WORLD_SIZE") || env.count("PMI_SIZE") || env.count("PMIX_RANK") ||
                  env.count("SLURM_PROCID") || env.count("SLURM_NTASKS");
  s.watchdog = std::make_unique<par::Watchdog>();
  s.comm = launched && par::mpi_available() ? par::make_mpi_communicator(s.watchdog.get())
                                            : par::make_local_communicator();
  try {
    s.launch = par::detect_launch(*s.comm, env);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  return s;
}

int run_ranked(Session& s, const std::function<int()>& body) {
  int code = 0;
  bool failed = true;
  try {
    code = body();
    failed = false;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "rank %d: %s\n", s.comm->rank(), e.what());
    code = 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "rank %d: %s\n", s.comm->rank(), e.what());
    code = 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: fatal: %s\n", s.comm->rank(), e.what());
    code = 1;
  }
  if (failed && s.comm->size() > 1) {
    std::fflush(stderr);
    s.comm->abort(code);  // the other ranks may be inside a collective: take them down
  }
  return code;
}

}  // namespace weft::launch

namespace weft::launch {

int resolve_threads(Session& s, int requested) {
  const par::LaunchInfo& l = s.launch;
  const int fair = par::default_threads(l.cores, l.core_sharers);
  int threads = requested;
  if (requested == 0) {
    threads = std::getenv("OMP_NUM_THREADS") ? 0 : fair;
  } else if (s.comm->rank() == 0 && par::oversubscribes(requested, l.cores, l.core_sharers)) {
    std::fprintf(stderr,
                 "warning: --threads %d on each of the %d ranks sharing %d core%s on %s oversubscribes them: the "
                 "ranks slow each other down; --threads 0 gives each rank %d\n",
                 requested, l.core_sharers, l.cores, l.cores == 1 ? "" : "s", l.host.c_str(), fair);
  }
  s.launch.threads = threads;
  return threads;
}

}  // namespace weft::launch
