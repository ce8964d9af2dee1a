// Timing of a GPU forward / backward pair for the micro-benchmarks (bench_attention, bench_norm): 3 warm-up
// pairs (graphs built, clocks up), then `iters` forwards and `iters` backwards, each batch timed between stream
// synchronizations. Returns milliseconds per call.
#pragma once

#include <chrono>

#include "runtime/exec.h"

namespace weft::bench {

struct FwdBwdMs {
  double fwd = 0, bwd = 0;
};

template <class Forward, class Backward>
FwdBwdMs time_fwd_bwd(Exec& ex, int iters, Forward&& forward, Backward&& backward) {
  for (int w = 0; w < 3; ++w) forward(), backward();
  cuda::synchronize(ex);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) forward();
  cuda::synchronize(ex);
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) backward();
  cuda::synchronize(ex);
  auto t2 = std::chrono::steady_clock::now();
  return {std::chrono::duration<double, std::milli>(t1 - t0).count() / iters,
          std::chrono::duration<double, std::milli>(t2 - t1).count() / iters};
}

}  // namespace weft::bench
