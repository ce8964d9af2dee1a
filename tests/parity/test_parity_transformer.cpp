// CPU-vs-CUDA parity of the whole transformer through three training steps: the same weights, batches
// and AdamW updates on both backends; each step's loss and, at the third step, every parameter's
// gradient are compared (normwise per parameter), then the parameters after the three updates. fp32 on
// the GPU against the fp32 CPU reference, and bf16 mixed precision (bf16 compute copy, fp32 master
// weights, runtime/optim/mixed_precision.h) against the same reference with bf16 tolerances. Every
// position scheme. Also: after the first step the GPU step arena allocates nothing. SKIPPED without a
// GPU or while a kernel is pending on CUDA. The steps run the trainer's own code (launch/trainable_state.h).
// The CPU's --dtype bf16 (GEMMs on bf16-rounded operands, Exec::cpu_bf16_gemm) is held to the same bf16
// tolerances against the fp32 CPU; SKIPPED where the CPU has no bf16 instructions (runtime/cpu_gemm.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "launch/trainable_state.h"
#include "models/transformer/transformer.h"
#include "parallel/grad_reducer.h"
#include "runtime/cpu_gemm.h"
#include "tests/harness/gradcheck.h"

namespace weft::models {
namespace {

using test::random_ids;

// One backend's training state, stepped by the trainer's own code: TrainableState (master weights, bf16
// copy, AdamW) with a one-rank replicated GradReducer, on an ExecContext, plus a step arena.
struct Run {
  std::unique_ptr<ExecContext> exec;
  std::unique_ptr<launch::TrainableState> state;
  std::unique_ptr<par::Communicator> local;
  std::unique_ptr<par::GradReducer> reducer;
  std::unique_ptr<Arena> arena;
  Exec& ex() { return exec->get(); }
  ~Run() {  // everything that queues work on the Exec goes first
    reducer.reset();
    state.reset();
    arena.reset();
  }
};

std::unique_ptr<Run> make_run(Transformer& model, Device dev, DType compute, bool cpu_bf16_gemm = false) {
  auto r = std::make_unique<Run>();
  r->exec = std::make_unique<ExecContext>(dev, 0, 1);
  r->ex().cpu_bf16_gemm = cpu_bf16_gemm;
  r->state = std::make_unique<launch::TrainableState>(model, r->ex(), compute);
  r->local = par::make_local_communicator(dev);
  r->reducer = par::make_grad_reducer(0, r->state->master(), *r->local, *r->local, 1 << 20, r->state->fold_fn());
  r->state->attach_optimizer(optim::AdamWConfig{1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f}, *r->reducer);
  r->state->initialize(21);
  r->arena = std::make_unique<Arena>(dev);
  return r;
}

// Loss of one step; without update the gradients are left in the master store (fp32) for inspection.
double step(Transformer& model, Run& r, const OwnedTensor& ids, const OwnedTensor& targets, bool update) {
  OwnedTensor in = ids.to(r.ex().device), tg = targets.to(r.ex().device);
  Batch batch{in, tg, 0.0f};
  Graph g(r.ex(), *r.arena);
  Rng rng(5, 0);
  Var loss = model.loss_terms(g, r.state->params(), batch, rng, true).total;
  float value = 0.0f;
  device_copy(Device::cpu, &value, r.ex().device, loss->value.data, sizeof(float));
  g.backward(loss);
  r.state->end_micro_batch();
  g.clear();
  if (update) r.state->update(*r.reducer, 1e-3f, 0.0);  // clip 0: off
  return value;
}

std::vector<float> host_copy(const Tensor& t) {
  std::vector<float> v(t.numel());
  device_copy(Device::cpu, v.data(), t.device, t.data, t.nbytes());
  return v;
}

// ||a - b|| / ||b|| over the elements of each parameter; returns the worst parameter and its error.
std::pair<std::string, double> worst_normwise(const ParamStore& store, const std::vector<float>& got,
                                              const std::vector<float>& want) {
  std::pair<std::string, double> worst{"", 0.0};
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& p = store.info(id);
    double num = 0, den = 0;
    for (int64_t i = p.offset; i < p.offset + p.shape.numel(); ++i) {
      num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
      den += double(want[i]) * want[i];
    }
    double err = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    if (err > worst.second) worst = {p.name, err};
  }
  return worst;
}

struct Tol {
  double loss_rel, grad_normwise, param_normwise;
};

void check_parity(const TransformerConfig& cfg, DType gpu_dtype, Tol tol) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (or built without CUDA): parity not run";
  Transformer cpu_model(cfg), gpu_model(cfg);
  std::unique_ptr<Run> cpu_run = make_run(cpu_model, Device::cpu, DType::f32);
  std::unique_ptr<Run> gpu_run = make_run(gpu_model, Device::cuda, gpu_dtype);
  Run &cpu = *cpu_run, &gpu = *gpu_run;
  const int64_t B = 2, T = 24;
  try {
    int64_t gpu_allocations_after_first_step = 0;
    for (int s = 0; s < 3; ++s) {
      if (s == 1) gpu_allocations_after_first_step = gpu.arena->system_allocations();
      OwnedTensor ids = random_ids({B, T}, 10 + s, static_cast<int32_t>(cfg.vocab_size));
      OwnedTensor targets = random_ids({B, T}, 20 + s, static_cast<int32_t>(cfg.vocab_size));
      const bool last = s == 2;
      double lc = step(cpu_model, cpu, ids, targets, !last), lg = step(gpu_model, gpu, ids, targets, !last);
      EXPECT_LE(std::fabs(lg - lc), tol.loss_rel * std::fabs(lc)) << "loss at step " << s << ": cpu " << lc << " gpu " << lg;
    }
    // The step arena sized itself in the first step: later steps allocate no device memory.
    EXPECT_EQ(gpu.arena->system_allocations(), gpu_allocations_after_first_step);
    const ParamStore &cm = cpu.state->master(), &gm = gpu.state->master();
    auto [gname, gerr] = worst_normwise(cm, host_copy(gm.grads()), host_copy(cm.grads()));
    EXPECT_LE(gerr, tol.grad_normwise) << "gradient of " << gname << " at step 3";
    auto [pname, perr] = worst_normwise(cm, host_copy(gm.values()), host_copy(cm.values()));
    EXPECT_LE(perr, tol.param_normwise) << "parameter " << pname << " after 2 updates";
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.find("not implemented on CUDA yet") != std::string::npos) GTEST_SKIP() << msg;
    FAIL() << msg;
  }
}

