// AdamW implementation: the decay table (decayed parameters clipped to the range, neighbours merged)
// and one adamw_update_ranges launch per step.
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
  // Decayed parameters in layout order, clipped to [begin_, end_). Two decayed parameters that follow
  // each other share one range, the alignment padding between them included: padding values, gradients
  // and moments are zero, so decay leaves them zero, exactly as skipping them does.
  std::vector<const ParamInfo*> by_offset;
  for (int id = 0; id < store.size(); ++id) by_offset.push_back(&store.info(id));
  std::sort(by_offset.begin(), by_offset.end(),
            [](const ParamInfo* a, const ParamInfo* b) { return a->offset < b->offset; });
  bool previous_decays = false;
  for (const ParamInfo* info : by_offset) {
    const int64_t lo = std::max(begin_, info->offset), hi = std::min(end_, info->offset + info->shape.numel());
    if (lo >= hi) continue;
    if (info->weight_decay) {
      if (previous_decays) decay_ranges_.back() = hi - begin_;
      else decay_ranges_.insert(decay_ranges_.end(), {lo - begin_, hi - begin_});
    }
    previous_decays = info->weight_decay;
  }
  const int64_t R = static_cast<int64_t>(decay_ranges_.size() / 2);
  if (R > 0) {
    decay_table_ = OwnedTensor(DType::i64, {R, 2}, store.device());
    device_copy(store.device(), decay_table_.tensor().data, Device::cpu, decay_ranges_.data(),
                decay_ranges_.size() * sizeof(int64_t));
  }
}

void AdamW::step(Exec& ex, ParamStore& store, float lr, float grad_scale, const void* grads) {
  ++t_;
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(cfg_.beta1), static_cast<double>(t_)));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(cfg_.beta2), static_cast<double>(t_)));
  const DType dt = store.dtype();
  const size_t ps = dtype_size(dt);
  char* p = static_cast<char*>(store.values().data);
  // g, m, v are indexed from begin_: element i of the store is at (i - begin_).
  const char* g = grads ? static_cast<const char*>(grads)
                        : static_cast<const char*>(store.grads().data) + begin_ * static_cast<int64_t>(ps);
  const int64_t R = static_cast<int64_t>(decay_ranges_.size() / 2);
  const int64_t* table = R > 0 ? static_cast<const int64_t*>(decay_table_.tensor().data) : nullptr;
  WEFT_LAUNCH(ex, adamw_update_ranges, ex, dt, p + begin_ * static_cast<int64_t>(ps), m_.tensor().data,
              v_.tensor().data, g, end_ - begin_, table, R, lr, cfg_.beta1, cfg_.beta2, cfg_.eps, cfg_.weight_decay,
              bc1, bc2, grad_scale);
}

}  // namespace weft::optim
