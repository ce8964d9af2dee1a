// StepLosses implementation.
#include "launch/step_losses.h"

#include "runtime/kernels.h"

namespace weft::launch {

StepLosses::StepLosses(Device dev)
    : dev_(dev), sums_(DType::f32, {1 + kMaxTerms}, dev), scratch_(DType::f32, {1}, dev) {}

void StepLosses::begin_step(Exec& ex) {
  WEFT_LAUNCH(ex, fill_zero, ex, sums_.tensor().data, static_cast<int64_t>(sums_.tensor().nbytes()));
}

void StepLosses::add(Exec& ex, const models::LossTerms& terms, double token_share) {
  if (!named_) {
    WEFT_CHECK(terms.aux.size() <= static_cast<size_t>(kMaxTerms), "[train] the model reports ", terms.aux.size(),
               " auxiliary terms; at most ", kMaxTerms, " are supported");
    for (const auto& a : terms.aux) names_.push_back(a.name);
    named_ = true;
  }
  WEFT_CHECK(terms.aux.size() == names_.size(), "[train] the model changed its auxiliary terms between micro-batches");
  char* sums = static_cast<char*>(sums_.tensor().data);
  const Tensor& total = terms.total->value;
  WEFT_CHECK(total.dtype == DType::f32 && total.numel() == 1, "[train] the loss must be one f32 value, got ", total.str());
  WEFT_LAUNCH(ex, axpby, ex, DType::f32, sums, 1.0f, total.data, 1.0f, 1);
  for (size_t i = 0; i < terms.aux.size(); ++i) {
    const Tensor& v = terms.aux[i].value->value;
    WEFT_CHECK(v.numel() == 1 && terms.aux[i].name == names_[i], "[train] auxiliary term '", terms.aux[i].name,
               "' must be one value, reported in the same order every micro-batch");
    WEFT_LAUNCH(ex, cast, ex, DType::f32, scratch_.tensor().data, v.dtype, v.data, 1, false);
    WEFT_LAUNCH(ex, axpby, ex, DType::f32, sums + (1 + i) * sizeof(float), static_cast<float>(token_share),
                scratch_.tensor().data, 1.0f, 1);
  }
}

StepLosses::Totals StepLosses::finish(par::Communicator& comm) {
  const int n = 1 + static_cast<int>(names_.size());
  float host[1 + kMaxTerms] = {};
  device_copy(Device::cpu, host, dev_, sums_.tensor().data, n * sizeof(float));  // the one copy per step
  std::vector<double> wide(host, host + n);
  if (comm.size() > 1) comm.all_reduce(wide.data(), n, DType::f64, par::ReduceOp::sum);
  Totals t;
  t.loss = wide[0];
  for (size_t i = 0; i < names_.size(); ++i) t.aux.emplace_back(names_[i], wide[1 + i]);
  return t;
}

}  // namespace weft::launch
