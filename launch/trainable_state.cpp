// TrainableState implementation.
#include "launch/trainable_state.h"

#include "runtime/kernels.h"
#include "runtime/optim/grad_clip.h"

namespace weft::launch {

TrainableState::TrainableState(models::Model& model, Exec& ex, DType compute, int64_t total_multiple)
    : ex_(ex), master_(compute == DType::f64 ? DType::f64 : DType::f32, ex.device) {
  model.declare(master_);
  master_.finalize(total_multiple);
  if (compute != master_.dtype()) mixed_ = std::make_unique<optim::MixedPrecision>(master_, compute);
}

TrainableState::~TrainableState() = default;

par::GradReducer::RangeFn TrainableState::fold_fn() {
  if (!mixed_) return {};
  return [this](int64_t begin, int64_t end) { mixed_->fold_grads(ex_, master_, begin, end); };
}

void TrainableState::initialize(uint64_t seed) {
  master_.initialize(seed);
  if (mixed_) mixed_->refresh(ex_, master_);
}

InitFromReport TrainableState::init_from(const std::string& checkpoint) {
  InitFromReport r = load_matching_params(checkpoint, master_);
  if (mixed_) mixed_->refresh(ex_, master_);
  return r;
}

void TrainableState::attach_optimizer(const optim::AdamWConfig& cfg, const par::GradReducer& reducer) {
  adamw_ = std::make_unique<optim::AdamW>(master_, cfg, reducer.update_begin(), reducer.update_end());
}

void TrainableState::end_micro_batch(bool folded_by_reducer) {
  if (mixed_ && !folded_by_reducer) mixed_->fold_grads(ex_, master_);
}

double TrainableState::update(par::GradReducer& reducer, float lr, double clip_norm) {
  const double norm = reduce_gradients(reducer);
  apply_update(reducer, lr, clip_norm, norm);
  return norm;
}

double TrainableState::reduce_gradients(par::GradReducer& reducer) {
  WEFT_CHECK(adamw_, "[TrainableState] update() without an optimizer (attach_optimizer first)");
  return reducer.reduce(ex_, master_);
}

void TrainableState::apply_update(par::GradReducer& reducer, float lr, double clip_norm, double grad_norm) {
  WEFT_CHECK(adamw_, "[TrainableState] update() without an optimizer (attach_optimizer first)");
  adamw_->step(ex_, master_, lr, optim::clip_scale(grad_norm, clip_norm), reducer.update_grads(master_));
  reducer.after_update(master_);
  discard_gradients();
  if (mixed_) mixed_->refresh(ex_, master_);  // the next forward (or evaluation) sees the updated weights
}

void TrainableState::discard_gradients() {
  const Tensor grads = master_.grads();  // (the compute copy's were zeroed when folded into these)
  WEFT_LAUNCH(ex_, fill_zero, ex_, grads.data, static_cast<int64_t>(grads.nbytes()));
}

OptimState TrainableState::optimizer_state(par::GradReducer& reducer, OwnedTensor (&keep)[2]) {
  WEFT_CHECK(adamw_, "[TrainableState] no optimizer state to save");
  keep[0] = reducer.gather_full(adamw_->m(), master_.total());
  keep[1] = reducer.gather_full(adamw_->v(), master_.total());
  return OptimState{keep[0].tensor(), keep[1].tensor(), adamw_->steps()};
}

void TrainableState::load(const std::string& checkpoint, TrainState* state) {
  if (!adamw_) {
    load_checkpoint(checkpoint, master_, nullptr, state);
  } else {
    OwnedTensor m(adamw_->m().dtype, {master_.total()}), v(adamw_->v().dtype, {master_.total()});
    OptimState os{m, v, 0};
    load_checkpoint(checkpoint, master_, &os, state);
    const size_t es = dtype_size(m.tensor().dtype);  // keep this rank's range of the moments
    device_copy(ex_.device, adamw_->m().data, Device::cpu,
                static_cast<char*>(m.tensor().data) + adamw_->begin() * es, adamw_->m().nbytes());
    device_copy(ex_.device, adamw_->v().data, Device::cpu,
                static_cast<char*>(v.tensor().data) + adamw_->begin() * es, adamw_->v().nbytes());
    adamw_->set_steps(os.steps);
  }
  if (mixed_) mixed_->refresh(ex_, master_);
}

}  // namespace weft::launch
