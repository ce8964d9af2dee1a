// Trainer implementation.
#include "launch/trainer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/loss_mask.h"
#include "data/split.h"
#include "launch/evaluation.h"
#include "launch/model_state.h"
#include "launch/signals.h"
#include "parallel/comm_nccl.h"

namespace weft::launch {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
bool listed(const std::vector<int64_t>& steps, int64_t step) {
  return std::binary_search(steps.begin(), steps.end(), step);
}
constexpr double kInjectedSpike = 1000.0;  // --inject-spike-at: added to rank 0's loss
}  // namespace

Trainer::Trainer(TrainOptions opt, std::unique_ptr<models::Model> model, int64_t seq_len, CheckpointMeta meta,
                 par::Communicator& comm, int gpu)
    : opt_(std::move(opt)),
      model_(std::move(model)),
      T_(seq_len),
      meta_(std::move(meta)),
      comm_(comm),
      exec_(resolve_device(opt_.device), gpu, opt_.threads),
      schedule_(opt_.schedule, opt_.lr, opt_.min_lr, opt_.warmup, opt_.decay_steps),
      arena_(exec_.device()),
      rng_(opt_.seed, static_cast<uint32_t>(comm.rank())),
      losses_(exec_.device()),
      inputs_(DType::i32, {opt_.grad_accum * opt_.batch_size, seq_len}),
      targets_(DType::i32, {opt_.grad_accum * opt_.batch_size, seq_len}),
      guard_(opt_.max_skipped_steps, opt_.spike_guard, opt_.spike_window) {
  Exec& ex = exec_.get();
  opt_.kernels.apply(ex);
  apply_cpu_dtype(ex, opt_.dtype);
  const DType compute = parse_compute_dtype(opt_.dtype, ex.device);
  const int world = comm_.size();
  par::Communicator* grad_comm = &comm_;  // gradients and ZeRO shards live where the parameters do
  if (ex.device == Device::cuda) {
    const size_t batch_bytes = static_cast<size_t>(opt_.batch_size * seq_len) * sizeof(int32_t);
    if (opt_.sync_input) {
      dev_inputs_ = OwnedTensor(DType::i32, {opt_.batch_size, seq_len}, Device::cuda);
      dev_targets_ = OwnedTensor(DType::i32, {opt_.batch_size, seq_len}, Device::cuda);
    } else {
      input_stager_ = std::make_unique<InputStager>(ex, InputStager::bytes_for({batch_bytes, batch_bytes}));
    }
    // Gradients and ZeRO shards are device buffers: NCCL across GPUs, device copies for one GPU.
    device_comm_ = world > 1 ? par::make_nccl_communicator(comm_, ex) : par::make_local_communicator(Device::cuda);
    grad_comm = device_comm_.get();
  }
  // Expert parallelism: checked before anything is declared (exit 2 naming --expert-parallel); the model
  // learns its shard and its exchange before declare(), so it declares only its own experts.
  experts_ = par::make_expert_layout(world, comm_.rank(), opt_.expert_parallel, model_->n_experts(), model_->name());
  par::ExpertGrads expert_grads;
  if (experts_.expert_parallel > 1) {
    WEFT_CHECK(opt_.zero == 0, "--expert-parallel ", experts_.expert_parallel, " with --zero 1 is not supported");
    expert_host_ = par::split_expert_comms(comm_, experts_);
    par::ExpertComms* on_device = &expert_host_;
    if (ex.device == Device::cuda) {
      expert_device_ = par::split_expert_comms(*device_comm_, experts_);
      on_device = &expert_device_;
    }
    exchange_ = std::make_unique<par::CommExpertExchange>(*on_device->group);
    expert_grads = par::ExpertGrads{on_device->replicas.get(), expert_host_.group.get()};
  }
  model_->set_parallel(par::make_parallel_context(experts_, exchange_.get()));
  state_store_ = std::make_unique<TrainableState>(*model_, ex, compute, opt_.zero ? world : 1);
  reducer_ = par::make_grad_reducer(opt_.zero, state_store_->master(), *grad_comm, comm_,
                                    static_cast<int64_t>(opt_.bucket_mb * (1 << 20)), state_store_->fold_fn(),
                                    experts_.expert_parallel > 1 ? &expert_grads : nullptr);
  state_store_->attach_optimizer(optim::AdamWConfig{static_cast<float>(opt_.lr), static_cast<float>(opt_.beta1),
                                                    static_cast<float>(opt_.beta2), 1e-8f,
                                                    static_cast<float>(opt_.weight_decay)},
                                 *reducer_);
  state_store_->initialize(opt_.seed);
  const int64_t V = model_->vocab_size();
  WEFT_CHECK(T_ <= model_->max_seq_len(), "--seq-len ", T_, ": model '", model_->name(),
             "' supports sequences of at most ", model_->max_seq_len(), " tokens");
  // --pack segments: one stream per row of the global batch (ids as in launch/model_state.h); validation walks
  // --batch-size streams of the val split. A loss mask next to a split (data/loss_mask.h) applies in any packing.
  const auto open = [&](const std::string& split, bool training) {
    auto shards = data::open_split(opt_.data, split, V);
    auto masks = data::open_loss_mask(opt_.data, split, shards);
    if (training) masked_ = !masks.empty();
    if (opt_.pack == data::Packing::segments) {
      auto& seg = training ? train_segments_ : val_segments_;
      seg = std::make_unique<data::SegmentLoader>(shards, T_,
                                                  training ? opt_.batch_size * world * opt_.grad_accum : opt_.batch_size);
      seg->set_loss_mask(std::move(masks));
    } else {
      auto& win = training ? train_ : val_;
      win = std::make_unique<data::WindowLoader>(shards, T_, opt_.seed, opt_.pack);
      win->set_loss_mask(std::move(masks));
    }
  };
  open("train", true);
  if (!data::split_files(opt_.data, "val").empty()) open("val", false);
  if (opt_.pack == data::Packing::segments) starts_.assign(static_cast<size_t>(opt_.grad_accum * opt_.batch_size), 0);
  if (opt_.objective.infonce)
    infonce_ = std::make_unique<InfoNceObjective>(opt_.objective.nce, data::load_tokenizer(opt_.data), *model_,
                                                  state_store_->params(), ex, T_, opt_.batch_size, opt_.grad_accum,
                                                  world, opt_.seed);
  state_.rng = rng_.state();
  state_.lr_decay_steps = opt_.decay_steps;
  if (comm_.rank() == 0) {
    std::filesystem::create_directories(opt_.out);
    metrics_ = std::make_unique<MetricsWriter>(opt_.out + "/metrics.jsonl");
  }
  if (opt_.log_norms_every > 0)  // after create_directories; every rank draws the held-out batch
    norms_ = std::make_unique<NormsLog>(opt_.out, opt_.data, *model_, meta_.config_ini, T_, comm_);
}

