// The GEMMs of one transformer training step, alone: each linear-layer and head GEMM (forward x W^T, dx, dW)
// of a GPT config timed through cpu::gemm, the library weft trains with, next to the measured square sgemm
// peak. Their sum is the step's floor if everything between the GEMMs cost nothing; the step's real time
// (tests/bench/bench_train.sh) minus it is what fusing can win. Each GEMM is timed hot (operands in cache,
// called back to back) and cold (caches evicted first, as inside a step); attention (causal, no bias, heads
// of 64) is timed apart as the kernels weft trains with run it. The last line is the step's floor: cold GEMMs
// plus attention, as a share of the peak by the trainer's FLOP count.
// Usage: bench_step_gemms [threads] [V] [d] [layers] [T] [B] [reps] [cpu-gemm]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "runtime/cpu_gemm.h"
#include "runtime/gemm_peak.h"
#include "runtime/kernels.h"
#include "runtime/math/position_bias.h"

using namespace weft;

namespace {

struct StepGemm {
  const char* name;
  bool ta, tb;
  int64_t M, N, K, per_step;  // per_step: how many times a step runs it (once per layer, or once)
};

// Best of `reps` timed calls (after one untimed), seconds. C is written (beta 0) where the step writes it
// (forward outputs, a first input gradient) and accumulated (beta 1) where it accumulates (parameter
// gradients). `cold`: every call starts with caches full of other data, as in a training step, where each
// GEMM's operands and output were last touched long before (an activation written in the forward is read
// back in the backward after the rest of the step; forward outputs go to memory nothing touched since the
// last step).
double time_gemm(Exec& ex, const StepGemm& g, bool accumulate, bool cold, int reps) {
  std::vector<float> A(g.M * g.K, 0.01f), B(g.K * g.N, 0.02f), C(g.M * g.N, 0.0f);
  static std::vector<float> evict(size_t(64) << 20);  // 256 MB, more than any cache level here
  const int64_t lda = g.ta ? g.M : g.K, ldb = g.tb ? g.K : g.N;
  auto call = [&] {
    cpu::gemm(ex, DType::f32, g.ta, g.tb, g.M, g.N, g.K, 1.0f, A.data(), lda, 0, B.data(), ldb, 0,
              accumulate ? 1.0f : 0.0f, C.data(), g.N, 0, 1);
  };
  call();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    if (cold)
      for (size_t j = 0; j < evict.size(); j += 16) evict[j] += 1.0f;
    auto t0 = std::chrono::steady_clock::now();
    call();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// Best of `reps` (after one untimed) of one causal attention forward and backward over (B, T, d) with heads
// of 64, seconds {forward, backward}.
std::pair<double, double> time_attention(Exec& ex, int64_t B, int64_t T, int64_t d, int reps) {
  const int64_t HS = 64, NH = d / HS, n = B * T * d;
  std::vector<float> q(n), k(n), v(n), out(n), dout(n), dq(n), dk(n), dv(n), lse(B * NH * T);
  for (int64_t i = 0; i < n; ++i) {
    q[i] = 0.01f * float(i % 97) - 0.5f;
    k[i] = 0.01f * float(i % 89) - 0.4f;
    v[i] = 0.01f * float(i % 83) - 0.4f;
    dout[i] = 0.001f * float(i % 79);
  }
  const PositionBias none{};
  const float scale = 1.0f / 8.0f;
  auto fwd = [&] {
    cpu::attention_forward(ex, DType::f32, out.data(), lse.data(), q.data(), k.data(), v.data(), B, T, T, NH, HS,
                           scale, none, true);
  };
  auto bwd = [&] {
    cpu::attention_backward(ex, DType::f32, dq.data(), dk.data(), dv.data(), dout.data(), out.data(), lse.data(),
                            q.data(), k.data(), v.data(), B, T, T, NH, HS, scale, none, true);
  };
  auto best_of = [&](auto&& call) {
    call();
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      call();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  return {best_of(fwd), best_of(bwd)};
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int64_t V = argc > 2 ? std::atoll(argv[2]) : 4096, d = argc > 3 ? std::atoll(argv[3]) : 256,
                L = argc > 4 ? std::atoll(argv[4]) : 4, T = argc > 5 ? std::atoll(argv[5]) : 256,
                B = argc > 6 ? std::atoll(argv[6]) : 8;
  const int reps = argc > 7 ? std::atoi(argv[7]) : 5;
  set_cpu_gemm(parse_cpu_gemm(argc > 8 ? argv[8] : "auto"));
  Exec ex = cpu_exec(threads);
  const int64_t N = B * T, ff = 4 * d;
  std::printf("f32 GEMMs: %s, %d threads; V=%lld d=%lld L=%lld T=%lld B=%lld (%lld rows)\n",
              cpu_gemm_description(cpu_gemm()).c_str(), threads, (long long)V, (long long)d, (long long)L,
              (long long)T, (long long)B, (long long)N);
  // A linear layer x (N, C) -> (N, OC): forward N x OC x C (x W^T), dx N x C x OC, dW OC x C x N (dy^T x).
  std::vector<StepGemm> gemms;
  auto linear = [&](const char* name, int64_t C, int64_t OC, int64_t times) {
    gemms.push_back({name, false, true, N, OC, C, times});
    gemms.push_back({name, false, false, N, C, OC, times});
    gemms.push_back({name, true, false, OC, C, N, times});
  };
  linear("qkv", d, 3 * d, L);
  linear("attn out", d, d, L);
  linear("mlp up", d, ff, L);
  linear("mlp down", ff, d, L);
  linear("head", d, V, 1);
  const double peak = measured_gemm_peak(ex, DType::f32, {1024, 2048, 3072}) / 1e9;
  std::printf("measured sgemm peak (square 1024-3072, best of 3): %.1f GFLOP/s\n\n", peak);
  std::printf("%-9s %-4s %6s %6s %6s  %14s %7s  %14s %7s\n", "layer", "gemm", "M", "N", "K", "hot ms/call",
              "% peak", "cold ms/call", "% peak");
  double step_s = 0, cold_step_s = 0, step_flops = 0;
  const char* kinds[] = {"fwd", "dx", "dW"};
  for (size_t i = 0; i < gemms.size(); ++i) {
    const StepGemm& g = gemms[i];
    const bool accumulate = i % 3 == 2;  // dW accumulates into the parameter gradient
    const double s = time_gemm(ex, g, accumulate, false, reps), cs = time_gemm(ex, g, accumulate, true, reps);
    const double flops = 2.0 * g.M * g.N * g.K;
    step_s += s * g.per_step;
    cold_step_s += cs * g.per_step;
    step_flops += flops * g.per_step;
    std::printf("%-9s %-4s %6lld %6lld %6lld  %14.3f %6.1f%%  %14.3f %6.1f%%\n", g.name, kinds[i % 3],
                (long long)g.M, (long long)g.N, (long long)g.K, s * 1e3, 100.0 * flops / s / 1e9 / peak, cs * 1e3,
                100.0 * flops / cs / 1e9 / peak);
  }
  const double attention_flops = 3.0 * 2.0 * 2.0 * N * T * d * L;  // QK^T and PV, fwd + 2 bwd, full squares
  const auto [attn_f, attn_b] = time_attention(ex, B, T, d, reps);
  const double causal_flops = attention_flops / 2 / 3;  // one pass over the causal half: forward's FLOPs
  std::printf("\nattention (causal, heads of 64), per layer: forward %.3f ms (%.1f%% of peak), backward %.3f ms "
              "(%.1f%%, 2.5x the forward's FLOPs as counted for flash attention's backward); all %lld layers: "
              "%.1f ms\n",
              attn_f * 1e3, 100.0 * causal_flops / L / attn_f / 1e9 / peak, attn_b * 1e3,
              100.0 * 2.5 * causal_flops / L / attn_b / 1e9 / peak, (long long)L, (attn_f + attn_b) * L * 1e3);
  std::printf("\nlinear + head GEMMs per step: hot %.1f ms (%.1f%% of the peak), cold %.1f ms (%.1f%%)\n",
              step_s * 1e3, 100.0 * step_flops / step_s / 1e9 / peak, cold_step_s * 1e3,
              100.0 * step_flops / cold_step_s / 1e9 / peak);
  const double model_flops = step_flops + attention_flops / 2;  // the trainer's count: 6N + 6LTd per token
  const double floor_s = cold_step_s + (attn_f + attn_b) * L;
  std::printf("step floor (cold GEMMs + attention, nothing else): %.1f ms = %.0f tok/s = %.1f%% of the peak by "
              "the trainer's FLOP count (6N + 6LTd per token; embeddings and norms not counted here)\n",
              floor_s * 1e3, N / floor_s, 100.0 * model_flops / floor_s / 1e9 / peak);
  return 0;
}
