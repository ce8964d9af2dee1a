// CPU-vs-CUDA parity of the whole transformer through three training steps: the same weights, batches
// and AdamW updates on both backends; each step's loss and, at the third step, every parameter's
// gradient are compared (normwise per parameter), then the parameters after the three updates. fp32 on
// the GPU against the fp32 CPU reference, and bf16 mixed precision (bf16 compute copy, fp32 master
// weights, runtime/optim/mixed_precision.h) against the same reference with bf16 tolerances. Every
// position scheme. Also: after the first step the GPU step arena allocates nothing. SKIPPED without a
// GPU or while a kernel is pending on CUDA.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "models/transformer/transformer.h"
#include "runtime/optim/adamw.h"
#include "runtime/optim/mixed_precision.h"
#include "tests/harness/gradcheck.h"

namespace weft::models {
namespace {

using test::random_ids;

// One backend's training state: master parameters, the optional bf16 copy, AdamW, an arena.
struct Run {
  Exec ex;
  std::unique_ptr<ParamStore> master;
  std::unique_ptr<optim::MixedPrecision> mixed;
  std::unique_ptr<optim::AdamW> adamw;
  std::unique_ptr<Arena> arena;
  ParamStore& params() { return mixed ? mixed->compute() : *master; }
};

Run make_run(Transformer& model, Exec ex, DType compute) {
  Run r{ex, std::make_unique<ParamStore>(DType::f32, ex.device), nullptr, nullptr,
        std::make_unique<Arena>(ex.device)};
  model.declare(*r.master);
  r.master->finalize();
  r.master->initialize(21);
  if (compute != DType::f32) {
    r.mixed = std::make_unique<optim::MixedPrecision>(*r.master, compute);
    r.mixed->refresh(r.ex, *r.master);
  }
  r.adamw = std::make_unique<optim::AdamW>(*r.master, optim::AdamWConfig{1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f});
  return r;
}

// Loss of one step; gradients are left in the master store (fp32) for inspection, then applied.
double step(Transformer& model, Run& r, const OwnedTensor& ids, const OwnedTensor& targets, bool update) {
  OwnedTensor in = ids.to(r.ex.device), tg = targets.to(r.ex.device);
  Batch batch{in, tg, 0.0f};
  Graph g(r.ex, *r.arena);
  Rng rng(5, 0);
  Var loss = model.loss(g, r.params(), batch, rng, true);
  float value = 0.0f;
  device_copy(Device::cpu, &value, r.ex.device, loss->value.data, sizeof(float));
  g.backward(loss);
  if (r.mixed) r.mixed->fold_grads(r.ex, *r.master);
  g.clear();
  if (update) {
    r.adamw->step(r.ex, *r.master, 1e-3f);
    r.master->zero_grads();
    if (r.mixed) r.mixed->refresh(r.ex, *r.master);
  }
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
  Run cpu = make_run(cpu_model, cpu_exec(1), DType::f32);
  Run gpu = make_run(gpu_model, cuda::exec_create(0), gpu_dtype);
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
    auto [gname, gerr] = worst_normwise(*cpu.master, host_copy(gpu.master->grads()), host_copy(cpu.master->grads()));
    EXPECT_LE(gerr, tol.grad_normwise) << "gradient of " << gname << " at step 3";
    auto [pname, perr] = worst_normwise(*cpu.master, host_copy(gpu.master->values()), host_copy(cpu.master->values()));
    EXPECT_LE(perr, tol.param_normwise) << "parameter " << pname << " after 2 updates";
  } catch (const Error& e) {
    std::string msg = e.what();
    cuda::exec_destroy(gpu.ex);
    if (msg.find("not implemented on CUDA yet") != std::string::npos) GTEST_SKIP() << msg;
    FAIL() << msg;
  }
  cuda::exec_destroy(gpu.ex);
}

TransformerConfig tiny(PositionScheme pos) {
  TransformerConfig c;
  c.vocab_size = 97;
  c.d_model = 64;
  c.n_heads = 2;  // head size 32, the smallest the CUDA attention kernel takes
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
