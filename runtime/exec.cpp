// The names of the attention backends (--attention-backend), for flags and reports.
#include "runtime/exec.h"

#include "runtime/check.h"

namespace weft {

KernelBackend parse_kernel_backend(const std::string& name) {
  if (name == "auto") return KernelBackend::automatic;
  if (name == "cudnn") return KernelBackend::cudnn;
  if (name == "weft") return KernelBackend::weft;
  WEFT_FAIL("--attention-backend must be auto, cudnn or weft, got '", name, "'");
}

const char* kernel_backend_name(KernelBackend b) {
  switch (b) {
    case KernelBackend::cudnn: return "cudnn";
    case KernelBackend::weft: return "weft";
    default: return "auto";
  }
}

}  // namespace weft
