// [train], [data], [checkpoint] flags.
#include "launch/train_options.h"

#include <algorithm>
#include <cmath>

#include "launch/step_guard.h"
#include "runtime/cpu_gemm.h"
#include "runtime/exec.h"

namespace weft::launch {

void add_device_options(OptionSet& set, const std::string& group) {
  set.group(group).add_options()
      ("threads", po::value<int>()->default_value(0),
       "CPU threads per rank (0: the rank's share of the cores it may run on: its affinity mask / the ranks on "
       "the node whose masks overlap it)")
      ("collective-timeout", po::value<double>()->default_value(600, "600"),
       "seconds a rank waits in a collective for the others before ending the job (a hung or dead rank; exit 5; "
       "0: wait forever)")
      ("device", po::value<std::string>()->default_value("auto"),
       "cpu | cuda | auto (cuda when a GPU is visible); with several ranks per node, rank r uses GPU r mod GPUs")
      ("dtype", po::value<std::string>()->default_value("fp32"),
       "compute precision: fp32 | bf16 (CUDA: bf16 weights and activations, fp32 master weights, optimizer "
       "state, gradient reductions and loss; CPU: the linear layers' and the head's GEMMs take bf16-rounded operands "
       "on AMX / AVX512-BF16 with f32 accumulation, everything else f32)")
      ("attention-backend", po::value<std::string>()->default_value("auto"),
       "attention kernels on a GPU: auto | cudnn | weft (auto: cuDNN's fused attention where this build has it and it "
       "supports the call, bf16; weft's own kernels otherwise; cudnn: an unsupported call is an error)")
      ("norm-backend", po::value<std::string>()->default_value("auto"),
       "LayerNorm / RMSNorm kernels on a GPU: auto | cudnn | weft (auto: weft's own until cuDNN's are measured "
       "faster, docs/gpu-validation.md; cudnn: cuDNN's, an unsupported call is an error)")
      ("cpu-gemm", po::value<std::string>()->default_value("auto"),
       "library of the CPU's f32 GEMMs: auto | onednn | openblas (auto: oneDNN where this build has it and it "
       "has AVX2 or wider kernels for this CPU; its kernels ignore OPENBLAS_CORETYPE; f64 GEMMs: OpenBLAS)");
}

void device_options(const po::variables_map& vm, std::string& device, std::string& dtype, int& threads) {
  device = get<std::string>(vm, "device");
  dtype = get<std::string>(vm, "dtype");
  threads = get<int>(vm, "threads");
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw UsageError("--device must be cpu, cuda or auto, got '" + device + "'");
  if (dtype != "fp32" && dtype != "bf16") throw UsageError("--dtype must be fp32 or bf16, got '" + dtype + "'");
  if (threads < 0) throw UsageError("--threads must be >= 0, got " + std::to_string(threads));
  const std::string gemm = get<std::string>(vm, "cpu-gemm");
  if (gemm != "auto" && gemm != "onednn" && gemm != "openblas")
    throw UsageError("--cpu-gemm must be auto, onednn or openblas, got '" + gemm + "'");
  if (!cpu_gemm_available(parse_cpu_gemm(gemm)))
    throw UsageError("--cpu-gemm " + gemm + ": this weft was built without oneDNN (libdnnl-dev; WEFT_ONEDNN)");
  set_cpu_gemm(parse_cpu_gemm(gemm));  // process-wide, like the BLAS thread count (runtime/cpu_gemm.h)
}

KernelBackends kernel_backend_options(const po::variables_map& vm) {
  auto one = [&vm](const char* flag, const char* what) {
    const std::string name = get<std::string>(vm, flag);
    KernelBackend b;
    try {
      b = parse_kernel_backend(name);
    } catch (const Error&) {
      throw UsageError(std::string("--") + flag + " must be auto, cudnn or weft, got '" + name + "'");
    }
    if (b == KernelBackend::cudnn && !cuda::cudnn_attention_built())
      throw UsageError(std::string("--") + flag + " cudnn: this weft was built without cuDNN's " + what +
                       " (a CUDA build with cuDNN 9 and the cudnn-frontend headers: tools/install-cudnn-frontend.sh)");
    return b;
  };
  return {one("attention-backend", "attention"), one("norm-backend", "norms")};
}

void KernelBackends::apply(Exec& ex) const {
  ex.attention = attention;
  ex.norm = norm;
}

double collective_timeout_option(const po::variables_map& vm) {
  const double seconds = get<double>(vm, "collective-timeout");
  if (!(seconds >= 0) || !std::isfinite(seconds))
    throw UsageError("--collective-timeout must be a number of seconds >= 0 (0: no limit), got " +
                     value_to_string(vm["collective-timeout"]));
  return seconds;
}

void add_train_options(OptionSet& set) {
  set.group("data").add_options()
      ("data", po::value<std::string>()->required(), "data folder written by `weft prepare` (train.bin, val.bin)")
      ("pack", po::value<std::string>()->default_value("concat"), kPackHelp);
  set.group("train").add_options()
      ("out", po::value<std::string>()->required(), "run folder: metrics.jsonl, config.ini, checkpoints/")
      ("steps", po::value<int64_t>()->default_value(1000), "optimizer steps")
      ("batch-size", po::value<int64_t>()->default_value(8), "sequences per micro-batch per rank")
      ("grad-accum", po::value<int64_t>()->default_value(1), "micro-batches per step")
      ("lr", real_value(1e-3), "peak learning rate")
      ("min-lr", real_value(1e-4), "final learning rate")
      ("warmup", po::value<int64_t>()->default_value(100), "linear warmup steps")
      ("schedule", po::value<std::string>()->default_value("cosine"), "cosine | linear | constant")
      ("decay-steps", po::value<int64_t>()->default_value(0),
       "steps over which the LR decays (0: --steps); keep it fixed to stop early and resume bit-exactly")
      ("weight-decay", real_value(0.1), "AdamW decoupled weight decay")
      ("beta1", real_value(0.9), "AdamW beta1")
      ("beta2", real_value(0.95), "AdamW beta2")
      ("clip", real_value(1.0), "global gradient-norm clip (0: off)")
      ("seed", po::value<uint64_t>()->default_value(1337), "seed of initialisation, data order and dropout")
      ("eval-every", po::value<int64_t>()->default_value(100), "steps between validation runs (0: only at the end)")
      ("eval-batches", po::value<int64_t>()->default_value(20), "validation batches per evaluation")
      ("log-every", po::value<int64_t>()->default_value(10), "steps between progress lines")
      ("log-norms-every", po::value<int64_t>()->default_value(0),
       "N: token-representation norms (weft analyze norms' diagnostics) on a fixed held-out batch at steps 0, N, "
       "2N, ... and the last, appended to OUT/norms.h5 (0: off)")
      ("zero", po::value<int>()->default_value(0), "1: shard the optimizer state across ranks (ZeRO-1)")
      ("expert-parallel", po::value<int>()->default_value(1),
       "E: split the experts of every MoE module over E consecutive ranks (world = E x data-parallel D; "
       "E divides the world and the experts; not with --zero 1)")
      ("bucket-mb", real_value(25.0), "gradient all-reduce bucket size in MiB");
  add_device_options(set, "train");
  add_objective_options(set);
  set.group("checkpoint").add_options()
      ("save-every", po::value<int64_t>()->default_value(0), "steps between checkpoints (0: only at the end)")
      ("save-on-exit", po::value<bool>()->default_value(true)->implicit_value(true), "checkpoint when the run ends")
      ("keep-checkpoints", po::value<int64_t>()->default_value(3), "checkpoints to keep (older ones are deleted)")
      ("keep-log-spaced", po::bool_switch(),
       "besides the last --keep-checkpoints, keep the first checkpoint at or after each step 2^k x --save-every "
       "(curves over training)")
      ("resume", po::value<std::string>()->default_value(""),
       "PATH | latest | auto: continue from the newest checkpoint of --out that verifies (auto: or start fresh when "
       "there is none); checkpoints that fail verification are skipped and named")
      ("restart", po::bool_switch(),
       "start over at step 0 in an --out that holds checkpoints: they and metrics.jsonl move to OUT/previous_<k>/")
      ("init-from", po::value<std::string>()->default_value(""),
       "RUN: start from the parameters of RUN's latest checkpoint that match this model by name and shape (the "
       "rest initialised as usual; step and optimizer fresh); ignored when the run resumes its own checkpoint");
  set.one_shot("restart");  // acts once: a re-fed config.ini must not move the run aside again
  set.group("faults").add_options()
      ("max-skipped-steps", po::value<int64_t>()->default_value(5),
       "K: a non-finite loss or gradient norm (or a --spike-guard spike) skips the update; after K consecutive "
       "skips the run saves its last good state and exits with code 4 (0: never stop)")
      ("spike-guard", po::value<double>()->default_value(0.0, "0"),
       "Z: skip updates whose loss is more than Z standard deviations above the mean of the last --spike-window "
       "accepted losses (once 20 are in; 0: off)")
      ("spike-window", po::value<int64_t>()->default_value(100), "accepted losses the spike guard looks at")
      ("inject-nan-at", po::value<std::string>(),
       "testing: STEP[,STEP...]: rank 0 sees a NaN loss at these steps (the update must be skipped on every rank)")
      ("inject-spike-at", po::value<std::string>(),
       "testing: STEP[,STEP...]: rank 0 sees the loss + 1000 at these steps (for --spike-guard)")
      ("sync-input", po::bool_switch(),
       "testing: on CUDA, copy each micro-batch's token ids synchronously (default: pinned, double-buffered "
       "copies on a side stream); the results are the same");
}

TrainOptions train_options(const po::variables_map& vm) {
  TrainOptions o;
  o.data = get<std::string>(vm, "data");
  o.out = get<std::string>(vm, "out");
  o.pack = parse_packing(get<std::string>(vm, "pack"));
  o.steps = get<int64_t>(vm, "steps");
  o.batch_size = get<int64_t>(vm, "batch-size");
  o.grad_accum = get<int64_t>(vm, "grad-accum");
  o.lr = get<double>(vm, "lr");
  o.min_lr = get<double>(vm, "min-lr");
  o.warmup = get<int64_t>(vm, "warmup");
  o.decay_steps = get<int64_t>(vm, "decay-steps");
  if (o.decay_steps == 0) o.decay_steps = o.steps;
  if (vm["warmup"].defaulted()) o.warmup = std::min<int64_t>(o.warmup, o.decay_steps / 10);  // short runs
  o.schedule = get<std::string>(vm, "schedule");
  o.weight_decay = get<double>(vm, "weight-decay");
  o.beta1 = get<double>(vm, "beta1");
  o.beta2 = get<double>(vm, "beta2");
  o.clip = get<double>(vm, "clip");
  o.seed = get<uint64_t>(vm, "seed");
  o.eval_every = get<int64_t>(vm, "eval-every");
  o.eval_batches = get<int64_t>(vm, "eval-batches");
  o.log_every = get<int64_t>(vm, "log-every");
  o.log_norms_every = get<int64_t>(vm, "log-norms-every");
  device_options(vm, o.device, o.dtype, o.threads);
  o.kernels = kernel_backend_options(vm);
  o.collective_timeout = collective_timeout_option(vm);
  parse_compute_dtype(o.dtype, resolve_device(o.device));  // --device cuda without a GPU, bf16 on the CPU
  o.zero = get<int>(vm, "zero");
  o.bucket_mb = get<double>(vm, "bucket-mb");
  if (!(o.bucket_mb > 0)) throw UsageError("--bucket-mb must be positive");
  if (o.zero != 0 && o.zero != 1) throw UsageError("--zero must be 0 or 1, got " + std::to_string(o.zero));
  o.expert_parallel = get<int>(vm, "expert-parallel");
  if (o.expert_parallel < 1)
    throw UsageError("--expert-parallel must be >= 1, got " + std::to_string(o.expert_parallel));
  if (o.expert_parallel > 1 && o.zero == 1)
    throw UsageError("--expert-parallel " + std::to_string(o.expert_parallel) +
                     " with --zero 1: ZeRO-1 shards the flat parameter layout over every rank, which would mix the "
                     "expert shards of different ranks; use --zero 0 with expert parallelism");
  o.save_every = get<int64_t>(vm, "save-every");
  o.save_on_exit = get<bool>(vm, "save-on-exit");
  o.keep_checkpoints = get<int64_t>(vm, "keep-checkpoints");
  o.keep_log_spaced = vm["keep-log-spaced"].as<bool>();
  o.resume = get<std::string>(vm, "resume");
  o.restart = get<bool>(vm, "restart");
  o.init_from = get<std::string>(vm, "init-from");
  o.max_skipped_steps = get<int64_t>(vm, "max-skipped-steps");
  o.spike_guard = get<double>(vm, "spike-guard");
  o.spike_window = get<int64_t>(vm, "spike-window");
  if (o.max_skipped_steps < 0) throw UsageError("--max-skipped-steps must be >= 0 (0: never stop)");
  if (!(o.spike_guard >= 0)) throw UsageError("--spike-guard must be >= 0 (0: off)");
  if (o.spike_window < StepGuard::kSpikeMinEntries)
    throw UsageError("--spike-window must be >= " + std::to_string(StepGuard::kSpikeMinEntries) + ", got " +
                     std::to_string(o.spike_window));
  o.sync_input = get<bool>(vm, "sync-input");
  o.objective = objective_options(vm);
  if (vm.count("inject-nan-at")) o.inject_nan_at = parse_step_list({get<std::string>(vm, "inject-nan-at")}, "inject-nan-at");
  if (vm.count("inject-spike-at"))
    o.inject_spike_at = parse_step_list({get<std::string>(vm, "inject-spike-at")}, "inject-spike-at");
  auto positive = [](int64_t v, const char* flag) {
    if (v <= 0) throw UsageError(std::string("--") + flag + " must be positive, got " + std::to_string(v));
  };
  auto non_negative = [](int64_t v, const char* flag) {
    if (v < 0) throw UsageError(std::string("--") + flag + " must be >= 0, got " + std::to_string(v));
  };
  positive(o.steps, "steps");
  positive(o.batch_size, "batch-size");
  positive(o.grad_accum, "grad-accum");
  positive(o.log_every, "log-every");
  positive(o.keep_checkpoints, "keep-checkpoints");
  non_negative(o.eval_every, "eval-every");
  non_negative(o.eval_batches, "eval-batches");
  non_negative(o.save_every, "save-every");
  non_negative(o.log_norms_every, "log-norms-every");
  if (o.keep_log_spaced && o.save_every == 0)
    throw UsageError("--keep-log-spaced needs --save-every > 0 (the spacing is 2^k x --save-every)");
  non_negative(o.warmup, "warmup");
  non_negative(o.decay_steps, "decay-steps");
  if (!(o.beta1 >= 0 && o.beta1 < 1)) throw UsageError("--beta1 must be in [0, 1)");
  if (!(o.beta2 >= 0 && o.beta2 < 1)) throw UsageError("--beta2 must be in [0, 1)");
  if (o.clip < 0) throw UsageError("--clip must be >= 0");
  return o;
}

data::Packing parse_packing(const std::string& flag_value) {
  if (flag_value == "concat") return data::Packing::concat;
  if (flag_value == "padded") return data::Packing::padded;
  if (flag_value == "segments") return data::Packing::segments;
  throw UsageError("--pack must be concat, padded or segments, got '" + flag_value + "'");
}

const char* packing_name(data::Packing p) {
  return p == data::Packing::padded ? "padded" : p == data::Packing::segments ? "segments" : "concat";
}

Device resolve_device(const std::string& flag_value) {
  const int gpus = cuda::device_count();
  if (flag_value == "auto") return gpus > 0 ? Device::cuda : Device::cpu;
  if (flag_value == "cuda" && gpus == 0)
    throw UsageError(std::string("--device cuda: ") +
                     (cuda::built() ? "no CUDA device is visible (check CUDA_VISIBLE_DEVICES and the driver)"
                                   : "this weft was built without CUDA (configure with -DWEFT_CUDA=ON)"));
  return flag_value == "cuda" ? Device::cuda : Device::cpu;
}

DType parse_compute_dtype(const std::string& flag_value, Device dev) {
  if (flag_value == "fp32") return DType::f32;
  if (dev == Device::cuda) return DType::bf16;
  std::string why;
  if (!cpu_bf16_gemm_available(&why))
    throw UsageError("--dtype bf16 on the CPU: " + why + "; use --dtype fp32 (or --device cuda)");
  return DType::f32;  // the CPU keeps its tensors in f32 and runs its GEMMs in bf16 (apply_cpu_dtype)
}

void apply_cpu_dtype(Exec& ex, const std::string& flag_value) {
  ex.cpu_bf16_gemm = ex.device == Device::cpu && flag_value == "bf16";
}

}  // namespace weft::launch
