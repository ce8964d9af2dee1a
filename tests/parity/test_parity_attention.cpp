// CPU-vs-CUDA parity of attention (forward and backward: out, dq, dk, dv) on the cases of
// tests/cases/attention_cases.h: every CUDA tile width as the head size (32, 64, 96, 128), sequence lengths
// that are not multiples of the 64-row tile (1, 17, 70, 130), causal and full masks, each positional bias
// (none, ALiBi slopes, a Sandwich-like table; the slopes and table are built inside the graph on its device,
// since the kernels read them there), f32 and bf16, and every subset of null gradients (dq, dk or dv not
// wanted); head sizes the kernels zero-pad (the small cases' 1 to 8; 1, 6, 24, 40, 41, 82, 100); more keys than
// queries (the memory cases: Tk = T + mem with the causal offset, memories inside, at and past a key tile);
// windows (bias.window: inside, at and past a 64-key tile, with memory, null gradients). Plus a bitwise
// run-to-run check of the GPU backward and the error for a head size over the kernels' 128.
// Every case reports SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

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

template <class List>
void check_cases(const List& list) {
  for (DType dt : {DType::f32, DType::bf16})
    for (const cases::AttentionCase& c : list) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c));
      WEFT_PARITY(qkv(c), attention_build(c), dt, attention_tolerance(dt));
    }
}

TEST(ParityAttention, SmallCases) { check_cases(cases::kAttentionSmallCases); }
TEST(ParityAttention, CudaGridCases) { check_cases(cases::kAttentionGridCases); }
TEST(ParityAttention, OddHeadSizeCases) { check_cases(cases::kAttentionOddHeadCases); }
TEST(ParityAttention, MemoryCases) { check_cases(cases::kAttentionMemoryCases); }
TEST(ParityAttention, WindowCases) { check_cases(cases::kAttentionWindowCases); }

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
// for the f32 kernels and the bf16 tensor-core ones (attention_tc_*.cu).
TEST(ParityAttention, GpuBackwardIsDeterministic) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (or built without CUDA): parity not run";
  const cases::AttentionCase c{2, 130, 3, 64, cases::AttnBias::table, true};
  auto run = [&c](DType dt) {
    Exec gpu = cuda::exec_create(0);
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
  for (DType dt : {DType::f32, DType::bf16}) {
    const auto first = run(dt), second = run(dt);
    ASSERT_EQ(first.size(), second.size());
    for (size_t t = 0; t < first.size(); ++t)
      EXPECT_TRUE(first[t] == second[t]) << dtype_name(dt) << " tensor " << t << " differs";
  }
}

TEST(ParityAttention, UnsupportedHeadSizeFailsNamingIt) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (or built without CUDA): parity not run";
  Exec gpu = cuda::exec_create(0);
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
