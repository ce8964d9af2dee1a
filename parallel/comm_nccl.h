// The NCCL communicator: collectives on device buffers, enqueued on the stream of an Exec (one rank per
// GPU). Bootstrapped through another communicator (MPI): rank 0 creates the ncclUniqueId and broadcasts
// it. Built only with the CUDA backend; make_nccl_communicator throws otherwise.
#pragma once

#include <memory>

#include "parallel/comm.h"
#include "runtime/exec.h"

namespace weft::par {

bool nccl_available();
// `bootstrap` provides rank, size and the id broadcast; `ex` must be a CUDA Exec of this rank's GPU.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, Exec& ex);

}  // namespace weft::par
