// weft bench: training throughput on synthetic tokens (no data folder needed). Runs warm-up steps, then
// timed steps of forward + backward + AdamW (the trainer's step without I/O), and reports tokens/s, model
// FLOP/s with FLOPs per token = 6N + 6 L T d (llm.c's convention: models/model.h), MACs per token
// (Model::macs_per_token: the MoEUT spec's A.7 count for moeut and the transformer, FLOPs / 6 otherwise),
// MFU against the device's theoretical dense peak (GPU: SM count x clock x FLOPs per SM per clock,
// runtime/exec.h) and against the measured GEMM peak of the same backend and dtype, the update's share of
// the step (from the end of the backward: gradient reduction, norm, clip, AdamW, bf16 refresh), and peak memory.
// Under mpirun with more than one rank every rank runs the step on its own synthetic tokens, gradients are
// reduced over the world like the trainer's (with --expert-parallel E: the trainer's E x D layout, the
// experts' exchange and the expert-aware reducer); rank 0 reports tokens/s over all ranks, peak memory as
// the maximum over ranks, and the all-to-all bytes per step (CommExpertExchange::bytes_sent over the timed
// steps, summed over ranks: dispatch and return, forward and backward). --json appends one JSON line.
// --segments K (models with state across steps, e.g. --model infinite; spec infinite-memory.md B.10): every
// repeat resets the model's state and runs K consecutive segments of --seq-len tokens per stream (stream ids
// 0..B-1, Batch::starts 1 on the first segment only), each a full training step as under --pack segments, so
// the last segment runs with K - 1 segments of history in the model's state; the timed figure is that last
// segment's step (--warmup-steps repeats untimed, --steps repeats timed), peak memory covers all K segments.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include "launch/commands.h"
#include "launch/metrics.h"
#include "launch/model_options.h"
#include "launch/model_state.h"
#include "launch/session.h"
#include "launch/train_options.h"
#include "runtime/gemm_peak.h"
#include "launch/trainable_state.h"
#include "parallel/comm_nccl.h"
#include "parallel/expert_parallel.h"
#include "parallel/grad_reducer.h"
#include "runtime/cpu_gemm.h"
#include "runtime/cudnn_info.h"
#include "runtime/rng.h"

namespace weft::launch {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) * 1024.0;
}

}  // namespace

