// The optimizer's multiversioned loops (see vec.h): AdamW over f32 and the f32 sum of squares. A file of
// their own because they compile without FP contraction (runtime/CMakeLists.txt): an element's update is
// then the same in the vector body and in the scalar tail, so it does not depend on where a ZeRO shard or
// a chunk starts, and it equals the scalar formula of runtime/math/adamw.h bit for bit.
#include "runtime/backend_cpu/vec.h"
#include "runtime/math/adamw.h"

namespace weft::cpu {

WEFT_MULTIVERSION void adamw_f32(float* __restrict p, float* __restrict m, float* __restrict v,
                                  const float* __restrict g, int64_t n, const AdamWHyper& h) {
  const AdamWHyper hyper = h;  // a local copy: the loop must not reload it through a pointer that might alias
  for (int64_t i = 0; i < n; ++i) adamw_element<float, float>(p[i], m[i], v[i], g[i], hyper);
}

WEFT_MULTIVERSION double sum_squares_f32(const float* x, int64_t n) {
  double s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += static_cast<double>(x[i + k]) * x[i + k];
  double r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) r += static_cast<double>(x[i]) * x[i];
  return r;
}

}  // namespace weft::cpu
