// CPU-vs-CUDA parity of attention (forward and backward: out, dq, dk, dv) on the cases of
// tests/cases/attention_cases.h: every CUDA tile width as the head size (32, 64, 96, 128), sequence lengths
// that are not multiples of the 64-row tile (1, 17, 70, 130), causal and full masks, each positional bias
// (none, ALiBi slopes, a Sandwich-like table; the slopes and table are built inside the graph on its device,
// since the kernels read them there), f32 and bf16, and every subset of null gradients (dq, dk or dv not
// wanted); head sizes the kernels zero-pad (the small cases' 1 to 8; 1, 6, 24, 40, 41, 82, 100); more keys than
// queries (the memory cases: Tk = T + mem with the causal offset, memories inside, at and past a key tile);
// windows (bias.window: inside, at and past a 64-key tile, with memory, null gradients). Plus a bitwise
// run-to-run check of the GPU backward and the error for a head size over the kernels' 128.
// bf16 cases run twice on the GPU: with our kernels only (--attention-backend weft) and with auto (cuDNN's fused
// attention where this build has it and it takes the case); CudnnCases forces cuDNN on every case it must take
// (head size a multiple of 8; a bias only causal without memory) and is SKIPPED in a build without cuDNN's.
// Every case reports SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "models/common/positions.h"
#include "runtime/cudnn_info.h"
#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/cases/attention_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

using K = PositionBias::Kind;

// The biases of tests/ops/test_attention.cpp (slopes 2^-(h+1), table -2 log(1 + d) over T + 3
// distances), copied into the graph's arena on the graph's device.
PositionBias graph_bias(Graph& g, K kind, int64_t NH, int64_t T) {
  PositionBias bias;
  bias.kind = kind;
  if (kind == K::none) return bias;
  std::vector<float> slopes, table;
  for (int64_t h = 0; h < NH; ++h) slopes.push_back(std::pow(2.0f, -static_cast<float>(h + 1)));
  for (int64_t d = 0; d < T + 3; ++d) table.push_back(-std::log1p(static_cast<float>(d)) * 2.0f);
  Tensor s = g.alloc(DType::f32, {NH}), t = g.alloc(DType::f32, {T + 3});
  device_copy(g.device(), s.data, Device::cpu, slopes.data(), slopes.size() * sizeof(float));
  device_copy(g.device(), t.data, Device::cpu, table.data(), table.size() * sizeof(float));
  bias.slopes = static_cast<const float*>(s.data);
  bias.table = static_cast<const float*>(t.data);
  bias.table_len = T + 3;
  return bias;
}

BuildFn attention_build(const cases::AttentionCase& c) {
  return [c](Graph& g, const std::vector<Var>& v) {
    PositionBias bias = graph_bias(g, static_cast<K>(c.bias), c.NH, c.keys());
    bias.window = c.window;
    return std::vector<Var>{ops::attention(g, v[0], v[1], v[2], bias, 0.0f, c.causal)};
  };
}

std::vector<ParityInput> qkv(const cases::AttentionCase& c) {
  std::vector<ParityInput> in;
  for (int i = 0; i < 3; ++i)
    in.push_back({random_f32({c.B, i == 0 ? c.T : c.keys(), c.NH, c.HS}, 40 + i, -1.5, 1.5), (c.grads >> i & 1) != 0});
  return in;
}

// f32: the backends add the HS-long dot products and the T-long softmax and gradient sums in different
// orders (BLAS blocks vs 64-wide tiles, FMA contraction, a vectorised exp on the CPU), so O(1) terms
// differ by a few ulps, summed over up to 130 keys or queries.
// bf16: q, k, v and the cotangent are rounded to 2^-9 relative, scores (|s| ~ 1) move by ~1e-2 and
// outputs / gradients are stored in bf16 again; dk and dv sum up to 130 such terms (sum p <= ~5).
Tolerance attention_tolerance(DType dt) { return dt == DType::bf16 ? Tolerance{5e-2, 3e-2} : Tolerance{2e-5, 2e-4}; }

// The cases cuDNN's attention must run (runtime/backend_cuda/attention_cudnn.cpp): bf16, head size a multiple of
// 8 up to 256, a positional bias only with the causal mask and no memory.
bool cudnn_takes(const cases::AttentionCase& c) {
  return c.HS % 8 == 0 && c.HS <= 256 && (c.bias == cases::AttnBias::none || (c.causal && c.mem == 0));
}

