// Rank discovery: rank and size come from the communicator (MPI); every launcher variable that is set
// is cross-checked against them, so an `srun` without PMI support (N copies that each think they are
// rank 0 of 1) or a wrong environment stops with a clear error instead of training N separate models.
#pragma once

#include <map>
#include <string>

#include "parallel/comm.h"

namespace weft::par {

struct LaunchInfo {
  std::string launcher;  // "single", "mpirun", "srun", "env" (RANK/WORLD_SIZE only)
  int rank = 0, size = 1;
  int local_rank = 0, local_size = 1;
  int gpus = 0;  // visible CUDA devices
  int gpu = -1;  // local rank modulo the visible GPUs; -1 when none is visible
  std::string host;
  int cores = 1;         // CPU cores this rank may run on (its affinity mask)
  int core_sharers = 1;  // ranks on this node whose affinity masks overlap this rank's, itself included
  int threads = -1;      // CPU threads per rank once --threads is resolved; 0: OpenMP's (OMP_NUM_THREADS); -1: unknown
  // "srun: rank 3 of 8, local rank 1 of 4 on node07, GPU 1 of 4" (", 2 CPU threads" without a GPU)
  std::string describe() const;
};

// Where every rank runs, gathered from all ranks (a collective: every rank calls it), one part per node in
// order of first rank: "ranks by node (rank/local rank): node01 0/0 1/1; node02 2/0 3/1".
std::string describe_layout(Communicator& world, const LaunchInfo& self);

using Environment = std::map<std::string, std::string>;
Environment current_environment();

// Throws weft::Error naming the variable that contradicts the communicator.
LaunchInfo detect_launch(Communicator& world, const Environment& env);

// CPU threads for one rank when --threads is 0: the cores of its affinity mask shared evenly with the
// ranks whose masks overlap it, at least 1. Unbound ranks (mpirun --bind-to none, one cpuset for the
// whole job) split the cores they all see; ranks bound to their own cores (--bind-to core, srun
// --cpus-per-task) keep theirs.
int default_threads(int cores, int core_sharers);
// Whether `threads` per rank, times the ranks sharing the cores, exceed those cores.
bool oversubscribes(int threads, int cores, int core_sharers);
// The ranks whose affinity masks (`words` 64-bit words per rank, rank after rank) overlap rank `me`'s.
int ranks_sharing_cores(const uint64_t* masks, int ranks, int words, int me);

}  // namespace weft::par