TransformerConfig tiny(PositionScheme pos) {
  TransformerConfig c;
  c.vocab_size = 97;
  c.d_model = 64;
  c.n_heads = 2;  // head size 32, a tile width of the CUDA attention kernels (unpadded)
  c.n_layers = 2;
  c.max_seq_len = 24;
  c.position = pos;
  c.sandwich_dim = 16;
  c.validate();
  return c;
}

// fp32: the GPU sums in other orders (cuBLASLt splits, block reductions): errors near 1e-6 per op.
const Tol kF32{1e-5, 1e-3, 1e-4};
// bf16: weights and activations rounded to 8 significant bits (2^-9 relative) at every op boundary.
const Tol kBf16{2e-2, 8e-2, 2e-2};

// One pair of tests per position scheme (plain TESTs keep CTest's names short).
#define WEFT_TRANSFORMER_PARITY(scheme)                                                                       \
  TEST(TransformerParity, scheme##ThreeStepsF32) { check_parity(tiny(PositionScheme::scheme), DType::f32, kF32); } \
  TEST(TransformerParity, scheme##ThreeStepsBf16MixedPrecision) {                                                \
    check_parity(tiny(PositionScheme::scheme), DType::bf16, kBf16);                                              \
  }
WEFT_TRANSFORMER_PARITY(none)
WEFT_TRANSFORMER_PARITY(learned)
WEFT_TRANSFORMER_PARITY(sinusoidal)
WEFT_TRANSFORMER_PARITY(rope)
WEFT_TRANSFORMER_PARITY(alibi)
WEFT_TRANSFORMER_PARITY(sandwich)
#undef WEFT_TRANSFORMER_PARITY

TEST(TransformerParityVariants, SwiGluRmsNormUntiedF32AndBf16) {
  TransformerConfig c = tiny(PositionScheme::rope);
  c.activation = "swiglu";
  c.norm = "rmsnorm";
  c.tie_embeddings = false;
  c.bias = false;
  c.rope_fraction = 0.5f;
  check_parity(c, DType::f32, kF32);
  check_parity(c, DType::bf16, kBf16);
}

// --dtype bf16 on the CPU against fp32 on the CPU, three steps, the GPU's bf16 tolerances; the losses must
// also differ (the bf16 GEMMs really ran).
void check_cpu_bf16(const TransformerConfig& cfg) {
  std::string why;
  if (!cpu_bf16_gemm_available(&why)) GTEST_SKIP() << "no bf16 GEMMs on this CPU: " << why;
  Transformer f32_model(cfg), bf16_model(cfg);
  std::unique_ptr<Run> f32_run = make_run(f32_model, Device::cpu, DType::f32);
  std::unique_ptr<Run> bf16_run = make_run(bf16_model, Device::cpu, DType::f32, true);
  Run &ref = *f32_run, &bf = *bf16_run;
  double largest_loss_difference = 0;
  for (int s = 0; s < 3; ++s) {
    OwnedTensor ids = random_ids({2, 24}, 10 + s, static_cast<int32_t>(cfg.vocab_size));
    OwnedTensor targets = random_ids({2, 24}, 20 + s, static_cast<int32_t>(cfg.vocab_size));
    const bool last = s == 2;
    const double lr = step(f32_model, ref, ids, targets, !last), lb = step(bf16_model, bf, ids, targets, !last);
    EXPECT_LE(std::fabs(lb - lr), kBf16.loss_rel * std::fabs(lr)) << "loss at step " << s << ": f32 " << lr << " bf16 " << lb;
    largest_loss_difference = std::max(largest_loss_difference, std::fabs(lb - lr));
  }
  EXPECT_GT(largest_loss_difference, 0.0) << "--dtype bf16 gave the fp32 losses bit for bit: its GEMMs did not run";
  const ParamStore &fm = ref.state->master(), &bm = bf.state->master();
  auto [gname, gerr] = worst_normwise(fm, host_copy(bm.grads()), host_copy(fm.grads()));
  EXPECT_LE(gerr, kBf16.grad_normwise) << "gradient of " << gname << " at step 3";
  // Parameters over the whole model: a zero-initialised bias moves by about +-lr per element in AdamW's first
  // steps (m / sqrt(v) is the gradient's sign), so its elements with near-zero gradients flip under any rounding
  // and a per-bias normwise error says little (0.08-0.16 here for 2 updates).
  const std::vector<float> pb = host_copy(bm.values()), pf = host_copy(fm.values());
  double num = 0, den = 0;
  for (size_t i = 0; i < pf.size(); ++i) {
    num += (double(pb[i]) - pf[i]) * (double(pb[i]) - pf[i]);
    den += double(pf[i]) * pf[i];
  }
  const double perr = std::sqrt(num / den);
  EXPECT_LE(perr, kBf16.param_normwise) << "all parameters after 2 updates";
  std::printf("cpu bf16 vs f32: worst gradient %s %.2e, all parameters %.2e\n", gname.c_str(), gerr, perr);
}

TEST(TransformerCpuBf16, ThreeStepsRopeWithinBf16Tolerance) { check_cpu_bf16(tiny(PositionScheme::rope)); }
TEST(TransformerCpuBf16, ThreeStepsSandwichWithinBf16Tolerance) { check_cpu_bf16(tiny(PositionScheme::sandwich)); }

}  // namespace
}  // namespace weft::models
