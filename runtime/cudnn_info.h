// Which cuDNN this weft uses: the version of the library loaded at run time when the CUDA backend was
// built with cuDNN (cmake/cudnn.cmake defines WEFT_HAVE_CUDNN for backend_cuda/), else 0. For reports
// (weft bench, tools/gpu-check); implemented in backend_cuda/device_info.cu and no_cuda.cpp.
#pragma once

#include <string>

namespace weft::cuda {

int cudnn_version();  // cudnnGetVersion(): cuDNN 9 encodes major * 10000 + minor * 100 + patch (9.19.0: 91900)

// "cuDNN 9.19.0", or "no cuDNN" for 0.
inline std::string cudnn_description(int v) {
  if (v <= 0) return "no cuDNN";
  return "cuDNN " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

}  // namespace weft::cuda
