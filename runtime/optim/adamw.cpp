// AdamW implementation: one kernel launch per parameter (its decay flag decides the weight decay).
#include "runtime/optim/adamw.h"

#include <algorithm>
#include <cmath>

#include "runtime/kernels.h"

namespace weft::optim {

AdamW::AdamW(const ParamStore& store, AdamWConfig cfg, int64_t begin, int64_t end)
    : cfg_(cfg),
      begin_(begin),
      end_(end < 0 ? store.total() : end),
      m_(store.dtype() == DType::f64 ? DType::f64 : DType::f32, {end_ - begin_}, store.device()),
      v_(store.dtype() == DType::f64 ? DType::f64 : DType::f32, {end_ - begin_}, store.device()) {
  WEFT_CHECK(store.finalized(), "[AdamW] the parameter store must be finalized");
  WEFT_CHECK(0 <= begin_ && begin_ < end_ && end_ <= store.total(), "[AdamW] shard [", begin_, ", ", end_,
             ") outside the ", store.total(), " parameters");
  WEFT_CHECK(cfg.beta1 >= 0 && cfg.beta1 < 1 && cfg.beta2 >= 0 && cfg.beta2 < 1, "[AdamW] betas must be in [0, 1)");
  WEFT_CHECK(cfg.eps > 0, "[AdamW] eps must be positive");
  WEFT_CHECK(cfg.weight_decay >= 0, "--weight-decay must be >= 0, got ", cfg.weight_decay);
}

void AdamW::step(Exec& ex, ParamStore& store, float lr, float grad_scale, const void* grads) {
  ++t_;
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(cfg_.beta1), static_cast<double>(t_)));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(cfg_.beta2), static_cast<double>(t_)));
  const DType dt = store.dtype();
  const size_t ps = dtype_size(dt), ss = dtype_size(m_.tensor().dtype);
  char* p = static_cast<char*>(store.values().data);
  // g, m, v are indexed from begin_: element i of the store is at (i - begin_).
  const char* g = grads ? static_cast<const char*>(grads)
                        : static_cast<const char*>(store.grads().data) + begin_ * static_cast<int64_t>(ps);
  char* m = static_cast<char*>(m_.tensor().data);
  char* v = static_cast<char*>(v_.tensor().data);
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    int64_t lo = std::max(begin_, info.offset), hi = std::min(end_, info.offset + info.shape.numel());
    if (lo >= hi) continue;
    const int64_t r = lo - begin_;
    float wd = info.weight_decay ? cfg_.weight_decay : 0.0f;
    WEFT_LAUNCH(ex, adamw_update, ex, dt, p + lo * ps, m + r * ss, v + r * ss, g + r * ps, hi - lo, lr, cfg_.beta1,
                cfg_.beta2, cfg_.eps, wd, bc1, bc2, grad_scale);
  }
}

}  // namespace weft::optim
