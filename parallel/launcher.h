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
  std::string describe() const;  // "srun: rank 3 of 8, local rank 1 of 4 on node07, GPU 1 of 4"
};

using Environment = std::map<std::string, std::string>;
Environment current_environment();

// Throws weft::Error naming the variable that contradicts the communicator.
LaunchInfo detect_launch(Communicator& world, const Environment& env);

}  // namespace weft::par