int cmd_bench(const std::vector<std::string>& args) {
  OptionSet set("bench");
  add_model_options(set, chosen_model(args));
  add_device_options(set, "bench");
  set.group("bench").add_options()
      ("batch-size", po::value<int64_t>()->default_value(8), "sequences per step (per rank)")
      ("steps", po::value<int64_t>()->default_value(20), "timed steps")
      ("warmup-steps", po::value<int64_t>()->default_value(3), "untimed steps first (allocation, GEMM plans)")
      ("seed", po::value<uint64_t>()->default_value(1337), "seed of the weights and the synthetic tokens")
      ("gpu", po::value<int>()->default_value(0), "GPU ordinal (--device cuda, one rank)")
      ("expert-parallel", po::value<int>()->default_value(1),
       "E: experts of each MoE module split over E ranks (under mpirun; world = E x D, as in weft train)")
      ("zero", po::value<int>()->default_value(0), "1: shard the optimizer state across ranks (ZeRO-1), as weft train")
      ("bucket-mb", real_value(25.0), "gradient all-reduce bucket size in MiB, as weft train (one bucket larger "
       "than the model: no overlap with the backward)")
      ("segments", po::value<int64_t>()->default_value(0),
       "K > 0 (models with state): per repeat, reset the state and run K consecutive segments per stream; time "
       "the last one (K - 1 segments of history)")
      ("json", po::value<std::string>()->default_value(""), "append the results as one JSON line to this file");
  po::variables_map vm = parse_model_args(set, args, chosen_model(args));
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  std::string device_flag, dtype_flag;
  int threads = 0;
  device_options(vm, device_flag, dtype_flag, threads);
  const KernelBackends kernels = kernel_backend_options(vm);
  const int64_t B = get<int64_t>(vm, "batch-size"), steps = get<int64_t>(vm, "steps"),
                warmup = get<int64_t>(vm, "warmup-steps"), T = get<int64_t>(vm, "seq-len");
  const int expert_parallel = get<int>(vm, "expert-parallel");
  const int64_t K = get<int64_t>(vm, "segments");
  if (K < 0) throw UsageError("--segments must be >= 0, got " + std::to_string(K));
  if (B <= 0 || steps <= 0 || warmup < 0) throw UsageError("--batch-size and --steps must be positive, --warmup-steps >= 0");
  if (expert_parallel < 1) throw UsageError("--expert-parallel must be >= 1, got " + std::to_string(expert_parallel));
  const int zero = get<int>(vm, "zero");
  const double bucket_mb = get<double>(vm, "bucket-mb");
  if (zero != 0 && zero != 1) throw UsageError("--zero must be 0 or 1, got " + std::to_string(zero));
  if (!(bucket_mb > 0)) throw UsageError("--bucket-mb must be positive");
  if (zero == 1 && expert_parallel > 1) throw UsageError("--zero 1 does not go with --expert-parallel > 1");
  if (get<int64_t>(vm, "vocab-size") == 0) vm.at("vocab-size").value() = boost::any(int64_t{50304});  // GPT-2, padded
  const Device dev = resolve_device(device_flag);
  const DType compute = parse_compute_dtype(dtype_flag, dev);

  // MPI when a launcher started us (as weft train), else the local communicator of one rank.
  Session session = start_session();
  return run_ranked(session, [&]() -> int {
    par::Communicator& comm = *session.comm;
    session.watchdog->set_timeout(collective_timeout_option(vm));
    threads = resolve_threads(session, threads);
    const int world = comm.size(), rank = comm.rank();
    auto model = make_model(vm);
    if (K > 0 && !model->has_state())
      throw UsageError("--segments: model '" + model->name() + "' (with these flags) keeps no state across steps");
    ExecContext exec(dev, world > 1 && session.launch.gpu >= 0 ? session.launch.gpu : get<int>(vm, "gpu"), threads);
    Exec& ex = exec.get();
    kernels.apply(ex);
    apply_cpu_dtype(ex, dtype_flag);
    // The trainer's wiring (launch/trainer.cpp): gradients on the device's communicator (NCCL across GPUs),
    // the expert layout checked before declare (exit 2 naming --expert-parallel), the model's exchange.
    std::unique_ptr<par::Communicator> device_comm;
    par::Communicator* grad_comm = &comm;
    if (dev == Device::cuda) {
      device_comm = world > 1 ? par::make_nccl_communicator(comm, ex) : par::make_local_communicator(Device::cuda);
      grad_comm = device_comm.get();
    }
    const par::ExpertLayout layout =
        par::make_expert_layout(world, rank, expert_parallel, model->n_experts(), model->name());
    par::ExpertComms expert_host, expert_device;
    std::unique_ptr<par::CommExpertExchange> exchange;
    par::ExpertGrads expert_grads;
    if (layout.expert_parallel > 1) {
      expert_host = par::split_expert_comms(comm, layout);
      par::ExpertComms* on_device = &expert_host;
      if (dev == Device::cuda) {
        expert_device = par::split_expert_comms(*device_comm, layout);
        on_device = &expert_device;
      }
      exchange = std::make_unique<par::CommExpertExchange>(*on_device->group);
      expert_grads = par::ExpertGrads{on_device->replicas.get(), expert_host.group.get()};
    }
    model->set_parallel(par::make_parallel_context(layout, exchange.get()));

    // The trainer's step: TrainableState with the trainer's reducer (replicated, expert-aware; or ZeRO-1).
    TrainableState state(*model, ex, compute);
    auto reducer = par::make_grad_reducer(zero, state.master(), *grad_comm, comm,
                                          static_cast<int64_t>(bucket_mb * (1 << 20)), state.fold_fn(),
                                          layout.expert_parallel > 1 ? &expert_grads : nullptr);
    state.attach_optimizer(optim::AdamWConfig{}, *reducer);
    state.initialize(get<uint64_t>(vm, "seed"));
    ParamStore& master = state.master();
    int64_t parameters = 0;  // the logical model (every expert shard counted in full)
    for (int id = 0; id < master.size(); ++id) parameters += master.info(id).full_shape().numel();

    // Synthetic tokens: uniform ids (each rank its own stream), targets = inputs shifted by one; with
    // --segments K, K consecutive segments of every row (segment k: columns [kT, kT + T] of (B, K T + 1)).
    const int64_t V = model->vocab_size();
    const int64_t nseg = std::max<int64_t>(K, 1);
    Rng rng(get<uint64_t>(vm, "seed"), static_cast<uint32_t>(7 + 1000 * rank));
    OwnedTensor ids(DType::i32, {B, nseg * T + 1});
    for (int64_t i = 0; i < ids.numel(); ++i) ids.ptr<int32_t>()[i] = static_cast<int32_t>(rng.next_u64() % V);
    std::vector<OwnedTensor> din, dtg;
    for (int64_t k = 0; k < nseg; ++k) {
      OwnedTensor in(DType::i32, {B, T}), tg(DType::i32, {B, T});
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) {
          in.ptr<int32_t>()[b * T + t] = ids.ptr<int32_t>()[b * (nseg * T + 1) + k * T + t];
          tg.ptr<int32_t>()[b * T + t] = ids.ptr<int32_t>()[b * (nseg * T + 1) + k * T + t + 1];
        }
      din.push_back(in.to(dev));
      dtg.push_back(tg.to(dev));
    }
    // Streams as the trainer numbers them (launch/model_state.h), starts per segment.
    std::vector<int64_t> streams;
    if (K > 0) streams = stream_ids(0, rank, world, B);  // (K = 0: no streams, as before)
    const std::vector<uint8_t> first(static_cast<size_t>(B), 1), next(static_cast<size_t>(B), 0);

    Arena arena(dev);
    size_t peak_device = 0;
    double timed = 0.0, last_loss = 0.0, all_segments = 0.0;
    double update_timed = 0.0;  // of `timed`: from the end of the backward to the end of the step
    for (int64_t step = 0; step < warmup + steps; ++step) {
      if (step == warmup && exchange) exchange->reset_bytes();
      if (K > 0) model->reset_state();
      for (int64_t k = 0; k < nseg; ++k) {
        models::Batch batch{din[static_cast<size_t>(k)], dtg[static_cast<size_t>(k)],
                            static_cast<float>(B * T * world)};  // the global step's mean, as the trainer
        if (!streams.empty()) batch.streams = streams.data();
        if (K > 0) batch.starts = (k == 0 ? first : next).data();
        const double t0 = now_s();
        Graph g(ex, arena);
        Var loss = model->loss_terms(g, state.params(), batch, rng, true).total;
        g.backward(loss);
        if (dev == Device::cuda) peak_device = std::max(peak_device, cuda::memory_in_use_bytes());
        state.end_micro_batch();
        // The update's gradient norm waits for the backward anyway: this synchronize costs nothing and
        // separates the update (reduction, norm, clip, AdamW, bf16 refresh) from the forward and backward.
        if (dev == Device::cuda) cuda::synchronize(ex);
        const double t_update = now_s();
        state.update(*reducer, 3e-4f, 1.0);
        float host_loss = 0.0f;
        device_copy(Device::cpu, &host_loss, dev, loss->value.data, sizeof(float));  // synchronizes the step
        last_loss = host_loss;
        g.clear();
        const double t1 = now_s(), dt = t1 - t0;
        if (step >= warmup) {
          all_segments += dt;
          if (k + 1 == nseg) {
            timed += dt;
            update_timed += t1 - t_update;
          }
        }
      }
    }

    // Peak memory of the training steps, read before the GEMM peak measurement allocates its matrices.
    double memory = dev == Device::cuda ? static_cast<double>(peak_device) : peak_rss_bytes();
    double a2a_bytes = exchange ? static_cast<double>(exchange->bytes_sent()) : 0.0;
    // Every rank at once (as they ran the steps, sharing the machine): the smallest is the per-rank peak.
    double gemm_peak = dev == Device::cuda ? measured_gemm_peak(ex, compute, {4096, 8192})
                                           : measured_gemm_peak(ex, DType::f32, {1024, 2048});
    if (world > 1) {  // over the ranks: the slowest rank's time and GEMM peak, the largest memory, summed loss, bytes
      comm.all_reduce(&gemm_peak, 1, DType::f64, par::ReduceOp::min);
      comm.all_reduce(&timed, 1, DType::f64, par::ReduceOp::max);
      comm.all_reduce(&update_timed, 1, DType::f64, par::ReduceOp::max);
      comm.all_reduce(&all_segments, 1, DType::f64, par::ReduceOp::max);
      comm.all_reduce(&memory, 1, DType::f64, par::ReduceOp::max);
      comm.all_reduce(&last_loss, 1, DType::f64, par::ReduceOp::sum);  // each rank's share of the global mean
      comm.all_reduce(&a2a_bytes, 1, DType::f64, par::ReduceOp::sum);
    }
    if (rank != 0) return 0;

    const double tokens_per_s = static_cast<double>(B * T * steps * world) / timed;
    const double flops_per_token = model->flops_per_token(T);
    const double macs_per_token = model->macs_per_token(T);
    // The families that override Model::macs_per_token with the spec's A.7 count (the others: FLOPs / 6).
    const bool spec_macs = model->name() == "moeut" || model->name() == "transformer";
    const double a2a_per_step = a2a_bytes / static_cast<double>(steps);
    const double model_flops = tokens_per_s * flops_per_token;
    const double flops_per_rank = model_flops / world;
    double theoretical = 0.0;
    std::string device_name = "cpu";
    if (dev == Device::cuda) {
      cuda::DeviceInfo info = cuda::device_info(ex.cuda_device);
      theoretical = compute == DType::bf16 ? info.peak_bf16_flops : info.peak_fp32_flops;
      device_name = info.name + " (sm_" + std::to_string(info.cc_major) + std::to_string(info.cc_minor) + ", " +
                    std::to_string(info.sm_count) + " SMs, " + std::to_string(static_cast<int>(info.clock_hz / 1e6)) +
                    " MHz, " + cuda::cudnn_description(cuda::cudnn_version()) + ")";
    }

    // --dtype bf16 on the CPU keeps f32 tensors and runs the GEMMs on bf16-rounded operands (runtime/exec.h)
    const std::string precision = ex.cpu_bf16_gemm ? "bf16 GEMMs, f32 elsewhere" : std::string(dtype_name(compute));
    std::printf("bench %s on %s, %s: B=%lld T=%lld, %lld parameters, %.4g FLOPs/token\n", model->name().c_str(),
                device_name.c_str(), precision.c_str(), (long long)B, (long long)T,
                (long long)parameters, flops_per_token);
    if (dev == Device::cpu && ex.cpu_bf16_gemm)
      std::printf("  GEMMs: bf16-rounded operands, f32 accumulation, oneDNN's bf16 kernels (--dtype bf16); "
                  "attention's blocks: %s\n", cpu_gemm_description(cpu_gemm()).c_str());
    else if (dev == Device::cpu)
      std::printf("  f32 GEMMs: %s (--cpu-gemm)\n", cpu_gemm_description(cpu_gemm()).c_str());
    if (dev == Device::cuda)
      std::printf("  kernels: --attention-backend %s, --norm-backend %s (cuDNN's attention and norms %s)\n",
                  kernel_backend_name(ex.attention), kernel_backend_name(ex.norm),
                  cuda::cudnn_attention_built() ? "built" : "not built");
    if (K > 0)
      std::printf("  %lld consecutive segments of T=%lld per stream (state reset per repeat, %lld repeats timed): "
                  "last segment (%lld of history) %.1f ms/segment, all segments %.1f ms/segment\n",
                  (long long)K, (long long)T, (long long)steps, (long long)(K - 1), 1e3 * timed / steps,
                  1e3 * all_segments / static_cast<double>(steps * K));
    if (world > 1)
      std::printf("  %d ranks (%s), expert parallel E=%d x data parallel D=%d, B=%lld per rank; tokens/s and model "
                  "FLOPs of all ranks, ms/step of the slowest\n",
                  world, comm.kind().c_str(), layout.expert_parallel, layout.data_parallel(), (long long)B);
    std::printf("  %.0f tokens/s, %.1f ms/step, %.2f TFLOP/s model FLOPs, final loss %.4f\n", tokens_per_s,
                1e3 * timed / steps, model_flops / 1e12, last_loss);
    std::printf("  update %.2f ms/step, %.1f%% of the step (gradient reduction, norm, clip, AdamW, bf16 refresh)\n",
                1e3 * update_timed / steps, 100 * update_timed / timed);
    std::printf("  MACs/token (%s): %.0f\n", spec_macs ? "spec A.7 formula, no LM head" : "FLOPs/token / 6",
                macs_per_token);
    if (theoretical > 0)
      std::printf("  MFU %.1f%% of the theoretical dense %s peak %.1f TFLOP/s%s\n", 100 * flops_per_rank / theoretical,
                  std::string(dtype_name(compute)).c_str(), theoretical / 1e12, world > 1 ? " (per rank)" : "");
    else if (dev == Device::cuda)
      std::printf("  MFU not reported: this GPU architecture is not in runtime/backend_cuda/device_info.cu\n");
    std::printf("  %.1f%% of the measured %s GEMM peak %.2f TFLOP/s%s\n", 100 * flops_per_rank / gemm_peak,
                std::string(dtype_name(dev == Device::cuda ? compute : DType::f32)).c_str(), gemm_peak / 1e12,
                world > 1 ? " (per rank, measured on every rank at once)" : "");
    std::printf("  peak memory %.0f MB (%s%s)\n", memory / 1e6,
                dev == Device::cuda ? "device, sampled after backward" : "RSS", world > 1 ? ", max over ranks" : "");
    if (model->n_experts() > 0 || world > 1)
      std::printf("  all-to-all %.0f bytes/step (expert exchange, all ranks, both directions, forward and backward)\n",
                  a2a_per_step);

    const std::string json = get<std::string>(vm, "json");
    if (!json.empty()) {
      std::ofstream f(json, std::ios::app);
      if (!f) throw UsageError("--json: cannot open " + json + " for appending");
      f << JsonLine()
               .str("model", model->name())
               .str("device", device_name)
               .str("dtype", ex.cpu_bf16_gemm ? "bf16" : std::string(dtype_name(compute)))
               .str("cpu_gemm", dev == Device::cpu ? cpu_gemm_description(cpu_gemm()) : "")
               .str("attention_backend", dev == Device::cuda ? kernel_backend_name(ex.attention) : "")
               .str("norm_backend", dev == Device::cuda ? kernel_backend_name(ex.norm) : "")
               .integer("batch_size", B)
               .integer("seq_len", T)
               .integer("ranks", world)
               .integer("expert_parallel", layout.expert_parallel)
               .integer("parameters", parameters)
               .num("tokens_per_s", tokens_per_s)
               .num("ms_per_step", 1e3 * timed / steps)
               .num("update_ms_per_step", 1e3 * update_timed / steps)
               .integer("segments", K)
               .num("ms_per_segment_all", K > 0 ? 1e3 * all_segments / static_cast<double>(steps * K) : 0.0)
               .num("flops_per_token", flops_per_token)
               .num("macs_per_token", macs_per_token)
               .str("macs_formula", spec_macs ? "spec_a7" : "flops_div_6")
               .num("mfu", theoretical > 0 ? flops_per_rank / theoretical : 0.0)
               .num("theoretical_peak_flops", theoretical)
               .num("gemm_peak_flops", gemm_peak)
               .num("peak_memory_bytes", memory)
               .num("all_to_all_bytes_per_step", a2a_per_step)
               .num("loss", last_loss)
               .text()
        << "\n";
      if (!f) throw Error("--json: write to " + json + " failed");
    }
    return 0;
  });
}

}  // namespace weft::launch