Trainer::~Trainer() {
  // Everything that queues work on the stream goes before the stream itself (exec_ is destroyed last).
  reducer_.reset();
  state_store_.reset();
  exchange_.reset();
  expert_device_ = par::ExpertComms{};  // NCCL sub-communicators before their parent
  device_comm_.reset();
}

models::Batch Trainer::stage_batch(int64_t micro, float normalizer, const int64_t* streams) {
  const int64_t B = opt_.batch_size;
  Tensor inputs = inputs_.tensor().slice_rows(micro * B, (micro + 1) * B);
  Tensor targets = targets_.tensor().slice_rows(micro * B, (micro + 1) * B);
  models::Batch batch{inputs, targets, normalizer, streams};
  if (!starts_.empty()) batch.starts = starts_.data() + micro * B;
  if (exec_.device() == Device::cpu) return batch;
  const size_t bytes = static_cast<size_t>(B * T_) * sizeof(int32_t);
  if (input_stager_) {  // pinned, double-buffered, copied on a side stream while the previous micro-batch runs
    const std::vector<void*> dev = input_stager_->upload({{inputs.data, bytes}, {targets.data, bytes}});
    batch.inputs = Tensor{DType::i32, Device::cuda, Shape{B, T_}, dev[0]};
    batch.targets = Tensor{DType::i32, Device::cuda, Shape{B, T_}, dev[1]};
    return batch;
  }
  device_copy(Device::cuda, dev_inputs_.tensor().data, Device::cpu, inputs.data, bytes);
  device_copy(Device::cuda, dev_targets_.tensor().data, Device::cpu, targets.data, bytes);
  batch.inputs = dev_inputs_.tensor().slice_rows(0, B);
  batch.targets = dev_targets_.tensor().slice_rows(0, B);
  return batch;
}

