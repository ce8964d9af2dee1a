// Linear-layer micro-benchmark: GFLOP/s of linear forward + backward (default 4096 rows, 768 -> 3072)
// through the autograd ops, next to the machine's measured sgemm peak (the best of several large
// square sgemm calls through the same BLAS). Usage: bench_linear [threads] [rows] [in] [out] [iters] [cpu-gemm]
// (cpu-gemm: auto | onednn | openblas, as weft's --cpu-gemm; runtime/cpu_gemm.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "runtime/cpu_gemm.h"
#include "runtime/gemm_peak.h"
#include "runtime/kernels.h"
#include "runtime/ops/ops.h"
#include "runtime/param_store.h"

using namespace weft;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  int64_t N = argc > 2 ? std::atoll(argv[2]) : 4096, C = argc > 3 ? std::atoll(argv[3]) : 768,
          OC = argc > 4 ? std::atoll(argv[4]) : 3072;
  int iters = argc > 5 ? std::atoi(argv[5]) : 10;
  set_cpu_gemm(parse_cpu_gemm(argc > 6 ? argv[6] : "auto"));
  Exec ex = cpu_exec(threads);
  std::printf("f32 GEMMs: %s\n", cpu_gemm_description(cpu_gemm()).c_str());

  ParamStore store(DType::f32);
  int w = store.add("w", {OC, C}, Init::Normal(0.02));
  int b = store.add("b", {OC}, Init::Zeros(), false);
  store.finalize();
  store.initialize(1);
  OwnedTensor x(DType::f32, {N, C});
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor seed(DType::f32, {N, OC});
  std::fill(seed.ptr<float>(), seed.ptr<float>() + seed.numel(), 1e-3f);

  auto step = [&] {
    Var out = ops::linear(g, g.input(x, true), g.param(store, w), g.param(store, b));
    g.backward({out}, {seed.tensor()});
    g.clear();
  };
  step();  // warm-up: sizes the arena
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) step();
  double s = seconds_since(t0) / iters;
  double flops = 3 * 2.0 * N * C * OC;  // forward GEMM + two backward GEMMs
  double gflops = flops / s / 1e9;
  double peak = measured_gemm_peak(ex, DType::f32, {1024, 2048, 3072}) / 1e9;
  std::printf("linear fwd+bwd  N=%lld %lld->%lld  threads=%d: %.1f ms/iter, %.1f GFLOP/s\n", (long long)N,
              (long long)C, (long long)OC, threads, s * 1e3, gflops);
  std::printf("measured sgemm peak (square 1024-3072, best of 3): %.1f GFLOP/s\n", peak);
  std::printf("linear fwd+bwd / sgemm peak: %.1f%%\n", 100.0 * gflops / peak);
  return 0;
}