template <class List>
void check_cases(const List& list) {
  for (DType dt : {DType::f32, DType::bf16})
    for (KernelBackend backend : {KernelBackend::weft, KernelBackend::automatic}) {
      if (dt == DType::f32 && backend == KernelBackend::automatic) continue;  // cuDNN's attention is bf16 only
      for (const cases::AttentionCase& c : list) {
        if (!cases::runs_in(c.runners, cases::kParity)) continue;
        SCOPED_TRACE(std::string(dtype_name(dt)) + " " + kernel_backend_name(backend) + " " + cases::describe(c));
        WEFT_PARITY_KERNELS(qkv(c), attention_build(c), dt, attention_tolerance(dt), GpuKernels{backend});
      }
    }
}

template <class List>
void check_cudnn_cases(const List& list) {
  for (const cases::AttentionCase& c : list) {
    if (!cases::runs_in(c.runners, cases::kParity) || !cudnn_takes(c)) continue;
    SCOPED_TRACE(std::string("bf16 cudnn ") + cases::describe(c));
    WEFT_PARITY_KERNELS(qkv(c), attention_build(c), DType::bf16, attention_tolerance(DType::bf16),
                        GpuKernels{KernelBackend::cudnn});
  }
}

TEST(ParityAttention, SmallCases) { check_cases(cases::kAttentionSmallCases); }
TEST(ParityAttention, CudaGridCases) { check_cases(cases::kAttentionGridCases); }
TEST(ParityAttention, OddHeadSizeCases) { check_cases(cases::kAttentionOddHeadCases); }
TEST(ParityAttention, MemoryCases) { check_cases(cases::kAttentionMemoryCases); }
TEST(ParityAttention, WindowCases) { check_cases(cases::kAttentionWindowCases); }

// Forced cuDNN (an unsupported call would be an error, so a silent fallback to our kernels cannot pass here).
TEST(ParityAttention, CudnnCases) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (or built without CUDA): parity not run";
  if (!cuda::cudnn_attention_built()) GTEST_SKIP() << "built without cuDNN's attention (cudnn-frontend): not run";
  check_cudnn_cases(cases::kAttentionSmallCases);
  check_cudnn_cases(cases::kAttentionGridCases);
  check_cudnn_cases(cases::kAttentionOddHeadCases);
  check_cudnn_cases(cases::kAttentionMemoryCases);
  check_cudnn_cases(cases::kAttentionWindowCases);
}

// cuDNN's fused ALiBi mask computes its own slopes; attention_cudnn.cpp uses it where they equal the models'
// (models/common/positions.cpp, as the transformer stores them: f32) bit for bit. They must for every head count a
// model may have, powers of two or not (runs on the CPU: the slopes come from cudnn-frontend's headers).
TEST(ParityAttention, CudnnAlibiSlopesEqualOurs) {
  if (!cuda::cudnn_attention_built()) GTEST_SKIP() << "built without cuDNN's attention (cudnn-frontend): not run";
  for (int NH = 1; NH <= 128; ++NH) {
    const std::vector<double> ours = models::alibi_slopes(NH);
    const std::vector<float> theirs = cuda::cudnn_alibi_slopes(NH);
    ASSERT_EQ(theirs.size(), ours.size()) << "heads " << NH;
    for (int h = 0; h < NH; ++h)
      EXPECT_EQ(theirs[h], static_cast<float>(ours[h])) << "heads " << NH << ", head " << h;
  }
}

