// The NCCL half of a CPU-only build: asking for NCCL is a clear error.
#include "parallel/comm_nccl.h"
#include "runtime/check.h"

namespace weft::par {

bool nccl_available() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(Communicator&, Exec&) {
  WEFT_FAIL("[nccl] weft was built without CUDA/NCCL (configure with -DWEFT_CUDA=ON)");
}

}  // namespace weft::par
