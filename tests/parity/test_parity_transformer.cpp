// CPU-vs-CUDA parity of the whole transformer through three training steps: the same weights, batches
// and AdamW updates on both backends; each step's loss and, at the third step, every parameter's
// gradient are compared (normwise per parameter), then the parameters after the three updates. fp32 on
// the GPU against the fp32 CPU reference, and bf16 mixed precision (bf16 compute copy, fp32 master
// weights, runtime/optim/mixed_precision.h) against the same reference with bf16 tolerances. Every
// position scheme. Also: after the first step the GPU step arena allocates nothing. SKIPPED without a
// GPU or while a kernel is pending on CUDA. The steps run the trainer's own code (launch/trainable_state.h).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "launch/trainable_state.h"
#include "models/transformer/transformer.h"
#include "parallel/grad_reducer.h"
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

std::unique_ptr<Run> make_run(Transformer& model, Device dev, DType compute) {
  auto r = std::make_unique<Run>();
  r->exec = std::make_unique<ExecContext>(dev, 0, 1);
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

}  // namespace
}  // namespace weft::models