void Trainer::read_step() {
  const int64_t B = opt_.batch_size, rows = B * T_;
  const int world = comm_.size();
  int32_t* in = inputs_.ptr<int32_t>();
  int32_t* tg = targets_.ptr<int32_t>();
  if (!train_segments_) {
    for (int64_t micro = 0; micro < opt_.grad_accum; ++micro)
      train_->next_batch(B, comm_.rank(), world, in + micro * rows, tg + micro * rows);
    return;
  }
  // Row b of micro-batch m reads the current segment of its global stream; then every stream moves on.
  for (int64_t micro = 0; micro < opt_.grad_accum; ++micro) {
    const std::vector<int64_t> ids = stream_ids(micro, comm_.rank(), world, B);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = micro * B + b;
      train_segments_->read(ids[static_cast<size_t>(b)], in + row * T_, tg + row * T_, &starts_[static_cast<size_t>(row)]);
    }
  }
  train_segments_->advance();
}

void Trainer::init_from(const std::string& checkpoint) {
  const InitFromReport r = state_store_->init_from(checkpoint);
  if (comm_.rank() == 0) std::printf("init-from %s: %s\n", checkpoint.c_str(), r.summary().c_str());
}

void Trainer::resume_from(const std::string& path) {
  const int64_t schedule_steps = state_.lr_decay_steps;
  state_store_->load(path, &state_);
  if (train_segments_) {
    WEFT_CHECK(!state_.segment_cursors.empty(), "[checkpoint] ", path,
               " holds no stream cursors (data/segment_cursors) to continue --pack segments from");
    train_segments_->set_cursors(state_.segment_cursors);
  } else if (!infonce_) {  // InfoNCE groups follow from the step alone
    train_->set_cursor(state_.consumed_samples);
  }
  rng_.set_state(RngState{state_.rng.seed, static_cast<uint32_t>(comm_.rank()), state_.rng.offset});
  std::vector<models::StateTensor> stored = load_model_state(path);
  WEFT_CHECK(model_->has_state() || stored.empty(), "[checkpoint] ", path, " holds model state (state/) that model '",
             model_->name(), "' does not keep (a checkpoint of another configuration?)");
  if (model_->has_state()) {
    std::vector<models::StateTensor> mine;  // the streams this rank runs under the current layout
    for (auto& t : stored)
      if (owns_stream(t.stream, comm_.rank(), comm_.size(), opt_.batch_size, opt_.grad_accum)) mine.push_back(std::move(t));
    model_->load_state(mine);
  }
  if (comm_.rank() == 0) {
    std::printf("resumed from %s at step %lld (%lld samples consumed)\n", path.c_str(), (long long)state_.step,
                (long long)state_.consumed_samples);
    if (state_.lr_decay_steps > 0 && state_.lr_decay_steps != schedule_steps)
      std::printf("note: the learning rate now decays over %lld steps; the checkpoint's run decayed over %lld "
                  "(pass --decay-steps %lld to continue its schedule)\n",
                  (long long)schedule_steps, (long long)state_.lr_decay_steps, (long long)state_.lr_decay_steps);
  }
  state_.lr_decay_steps = schedule_steps;
}

