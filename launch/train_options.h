// The [train], [data] and [checkpoint] flag groups of `weft train`, and their typed form.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/loader.h"
#include "launch/objective_options.h"
#include "launch/options.h"
#include "runtime/dtype.h"
#include "runtime/exec.h"

namespace weft::launch {

// Whose GPU kernels run attention and norms (--attention-backend, --norm-backend); apply() sets them on an Exec
// (Exec::attention, Exec::norm).
struct KernelBackends {
  KernelBackend attention = KernelBackend::automatic, norm = KernelBackend::automatic;
  void apply(Exec& ex) const;
};

struct TrainOptions {
  std::string data, out;
  data::Packing pack = data::Packing::concat;  // --pack
  int64_t steps = 1000, batch_size = 8, grad_accum = 1;
  double lr = 1e-3, min_lr = 1e-4, weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, clip = 1.0;
  int64_t warmup = 100;
  int64_t decay_steps = 0;  // length of the LR schedule (0: --steps)
  std::string schedule = "cosine";
  uint64_t seed = 1337;
  int64_t eval_every = 100, eval_batches = 20, log_every = 10;
  int64_t log_norms_every = 0;  // > 0: token-representation norms into OUT/norms.h5 (launch/norms_log.h)
  int threads = 0;
  double collective_timeout = 600;  // seconds a collective may wait for the other ranks (0: no limit)
  std::string device = "auto";  // "cpu", "cuda" or "auto" (cuda when built with CUDA and a GPU is visible)
  std::string dtype = "fp32";   // compute precision: "fp32" or "bf16" (fp32 master weights; CUDA only)
  KernelBackends kernels;       // --attention-backend, --norm-backend (whose GPU kernels)
  int zero = 0;                 // 1: shard AdamW state across ranks (ZeRO stage 1)
  int expert_parallel = 1;      // E: ranks sharing the experts of each MoE module (world = E x D)
  double bucket_mb = 25.0;      // gradient all-reduce bucket size
  int64_t save_every = 0, keep_checkpoints = 3;
  bool keep_log_spaced = false;  // also keep the first checkpoint at or after each 2^k x save_every
  bool save_on_exit = true;
  std::string resume;  // "", PATH, "latest" or "auto" (launch/resume.h)
  bool restart = false;  // --restart: start over, moving the folder's checkpoints aside
  std::string init_from;  // --init-from RUN: matching parameters of RUN's latest checkpoint (a fresh run only)
  // Numeric faults (launch/step_guard.h): consecutive skipped updates that end the run (0: never), the loss-spike
  // guard (0: off) and its window; testing: steps whose loss is made NaN / a spike on rank 0.
  int64_t max_skipped_steps = 5;
  double spike_guard = 0.0;
  int64_t spike_window = 100;
  std::vector<int64_t> inject_nan_at, inject_spike_at;
  bool sync_input = false;  // testing: CUDA token ids by synchronous copies instead of runtime/input_stager.h
  ObjectiveOptions objective;  // --objective lm | infonce and the InfoNCE flags (launch/objective_options.h)
};

void add_train_options(OptionSet& set);
// --threads, --device, --dtype, --cpu-gemm in `group` (train, bench, ...), and their validated values;
// device_options also applies --cpu-gemm (set_cpu_gemm, process-wide).
void add_device_options(OptionSet& set, const std::string& group);
void device_options(const po::variables_map& vm, std::string& device, std::string& dtype, int& threads);
// --attention-backend and --norm-backend (added with the device options), validated: cudnn only in a build that
// has cuDNN's graphs.
KernelBackends kernel_backend_options(const po::variables_map& vm);
// --collective-timeout (added with the device options), validated: >= 0.
double collective_timeout_option(const po::variables_map& vm);
TrainOptions train_options(const po::variables_map& vm);  // validates; errors name the flag

// --pack concat | padded | segments (a UsageError naming the flag otherwise), and back.
data::Packing parse_packing(const std::string& flag_value);
const char* packing_name(data::Packing p);
inline constexpr const char* kPackHelp =
    "concat: windows of the concatenated token stream, across documents | padded: one document per sample, "
    "truncated to --seq-len + 1 tokens, right-padded with end-of-text, pads and the end-of-text target not "
    "counted in the loss (the masked-mixer paper's data) | segments: each global stream walks its own region "
    "of the token stream, segment after segment, in order (models with memory; Batch::starts flags document "
    "starts; cursors in the checkpoint)";

// The device of --device: "auto" becomes cuda when this build has CUDA and a GPU is visible, else cpu;
// "cuda" without either is a UsageError naming the flag.
Device resolve_device(const std::string& flag_value);
DType parse_compute_dtype(const std::string& flag_value, Device dev);  // --dtype, checked against the device
// --dtype bf16 on the CPU: ex's GEMMs round their operands to bf16 (Exec::cpu_bf16_gemm); fp32 or a GPU: off.
void apply_cpu_dtype(Exec& ex, const std::string& flag_value);

}  // namespace weft::launch
