// weft bench: training throughput of one rank on synthetic tokens (no data folder needed). Runs
// warm-up steps, then timed steps of forward + backward + AdamW (the trainer's step without I/O), and
// reports tokens/s, model FLOP/s with FLOPs per token = 6N + 6 L T d (llm.c's convention:
// models/model.h), MFU against the device's theoretical dense peak (GPU: SM count x clock x FLOPs per
// SM per clock, runtime/exec.h) and against the measured GEMM peak of the same backend and dtype, and
// peak memory. --json appends the figures as one JSON line.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "launch/commands.h"
#include "launch/metrics.h"
#include "launch/model_options.h"
#include "launch/train_options.h"
#include "runtime/gemm_peak.h"
#include "launch/trainable_state.h"
#include "parallel/grad_reducer.h"
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
      ("batch-size", po::value<int64_t>()->default_value(8), "sequences per step")
      ("steps", po::value<int64_t>()->default_value(20), "timed steps")
      ("warmup-steps", po::value<int64_t>()->default_value(3), "untimed steps first (allocation, GEMM plans)")
      ("seed", po::value<uint64_t>()->default_value(1337), "seed of the weights and the synthetic tokens")
      ("gpu", po::value<int>()->default_value(0), "GPU ordinal (--device cuda)")
      ("json", po::value<std::string>()->default_value(""), "append the results as one JSON line to this file");
  po::variables_map vm = parse_model_args(set, args, chosen_model(args));
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  std::string device_flag, dtype_flag;
  int threads = 0;
  device_options(vm, device_flag, dtype_flag, threads);
  const int64_t B = get<int64_t>(vm, "batch-size"), steps = get<int64_t>(vm, "steps"),
                warmup = get<int64_t>(vm, "warmup-steps"), T = get<int64_t>(vm, "seq-len");
  if (B <= 0 || steps <= 0 || warmup < 0) throw UsageError("--batch-size and --steps must be positive, --warmup-steps >= 0");
  if (get<int64_t>(vm, "vocab-size") == 0) vm.at("vocab-size").value() = boost::any(int64_t{50304});  // GPT-2, padded
  const Device dev = resolve_device(device_flag);
  const DType compute = parse_compute_dtype(dtype_flag, dev);
  auto model = make_model(vm);

  ExecContext exec(dev, get<int>(vm, "gpu"), threads);
  Exec& ex = exec.get();
  {
    // The trainer's step: TrainableState with a one-rank replicated reducer.
    TrainableState state(*model, ex, compute);
    auto local = par::make_local_communicator(dev);
    auto reducer = par::make_grad_reducer(0, state.master(), *local, *local, 1 << 20, state.fold_fn());
    state.attach_optimizer(optim::AdamWConfig{}, *reducer);
    state.initialize(get<uint64_t>(vm, "seed"));
    ParamStore& master = state.master();

    // Synthetic tokens: uniform ids, targets = inputs shifted by one.
    const int64_t V = model->vocab_size();
    Rng rng(get<uint64_t>(vm, "seed"), 7);
    OwnedTensor ids(DType::i32, {B, T + 1});
    for (int64_t i = 0; i < ids.numel(); ++i) ids.ptr<int32_t>()[i] = static_cast<int32_t>(rng.next_u64() % V);
    OwnedTensor in(DType::i32, {B, T}), tg(DType::i32, {B, T});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        in.ptr<int32_t>()[b * T + t] = ids.ptr<int32_t>()[b * (T + 1) + t];
        tg.ptr<int32_t>()[b * T + t] = ids.ptr<int32_t>()[b * (T + 1) + t + 1];
      }
    OwnedTensor din = in.to(dev), dtg = tg.to(dev);
    models::Batch batch{din, dtg, static_cast<float>(B * T)};

    Arena arena(dev);
    size_t peak_device = 0;
    double timed = 0.0, last_loss = 0.0;
    for (int64_t step = 0; step < warmup + steps; ++step) {
      const double t0 = now_s();
      Graph g(ex, arena);
      Var loss = model->loss_terms(g, state.params(), batch, rng, true).total;
      g.backward(loss);
      if (dev == Device::cuda) peak_device = std::max(peak_device, cuda::memory_in_use_bytes());
      state.end_micro_batch();
      state.update(*reducer, 3e-4f, 1.0);
      float host_loss = 0.0f;
      device_copy(Device::cpu, &host_loss, dev, loss->value.data, sizeof(float));  // synchronizes the step
      last_loss = host_loss;
      g.clear();
      if (step >= warmup) timed += now_s() - t0;
    }

    const double tokens_per_s = static_cast<double>(B * T * steps) / timed;
    const double flops_per_token = model->flops_per_token(T);
    const double model_flops = tokens_per_s * flops_per_token;
    double theoretical = 0.0;
    std::string device_name = "cpu";
    if (dev == Device::cuda) {
      cuda::DeviceInfo info = cuda::device_info(ex.cuda_device);
      theoretical = compute == DType::bf16 ? info.peak_bf16_flops : info.peak_fp32_flops;
      device_name = info.name + " (sm_" + std::to_string(info.cc_major) + std::to_string(info.cc_minor) + ", " +
                    std::to_string(info.sm_count) + " SMs, " + std::to_string(static_cast<int>(info.clock_hz / 1e6)) +
                    " MHz)";
    }
    // Peak memory of the training steps, read before the GEMM peak measurement allocates its matrices.
    const double memory = dev == Device::cuda ? static_cast<double>(peak_device) : peak_rss_bytes();
    const double gemm_peak = dev == Device::cuda ? measured_gemm_peak(ex, compute, {4096, 8192})
                                                 : measured_gemm_peak(ex, DType::f32, {1024, 2048});

    std::printf("bench %s on %s, %s: B=%lld T=%lld, %lld parameters, %.4g FLOPs/token\n", model->name().c_str(),
                device_name.c_str(), std::string(dtype_name(compute)).c_str(), (long long)B, (long long)T,
                (long long)master.numel(), flops_per_token);
    std::printf("  %.0f tokens/s, %.1f ms/step, %.2f TFLOP/s model FLOPs, final loss %.4f\n", tokens_per_s,
                1e3 * timed / steps, model_flops / 1e12, last_loss);
    if (theoretical > 0)
      std::printf("  MFU %.1f%% of the theoretical dense %s peak %.1f TFLOP/s\n", 100 * model_flops / theoretical,
                  std::string(dtype_name(compute)).c_str(), theoretical / 1e12);
    else if (dev == Device::cuda)
      std::printf("  MFU not reported: this GPU architecture is not in runtime/backend_cuda/device_info.cu\n");
    std::printf("  %.1f%% of the measured %s GEMM peak %.2f TFLOP/s\n", 100 * model_flops / gemm_peak,
                std::string(dtype_name(dev == Device::cuda ? compute : DType::f32)).c_str(), gemm_peak / 1e12);
    std::printf("  peak memory %.0f MB (%s)\n", memory / 1e6, dev == Device::cuda ? "device, sampled after backward" : "RSS");

    const std::string json = get<std::string>(vm, "json");
    if (!json.empty()) {
      std::ofstream f(json, std::ios::app);
      if (!f) throw UsageError("--json: cannot open " + json + " for appending");
      f << JsonLine()
               .str("model", model->name())
               .str("device", device_name)
               .str("dtype", std::string(dtype_name(compute)))
               .integer("batch_size", B)
               .integer("seq_len", T)
               .integer("parameters", master.numel())
               .num("tokens_per_s", tokens_per_s)
               .num("flops_per_token", flops_per_token)
               .num("mfu", theoretical > 0 ? model_flops / theoretical : 0.0)
               .num("theoretical_peak_flops", theoretical)
               .num("gemm_peak_flops", gemm_peak)
               .num("peak_memory_bytes", memory)
               .num("loss", last_loss)
               .text()
        << "\n";
      if (!f) throw Error("--json: write to " + json + " failed");
    }
  }
  return 0;
}

}  // namespace weft::launch