Trainer::StepResult Trainer::train_step() {
  Exec& ex = exec_.get();
  const int64_t B = opt_.batch_size, accum = opt_.grad_accum, rows = B * T_;
  const int world = comm_.size();
  // padded or a loss mask: not every target counts
  const bool padded = opt_.pack == data::Packing::padded || masked_;
  // The whole step's data first: its global count of targets that count is every micro-batch's divisor.
  if (!infonce_) read_step();
  const int64_t window_tokens = rows * accum * world * (infonce_ ? infonce_->group_size() : 1);
  int64_t counted = window_tokens;  // concat, segments, infonce: every position counts (as tokens run)
  if (padded && !infonce_) {  // pads (masked targets) do not: count them here, sum over ranks
    counted = data::count_targets(targets_.ptr<int32_t>(), rows * accum);
    if (world > 1) comm_.all_reduce(&counted, 1, DType::i64, par::ReduceOp::sum);
  }
  // Every micro-batch's loss is divided by the count of the whole global step, so the summed gradients
  // are exactly the gradient of the global mean loss however the step is split (a step of documents with
  // nothing to predict divides zeros by 1).
  const float normalizer = static_cast<float>(std::max<int64_t>(counted, 1));
  // Auxiliary terms enter the objective and the report weighted by the micro-batch's share of the step's
  // windows (Batch::share under padding, where the normalizer counts real targets only).
  ParamStore& params = state_store_->params();
  losses_.begin_step(ex);
  Graph g(ex, arena_);
  for (int64_t micro = 0; micro < accum; ++micro) {
    models::LossTerms terms;
    if (infonce_) {  // this rank's groups of the micro-batch; normalised by the step's group count
      terms = infonce_->loss_terms(g, params, state_.step, micro, comm_.rank());
      losses_.add(ex, terms, infonce_->share());
    } else {
      std::vector<int64_t> streams;
      if (model_->has_state() || train_segments_) streams = stream_ids(micro, comm_.rank(), world, B);
      models::Batch batch = stage_batch(micro, normalizer, streams.empty() ? nullptr : streams.data());
      if (padded) batch.share = static_cast<double>(rows) / static_cast<double>(window_tokens);
      terms = model_->loss_terms(g, params, batch, rng_, true);
      losses_.add(ex, terms, batch.token_share());
    }
    const bool folded = micro + 1 == accum && reducer_->attach(g);
    g.backward(terms.total);
    state_store_->end_micro_batch(folded);
    g.clear();
  }
  StepResult r;
  r.losses = losses_.finish(comm_);
  const int64_t step = state_.step + 1;  // as logged
  if (comm_.rank() == 0 && listed(opt_.inject_nan_at, step)) r.losses.loss = std::nan("");  // rank 0 alone:
  if (comm_.rank() == 0 && listed(opt_.inject_spike_at, step)) r.losses.loss += kInjectedSpike;  // ranks must agree
  // Judge the step before AdamW touches anything; every rank applies or skips alike (the worst verdict wins).
  r.grad_norm = state_store_->reduce_gradients(*reducer_);
  r.skip = guard_.judge(r.losses.loss, r.grad_norm, state_);
  if (world > 1) {
    auto verdict = static_cast<int64_t>(r.skip);
    comm_.all_reduce(&verdict, 1, DType::i64, par::ReduceOp::max);
    r.skip = static_cast<SkipReason>(verdict);
  }
  if (r.skip == SkipReason::none) {
    state_store_->apply_update(*reducer_, static_cast<float>(schedule_.at(state_.step)), opt_.clip, r.grad_norm);
    guard_.accept(r.losses.loss, state_);
  } else {
    r.why = guard_.describe(r.skip, r.losses.loss, r.grad_norm, state_);
    state_store_->discard_gradients();
    guard_.skip(state_);
  }
  r.tokens = counted;
  ++state_.step;
  if (infonce_) {
    state_.consumed_samples += infonce_->groups_per_step();  // groups, globally
  } else if (train_segments_) {
    state_.consumed_samples += B * accum * world;  // segments read, globally
    state_.segment_cursors = train_segments_->cursors();
  } else {
    state_.consumed_samples = train_->cursor();
  }
  state_.tokens_seen += window_tokens;
  state_.rng = RngState{rng_.state().seed, 0, rng_.state().offset};
  return r;
}

double Trainer::evaluate(int64_t batches) {
  if ((!val_ && !val_segments_) || batches == 0) return std::nan("");
  EvalRequest request{batches * opt_.batch_size, opt_.batch_size};
  if (val_segments_)
    return evaluate_segments(*model_, state_store_->params(), exec_.get(), arena_, *val_segments_, request, comm_).mean();
  return evaluate_windows(*model_, state_store_->params(), exec_.get(), arena_, *val_, request, comm_).mean();
}

