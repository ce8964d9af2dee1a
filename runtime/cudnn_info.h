// Which cuDNN this weft uses: the version of the library loaded at run time when the CUDA backend was
// built with cuDNN (cmake/cudnn.cmake defines WEFT_HAVE_CUDNN for backend_cuda/), else 0. For reports
// (weft bench, tools/gpu-check); implemented in backend_cuda/device_info.cu and no_cuda.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::cuda {

int cudnn_version();
// The ALiBi slopes of cuDNN's fused attention for n_heads heads (cudnn-frontend computes them; it takes none from
// us), empty in a build without cuDNN's attention. attention_cudnn.cpp uses cuDNN's alibi mask only where a
// model's slopes equal these bit for bit, and a bias input otherwise.
std::vector<float> cudnn_alibi_slopes(int64_t n_heads);  // cudnnGetVersion(): cuDNN 9 encodes major * 10000 + minor * 100 + patch (9.19.0: 91900)

// "cuDNN 9.19.0", or "no cuDNN" for 0.
inline std::string cudnn_description(int v) {
  if (v <= 0) return "no cuDNN";
  return "cuDNN " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

}  // namespace weft::cuda
