// The MPI half of a build configured with -DWEFT_MPI=OFF: asking for MPI is a clear error.
#include "parallel/comm.h"
#include "runtime/check.h"

namespace weft::par {

bool mpi_available() { return false; }

std::unique_ptr<Communicator> make_mpi_communicator(Watchdog*) {
  WEFT_FAIL("[mpi] weft was built without MPI (configure with -DWEFT_MPI=ON)");
}

void mpi_finalize_if_initialized() {}

}  // namespace weft::par