void Trainer::log_step(const StepResult& r, double lr, double step_seconds, double real_tokens_per_step,
                       double interval_mean_loss) {
  if (comm_.rank() != 0) return;
  const double tokens_per_step = static_cast<double>(opt_.batch_size * T_ * opt_.grad_accum * comm_.size() *
                                                    (infonce_ ? infonce_->group_size() : 1));
  const double tps = tokens_per_step / step_seconds, real_tps = real_tokens_per_step / step_seconds;
  const double eta = step_seconds * static_cast<double>(opt_.steps - state_.step);
  const bool padded = opt_.pack == data::Packing::padded || masked_;
  std::string line = progress_line(state_.step, opt_.steps, r.losses.loss, lr, tps, eta);
  if (padded) {  // window tokens/s above (what the hardware runs), real (counted) tokens/s here
    char buf[64];
    if (real_tps >= 1e4) std::snprintf(buf, sizeof buf, " | real %.1fk tok/s", real_tps / 1e3);
    else std::snprintf(buf, sizeof buf, " | real %.0f tok/s", real_tps);
    line += buf;
  }
  JsonLine json;
  json.integer("step", state_.step).num("loss", r.losses.loss).num("loss_avg", interval_mean_loss);
  for (const auto& [name, value] : r.losses.aux) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " | %s %.4g", name.c_str(), value);
    line += buf;
    json.num(name, value);
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  json.num("lr", lr).num("grad_norm", r.grad_norm).integer("tokens", state_.tokens_seen).num("tokens_per_s", tps);
  if (padded) json.num("real_tokens_per_s", real_tps);
  if (state_.skipped_total > 0) json.integer("skipped_total", state_.skipped_total);
  metrics_->write(json.num("elapsed_s", state_.elapsed_s));
}

void Trainer::log_skip(const StepResult& r, double lr) {
  if (comm_.rank() != 0) return;
  std::fflush(stdout);
  std::fprintf(stderr, "warning: step %lld: %s: update skipped (%lld in a row, %lld in total)\n", (long long)state_.step,
               r.why.c_str(), (long long)state_.skipped_in_row, (long long)state_.skipped_total);
  std::fflush(stderr);
  metrics_->write(JsonLine()
                      .integer("step", state_.step)
                      .num("loss", r.losses.loss)
                      .num("lr", lr)
                      .num("grad_norm", r.grad_norm)
                      .integer("skipped", 1)
                      .integer("skipped_in_row", state_.skipped_in_row)
                      .integer("skipped_total", state_.skipped_total)
                      .str("skip_reason", r.why)
                      .integer("tokens", state_.tokens_seen)
                      .num("elapsed_s", state_.elapsed_s));
}

void Trainer::warn_if_diverging(double loss) {
  // (an LM's loss against ln(vocab); InfoNCE's starts anywhere below 2 / tau + ln(N - 1) and is not judged)
  if (infonce_ || divergence_warned_ || comm_.rank() != 0) return;
  if (!loss_far_above_start(loss, model_->vocab_size())) return;
  divergence_warned_ = true;
  std::fflush(stdout);
  std::fprintf(stderr, "warning: step %lld: loss %.4g is far above ln(vocab) = %.2f (diverging? lower --lr or raise "
               "--warmup; --spike-guard Z skips such updates)\n",
               (long long)state_.step, loss, std::log(static_cast<double>(model_->vocab_size())));
  std::fflush(stderr);
}

std::string Trainer::save() {
  OwnedTensor moments[2];
  OptimState os = state_store_->optimizer_state(*reducer_, moments);  // collective under ZeRO-1
  std::vector<models::StateTensor> model_state;
  if (model_->has_state()) {
    std::vector<models::StateTensor> mine;
    for (auto& t : model_->save_state())
      if (owns_stream(t.stream, comm_.rank(), comm_.size(), opt_.batch_size, opt_.grad_accum)) mine.push_back(std::move(t));
    model_state = gather_model_state(mine, comm_);  // collective; rank 0 writes
  }
  std::string path = save_checkpoint(opt_.out, state_store_->master(), os, state_, meta_, opt_.keep_checkpoints, comm_,
                                     model_state, expert_host_.group.get(),  // one shard file per expert shard
                                     opt_.keep_log_spaced ? opt_.save_every : 0);
  if (comm_.rank() == 0) std::printf("saved checkpoint %s\n", path.c_str());
  return path;
}

