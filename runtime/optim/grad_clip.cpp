// Global gradient norm and clipping factor.
#include "runtime/optim/grad_clip.h"

#include <cmath>

#include "runtime/kernels.h"

namespace weft::optim {

double global_grad_norm(Exec& ex, const ParamStore& store) {
  double ss = 0.0;
  Tensor g = store.grads();
  WEFT_LAUNCH(ex, sum_squares, ex, g.dtype, &ss, g.data, g.numel());
  return std::sqrt(ss);
}

float clip_scale(double norm, double max_norm) {
  if (max_norm <= 0.0 || !(norm > max_norm)) return 1.0f;
  return static_cast<float>(max_norm / (norm + 1e-6));
}

}  // namespace weft::optim