// The fused path itself: the models' slopes (so cuDNN's alibi mask, not a bias input), head counts 3, 8 and 12,
// against the CPU with the same slopes.
TEST(ParityAttention, CudnnFusedAlibiMask) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (or built without CUDA): parity not run";
  if (!cuda::cudnn_attention_built()) GTEST_SKIP() << "built without cuDNN's attention (cudnn-frontend): not run";
  for (int64_t NH : {3, 8, 12})
    for (int64_t T : {70, 130}) {
      const cases::AttentionCase c{2, T, NH, 64, cases::AttnBias::alibi, true};
      BuildFn build = [NH](Graph& g, const std::vector<Var>& v) {
        const std::vector<double> s = models::alibi_slopes(static_cast<int>(NH));
        std::vector<float> f(s.begin(), s.end());
        Tensor slopes = g.alloc(DType::f32, {NH});
        device_copy(g.device(), slopes.data, Device::cpu, f.data(), f.size() * sizeof(float));
        PositionBias bias;
        bias.kind = K::alibi;
        bias.slopes = static_cast<const float*>(slopes.data);
        return std::vector<Var>{ops::attention(g, v[0], v[1], v[2], bias, 0.0f, true)};
      };
      SCOPED_TRACE("bf16 cudnn models' ALiBi slopes, " + cases::describe(c));
      WEFT_PARITY_KERNELS(qkv(c), build, DType::bf16, attention_tolerance(DType::bf16), GpuKernels{KernelBackend::cudnn});
    }
}

// random_f32 values stored as dt (bf16: rounded on the host), for the determinism check.
OwnedTensor random_of(DType dt, Shape shape, uint64_t seed) {
  OwnedTensor r = random_f32(shape, seed);
  if (dt == DType::f32) return r;
  OwnedTensor conv(dt, shape);
  Exec host = cpu_exec(1);
  cpu::cast(host, dt, conv.tensor().data, DType::f32, r.tensor().data, r.tensor().numel(), false);
  return conv;
}

// Two runs of the same GPU graph give bitwise equal outputs and gradients (no atomics in the backward),
// for the f32 kernels, the bf16 tensor-core ones (attention_tc_*.cu) and cuDNN's deterministic backward.
TEST(ParityAttention, GpuBackwardIsDeterministic) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (or built without CUDA): parity not run";
  const cases::AttentionCase c{2, 130, 3, 64, cases::AttnBias::table, true};
  auto run = [&c](DType dt, KernelBackend backend) {
    Exec gpu = cuda::exec_create(0);
    gpu.attention = backend;
    std::vector<std::vector<double>> results;
    {
      Arena arena(Device::cuda);
      Graph g(gpu, arena);
      std::vector<OwnedTensor> owned;
      std::vector<Var> leaves;
      for (int i = 0; i < 3; ++i) {
        owned.push_back(random_of(dt, {c.B, c.T, c.NH, c.HS}, 60 + i).to(Device::cuda));
        leaves.push_back(g.input(owned.back(), true));
      }
      Var out = attention_build(c)(g, leaves)[0];
      OwnedTensor seed = random_of(dt, {c.B, c.T, c.NH, c.HS}, 70).to(Device::cuda);
      g.backward({out}, {seed.tensor()});
      results.push_back(to_host_doubles(out->value));
      for (Var l : leaves) results.push_back(to_host_doubles(l->grad));
      cuda::synchronize(gpu);
    }
    cuda::exec_destroy(gpu);
    return results;
  };
  std::vector<std::pair<DType, KernelBackend>> runs{{DType::f32, KernelBackend::weft},
                                                        {DType::bf16, KernelBackend::weft}};
  if (cuda::cudnn_attention_built()) runs.push_back({DType::bf16, KernelBackend::cudnn});  // deterministic bwd
  for (auto [dt, backend] : runs) {
    const auto first = run(dt, backend), second = run(dt, backend);
    ASSERT_EQ(first.size(), second.size());
    for (size_t t = 0; t < first.size(); ++t)
      EXPECT_TRUE(first[t] == second[t]) << dtype_name(dt) << " " << kernel_backend_name(backend) << " tensor "
                                         << t << " differs";
  }
}

TEST(ParityAttention, UnsupportedHeadSizeFailsNamingIt) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (or built without CUDA): parity not run";
  Exec gpu = cuda::exec_create(0);
  gpu.attention = KernelBackend::weft;  // our kernels' limit (cuDNN's is 256)
  std::string message;
  try {
    cuda::attention_forward(gpu, DType::bf16, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 4, 4, 1, 129, 1.0f,
                            PositionBias{}, false);
  } catch (const Error& e) {
    message = e.what();
  }
  cuda::exec_destroy(gpu);
  EXPECT_NE(message.find("head size 129"), std::string::npos) << message;
}

}  // namespace
}  // namespace weft::test