double Trainer::run() {
  const std::string notes = model_->summary_notes(), model_notes = notes.empty() ? "" : " (" + notes + ")";
  if (comm_.rank() == 0)
    std::printf("model %s%s: %lld parameters%s, %.3g training FLOPs/token; global batch %lld x %lld tokens%s; %s, %s%s\n",
                meta_.model.c_str(), model_notes.c_str(), (long long)state_store_->master().numel(),
                experts_.expert_parallel > 1 ? " on this rank (experts split over --expert-parallel ranks)" : "",
                model_->flops_per_token(T_),
                (long long)(opt_.batch_size * opt_.grad_accum * comm_.size()), (long long)T_,
                opt_.pack == data::Packing::padded    ? " (one padded document each)"
                : opt_.pack == data::Packing::segments ? " (consecutive segments of one stream each)"
                                                       : "",
                exec_.device() == Device::cuda ? "cuda" : "cpu", std::string(dtype_name(compute_dtype())).c_str(),
                state_store_->mixed_precision() ? " (fp32 master weights)"
                : exec_.get().cpu_bf16_gemm     ? " (--dtype bf16: GEMMs on bf16-rounded operands, f32 accumulation)"
                                                : "");
  if (exec_.device() == Device::cuda && comm_.rank() == 0)
    std::printf("kernels: --attention-backend %s, --norm-backend %s (cuDNN's attention and norms %s)\n",
                kernel_backend_name(opt_.kernels.attention), kernel_backend_name(opt_.kernels.norm),
                cuda::cudnn_attention_built() ? "built" : "not built");
  if (infonce_ && comm_.rank() == 0)
    std::printf("objective infonce: %lld groups per step of 1 query + %lld documents from %lld train pairs; embedding "
                "%s at %s; tau %g\n",
                (long long)infonce_->groups_per_step(), (long long)(infonce_->group_size() - 1),
                (long long)infonce_->train_pairs(), infonce_->tap().tap.c_str(),
                infonce_->tap().last_token ? "the last real token"
                                           : ("position " + std::to_string(infonce_->tap().index)).c_str(),
                opt_.objective.nce.tau);
  double window_start = now_s(), window_tokens = 0;
  int64_t window_steps = 0;
  double interval_loss_sum = 0;  // train losses since the last log line (their mean: loss_avg)
  int64_t interval_loss_steps = 0;
  double val_loss = std::nan("");
  if (norms_ && state_.step == 0) norms_->record(0, *model_, state_store_->params(), exec_.get(), arena_);
  while (state_.step < opt_.steps) {
    double t0 = now_s();
    double lr = schedule_.at(state_.step);
    StepResult r = train_step();
    double dt = now_s() - t0;
    state_.elapsed_s += dt;
    ++window_steps;
    window_tokens += static_cast<double>(r.tokens);
    if (r.skip == SkipReason::none) warn_if_diverging(r.losses.loss);
    if (r.skip != SkipReason::none) {  // a skipped update: its own metrics line, outside the interval means
      log_skip(r, lr);
      if (guard_.exhausted(state_)) {  // the weights are those of the last good step: save them and stop
        const int64_t first = state_.step - state_.skipped_in_row, streak = state_.skipped_in_row;
        state_.skipped_in_row = 0;  // a run resumed from this checkpoint counts its streak afresh
        const std::string path = save();
        std::fflush(stdout);
        if (comm_.rank() == 0)
          std::fprintf(stderr,
                       "error: %lld consecutive updates skipped (steps %lld-%lld, --max-skipped-steps %lld; last: %s). "
                       "Saved the last good state as %s: the weights after step %lld, the data cursor after step "
                       "%lld. Lower --lr or raise --warmup (or check the data), then continue with --resume latest\n",
                       (long long)streak, (long long)(first + 1), (long long)state_.step,
                       (long long)guard_.max_skipped(), r.why.c_str(), path.c_str(), (long long)first,
                       (long long)state_.step);
        gave_up_ = true;
        return std::nan("");
      }
    } else {
      interval_loss_sum += r.losses.loss;
      ++interval_loss_steps;
    }
    if (r.skip == SkipReason::none && (state_.step % opt_.log_every == 0 || state_.step == opt_.steps)) {
      log_step(r, lr, (now_s() - window_start) / window_steps, window_tokens / window_steps,
               interval_loss_sum / static_cast<double>(interval_loss_steps));
      interval_loss_sum = 0;
      interval_loss_steps = 0;
      window_start = now_s();
      window_steps = 0;
      window_tokens = 0;
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
      window_tokens = 0;
    }
    if (norms_ && (state_.step % opt_.log_norms_every == 0 || last))
      norms_->record(state_.step, *model_, state_store_->params(), exec_.get(), arena_);
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
