// The GEMMs of one transformer training step, alone: each linear-layer and head GEMM (forward x W^T, dx, dW)
// of a GPT config timed through cpu::gemm, the library weft trains with, next to the measured square sgemm
// peak. Their sum is the step's floor if everything between the GEMMs cost nothing; the step's real time
// (tests/bench/bench_train.sh) minus it is what fusing can win. Attention's own block GEMMs are not included
// (printed: their FLOP share). Usage: bench_step_gemms [threads] [V] [d] [layers] [T] [B] [reps] [cpu-gemm]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "runtime/cpu_gemm.h"
#include "runtime/gemm_peak.h"
#include "runtime/kernels.h"

using namespace weft;

namespace {

struct StepGemm {
  const char* name;
  bool ta, tb;
  int64_t M, N, K, per_step;  // per_step: how many times a step runs it (once per layer, or once)
};

// Best of `reps` timed calls (after one untimed), seconds; C += A B as the backward accumulates.
double time_gemm(Exec& ex, const StepGemm& g, int reps) {
  std::vector<float> A(g.M * g.K, 0.01f), B(g.K * g.N, 0.02f), C(g.M * g.N, 0.0f);
  const int64_t lda = g.ta ? g.M : g.K, ldb = g.tb ? g.K : g.N;
  auto call = [&] {
    cpu::gemm(ex, DType::f32, g.ta, g.tb, g.M, g.N, g.K, 1.0f, A.data(), lda, 0, B.data(), ldb, 0, 1.0f, C.data(),
              g.N, 0, 1);
  };
  call();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    call();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
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
  std::printf("%-9s %-4s %6s %6s %6s  %9s %8s %7s\n", "layer", "gemm", "M", "N", "K", "ms/call", "GFLOP/s", "% peak");
  double step_s = 0, step_flops = 0;
  const char* kinds[] = {"fwd", "dx", "dW"};
  for (size_t i = 0; i < gemms.size(); ++i) {
    const StepGemm& g = gemms[i];
    const double s = time_gemm(ex, g, reps), flops = 2.0 * g.M * g.N * g.K;
    step_s += s * g.per_step;
    step_flops += flops * g.per_step;
    std::printf("%-9s %-4s %6lld %6lld %6lld  %9.3f %8.1f %6.1f%%\n", g.name, kinds[i % 3], (long long)g.M,
                (long long)g.N, (long long)g.K, s * 1e3, flops / s / 1e9, 100.0 * flops / s / 1e9 / peak);
  }
  const double attention_flops = 3.0 * 2.0 * 2.0 * N * T * d * L;  // QK^T and PV, fwd + 2 bwd, full squares
  std::printf("\nlinear + head GEMMs per step: %.1f ms, %.1f GFLOP/s = %.1f%% of the peak\n", step_s * 1e3,
              step_flops / step_s / 1e9, 100.0 * step_flops / step_s / 1e9 / peak);
  std::printf("GEMM-only ceiling: %.0f tok/s (a step that did nothing but these GEMMs; attention's block GEMMs, "
              "%.1f%% of these FLOPs counted as full squares, not included)\n",
              N / step_s, 100.0 * attention_flops / step_flops);
  return 0;
}
