// Trainer implementation.
#include "launch/trainer.h"

#include <chrono>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/shard.h"
#include "launch/signals.h"
#include "parallel/comm_nccl.h"
#include "runtime/kernels.h"
#include "runtime/optim/grad_clip.h"

namespace weft::launch {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Trainer::Trainer(TrainOptions opt, std::unique_ptr<models::Model> model, int64_t seq_len, CheckpointMeta meta,
                 par::Communicator& comm, int gpu)
    : opt_(std::move(opt)),
      model_(std::move(model)),
      T_(seq_len),
      meta_(std::move(meta)),
      comm_(comm),
      ex_(resolve_device(opt_.device) == Device::cuda ? cuda::exec_create(gpu) : cpu_exec(opt_.threads)),
      grad_comm_(&comm),
      store_(DType::f32, ex_.device),
      schedule_(opt_.schedule, opt_.lr, opt_.min_lr, opt_.warmup, opt_.decay_steps),
      arena_(ex_.device),
      rng_(opt_.seed, static_cast<uint32_t>(comm.rank())),
      inputs_(DType::i32, {opt_.batch_size, seq_len}),
      targets_(DType::i32, {opt_.batch_size, seq_len}),
      loss_sum_(DType::f32, {1}, ex_.device) {
  const DType compute = parse_compute_dtype(opt_.dtype, ex_.device);
  if (ex_.device == Device::cuda) {
    dev_inputs_ = OwnedTensor(DType::i32, {opt_.batch_size, seq_len}, Device::cuda);
    dev_targets_ = OwnedTensor(DType::i32, {opt_.batch_size, seq_len}, Device::cuda);
    // Gradients and ZeRO shards are device buffers: NCCL across GPUs, device copies for one GPU.
    device_comm_ = comm_.size() > 1 ? par::make_nccl_communicator(comm_, ex_) : par::make_local_communicator(Device::cuda);
    grad_comm_ = device_comm_.get();
  }
  model_->declare(store_);
  const int64_t world = comm_.size();
  store_.finalize(opt_.zero ? world : 1);  // ZeRO-1: equal shards of the flat layout, one per rank
  store_.initialize(opt_.seed);
  if (compute != store_.dtype()) {
    mixed_ = std::make_unique<optim::MixedPrecision>(store_, compute);
    mixed_->refresh(ex_, store_);
  }
  const optim::AdamWConfig acfg{static_cast<float>(opt_.lr), static_cast<float>(opt_.beta1),
                                static_cast<float>(opt_.beta2), 1e-8f, static_cast<float>(opt_.weight_decay)};
  if (opt_.zero) {
    const int64_t shard = store_.total() / world;
    adamw_ = std::make_unique<optim::AdamW>(store_, acfg, comm_.rank() * shard, (comm_.rank() + 1) * shard);
    shard_grads_ = OwnedTensor(store_.dtype(), {shard}, ex_.device);
  } else {
    adamw_ = std::make_unique<optim::AdamW>(store_, acfg);
    if (world > 1) {
      par::GradSync::RangeFn fold;  // mixed precision: widen each bucket's bf16 gradients just before its reduce
      if (mixed_) fold = [this](int64_t begin, int64_t end) { mixed_->fold_grads(ex_, store_, begin, end); };
      grad_sync_ = std::make_unique<par::GradSync>(store_, *grad_comm_,
                                                   static_cast<int64_t>(opt_.bucket_mb * (1 << 20)), fold);
    }
  }
  const int64_t V = model_->vocab_size();
  auto train_shard = std::make_shared<data::Shard>(opt_.data + "/train.bin", V);
  train_ = std::make_unique<data::WindowLoader>(train_shard, T_, opt_.seed);
  if (std::filesystem::exists(opt_.data + "/val.bin")) {
    auto val_shard = std::make_shared<data::Shard>(opt_.data + "/val.bin", V);
    val_ = std::make_unique<data::WindowLoader>(val_shard, T_, opt_.seed);
  }
  state_.rng = rng_.state();
  if (comm_.rank() == 0) {
    std::filesystem::create_directories(opt_.out);
    metrics_ = std::make_unique<MetricsWriter>(opt_.out + "/metrics.jsonl");
  }
}

Trainer::~Trainer() {
  // Everything that queues work on the stream goes before the stream itself.
  grad_sync_.reset();
  device_comm_.reset();
  if (ex_.device == Device::cuda) cuda::exec_destroy(ex_);
}

ParamStore& Trainer::params() const { return mixed_ ? mixed_->compute() : store_; }

models::Batch Trainer::stage_batch(const OwnedTensor& in, const OwnedTensor& tgt, int64_t rows, float normalizer) {
  if (ex_.device == Device::cpu) return models::Batch{in.tensor().slice_rows(0, rows), tgt.tensor().slice_rows(0, rows), normalizer};
  const size_t bytes = static_cast<size_t>(rows * T_) * sizeof(int32_t);
  device_copy(Device::cuda, dev_inputs_.tensor().data, Device::cpu, in.tensor().data, bytes);
  device_copy(Device::cuda, dev_targets_.tensor().data, Device::cpu, tgt.tensor().data, bytes);
  return models::Batch{dev_inputs_.tensor().slice_rows(0, rows), dev_targets_.tensor().slice_rows(0, rows), normalizer};
}

void Trainer::resume_from(const std::string& path) {
  OwnedTensor m(adamw_->m().dtype, {store_.total()}), v(adamw_->v().dtype, {store_.total()});
  OptimState os{m, v, 0};
  load_checkpoint(path, store_, &os, &state_);
  const size_t es = dtype_size(m.tensor().dtype);  // keep this rank's slice of the moments
  device_copy(ex_.device, adamw_->m().data, Device::cpu, static_cast<char*>(m.tensor().data) + adamw_->begin() * es,
              adamw_->m().nbytes());
  device_copy(ex_.device, adamw_->v().data, Device::cpu, static_cast<char*>(v.tensor().data) + adamw_->begin() * es,
              adamw_->v().nbytes());
  adamw_->set_steps(os.steps);
  if (mixed_) mixed_->refresh(ex_, store_);
  train_->set_cursor(state_.consumed_samples);
  rng_.set_state(RngState{state_.rng.seed, static_cast<uint32_t>(comm_.rank()), state_.rng.offset});
  if (comm_.rank() == 0)
    std::printf("resumed from %s at step %lld (%lld samples consumed)\n", path.c_str(), (long long)state_.step,
                (long long)state_.consumed_samples);
}

double Trainer::train_step() {
  const int64_t B = opt_.batch_size, world = comm_.size();
  // Every micro-batch's loss is divided by the token count of the whole global step, so the summed
  // gradients are exactly the gradient of the global mean loss however the step is split.
  const float normalizer = static_cast<float>(B * T_ * opt_.grad_accum * world);
  const Tensor& loss_sum = loss_sum_.tensor();
  WEFT_LAUNCH(ex_, fill_zero, ex_, loss_sum.data, static_cast<int64_t>(loss_sum.nbytes()));
  Graph g(ex_, arena_);
  for (int64_t micro = 0; micro < opt_.grad_accum; ++micro) {
    train_->next_batch(B, comm_.rank(), static_cast<int>(world), inputs_.ptr<int32_t>(), targets_.ptr<int32_t>());
    Var loss = model_->loss(g, params(), stage_batch(inputs_, targets_, B, normalizer), rng_, true);
    WEFT_LAUNCH(ex_, axpby, ex_, DType::f32, loss_sum.data, 1.0f, loss->value.data, 1.0f, 1);
    const bool overlap = grad_sync_ && micro + 1 == opt_.grad_accum;
    if (overlap) grad_sync_->attach(g);  // buckets fold (bf16) and reduce during the backward
    g.backward(loss);
    if (mixed_ && !overlap) mixed_->fold_grads(ex_, store_);
    g.clear();
  }
  float local_loss = 0.0f;  // the one device-to-host copy of the step's loss
  device_copy(Device::cpu, &local_loss, ex_.device, loss_sum.data, sizeof(float));
  double loss_sum_global = local_loss;
  if (world > 1) comm_.all_reduce(&loss_sum_global, 1, DType::f64, par::ReduceOp::sum);
  reduce_and_update();
  ++state_.step;
  state_.consumed_samples = train_->cursor();
  state_.tokens_seen += B * T_ * opt_.grad_accum * world;
  state_.rng = RngState{rng_.state().seed, 0, rng_.state().offset};
  return loss_sum_global;
}

void Trainer::reduce_and_update() {
  const float lr = static_cast<float>(schedule_.at(state_.step));
  Tensor grads = store_.grads(), values = store_.values();
  if (!opt_.zero) {  // replicated: every rank sums all gradients and applies the same update
    if (grad_sync_) grad_sync_->finish();
    last_grad_norm_ = optim::global_grad_norm(ex_, store_);
    adamw_->step(ex_, store_, lr, optim::clip_scale(last_grad_norm_, opt_.clip));
  } else {  // ZeRO-1: reduce-scatter gradients, update the own shard, all-gather the parameters
    const Tensor& shard = shard_grads_.tensor();
    grad_comm_->reduce_scatter(grads.data, shard.data, shard.numel(), grads.dtype, par::ReduceOp::sum);
    double ss = 0.0;
    WEFT_LAUNCH(ex_, sum_squares, ex_, shard.dtype, &ss, shard.data, shard.numel());
    comm_.all_reduce(&ss, 1, DType::f64, par::ReduceOp::sum);
    last_grad_norm_ = std::sqrt(ss);
    adamw_->step(ex_, store_, lr, optim::clip_scale(last_grad_norm_, opt_.clip), shard.data);
    char* own = static_cast<char*>(values.data) + adamw_->begin() * static_cast<int64_t>(dtype_size(values.dtype));
    grad_comm_->all_gather(own, values.data, shard.numel(), values.dtype);  // in place
  }
  WEFT_LAUNCH(ex_, fill_zero, ex_, grads.data, static_cast<int64_t>(grads.nbytes()));
  if (mixed_) mixed_->refresh(ex_, store_);  // the next forward (or evaluation) sees the updated weights
}

OwnedTensor Trainer::gather_moment(const Tensor& shard) {
  OwnedTensor full(shard.dtype, {store_.total()}, ex_.device);
  grad_comm_->all_gather(shard.data, full.tensor().data, shard.numel(), shard.dtype);
  return full;
}

double Trainer::evaluate(int64_t batches) {
  if (!val_ || batches == 0) return std::nan("");
  const int64_t B = opt_.batch_size;
  const int64_t total = std::min(batches * B, val_->windows());
  double sum = 0.0;
  int64_t count = 0;
  Graph g(ex_, arena_);
  g.grad_enabled = false;
  Rng unused(0);
  // Windows are dealt round-robin to ranks in batches of B; the sums are reduced across ranks.
  for (int64_t first = comm_.rank() * B; first < total; first += B * comm_.size()) {
    int64_t n = std::min(B, total - first);
    for (int64_t b = 0; b < n; ++b)
      val_->sequential(first + b, inputs_.ptr<int32_t>() + b * T_, targets_.ptr<int32_t>() + b * T_);
    // normalizer 1: the summed token loss
    Var loss = model_->loss(g, params(), stage_batch(inputs_, targets_, n, 1.0f), unused, false);
    float batch_sum = 0.0f;
    device_copy(Device::cpu, &batch_sum, ex_.device, loss->value.data, sizeof(float));
    sum += batch_sum;
    count += n * T_;
    g.clear();
  }
  double buf[2] = {sum, static_cast<double>(count)};
  if (comm_.size() > 1) comm_.all_reduce(buf, 2, DType::f64, par::ReduceOp::sum);
  return buf[0] / buf[1];
}

void Trainer::log_step(double loss, double lr, double grad_norm, double step_seconds) {
  if (comm_.rank() != 0) return;
  const double tokens_per_step = static_cast<double>(opt_.batch_size * T_ * opt_.grad_accum * comm_.size());
  const double tps = tokens_per_step / step_seconds;
  const double eta = step_seconds * static_cast<double>(opt_.steps - state_.step);
  std::printf("%s\n", progress_line(state_.step, opt_.steps, loss, lr, tps, eta).c_str());
  std::fflush(stdout);
  metrics_->write(JsonLine()
                     .integer("step", state_.step)
                     .num("loss", loss)
                     .num("lr", lr)
                     .num("grad_norm", grad_norm)
                     .integer("tokens", state_.tokens_seen)
                     .num("tokens_per_s", tps)
                     .num("elapsed_s", state_.elapsed_s));
}

void Trainer::save() {
  OptimState os{adamw_->m(), adamw_->v(), adamw_->steps()};
  OwnedTensor m_full, v_full;
  if (opt_.zero) {  // collective: every rank contributes its shard of the moments
    m_full = gather_moment(adamw_->m());
    v_full = gather_moment(adamw_->v());
    os.m = m_full;
    os.v = v_full;
  }
  std::string path = save_checkpoint(opt_.out, store_, os, state_, meta_, opt_.keep_checkpoints, comm_);
  if (comm_.rank() == 0) std::printf("saved checkpoint %s\n", path.c_str());
}

double Trainer::run() {
  if (comm_.rank() == 0)
    std::printf("model %s: %lld parameters, %.3g training FLOPs/token; global batch %lld x %lld tokens; %s, %s%s\n",
                meta_.model.c_str(), (long long)store_.numel(), model_->flops_per_token(T_),
                (long long)(opt_.batch_size * opt_.grad_accum * comm_.size()), (long long)T_,
                ex_.device == Device::cuda ? "cuda" : "cpu", std::string(dtype_name(params().dtype())).c_str(),
                mixed_ ? " (fp32 master weights)" : "");
  double window_start = now_s(), last_loss = 0.0;
  int64_t window_steps = 0;
  double val_loss = std::nan("");
  while (state_.step < opt_.steps) {
    double t0 = now_s();
    double lr = schedule_.at(state_.step);
    last_loss = train_step();
    double dt = now_s() - t0;
    state_.elapsed_s += dt;
    ++window_steps;
    WEFT_CHECK(std::isfinite(last_loss), "[train] loss is ", last_loss, " at step ", state_.step,
               " (diverged: lower --lr or raise --warmup)");
    if (state_.step % opt_.log_every == 0 || state_.step == opt_.steps) {
      log_step(last_loss, lr, last_grad_norm_, (now_s() - window_start) / window_steps);
      window_start = now_s();
      window_steps = 0;
    }
    bool last = state_.step == opt_.steps;
    if ((opt_.eval_every > 0 && state_.step % opt_.eval_every == 0) || last) {
      val_loss = evaluate(opt_.eval_batches);
      if (std::isfinite(val_loss)) {
        state_.best_val_loss = std::min(state_.best_val_loss, val_loss);
        if (comm_.rank() == 0) {
          std::printf("step %lld | val_loss %.4f | ppl %.2f\n", (long long)state_.step, val_loss, std::exp(val_loss));
          metrics_->write(JsonLine().integer("step", state_.step).num("val_loss", val_loss));
        }
      }
      window_start = now_s();
      window_steps = 0;
    }
    if ((opt_.save_every > 0 && state_.step % opt_.save_every == 0) || (last && opt_.save_on_exit)) save();
    // All ranks agree on stopping at the same step: a signal seen by any rank stops all of them.
    int64_t stop = stop_requested() ? 1 : 0;
    if (comm_.size() > 1) comm_.all_reduce(&stop, 1, DType::i64, par::ReduceOp::max);
    if (stop && !last) {
      if (comm_.rank() == 0) std::printf("stop signal received: saving at step %lld\n", (long long)state_.step);
      save();
      stopped_ = true;
      return std::nan("");
    }
  }
  return val_loss;
}

}  // namespace weft::launch
