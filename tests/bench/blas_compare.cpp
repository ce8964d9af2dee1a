// sgemm throughput of one BLAS library on the linear layer's three GEMM shapes (forward x W^T and the two
// backward products, 4096 rows, 768 -> 3072). Not built by CMake (it links one library at a time): build and
// run it with tests/bench/blas_compare.sh, which compares OpenBLAS (native and forced kernel sets), BLIS and
// oneDNN in one sitting. Prints one line: GFLOP/s of each shape, the best of `reps` timed calls (argv[1]).
// The results are in docs/cpu-blas.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#ifdef USE_DNNL
#include <oneapi/dnnl/dnnl.h>
#else
extern "C" void cblas_sgemm(int, int, int, int, int, int, float, const float*, int, const float*, int, float,
                            float*, int);
#endif

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  const int M = 4096, N = 3072, K = 768;  // rows, out features, in features
  std::vector<float> A(size_t(M) * K, 0.01f), B(size_t(K) * N, 0.02f), C(size_t(M) * N);
#ifdef USE_DNNL
  dnnl_set_max_cpu_isa(dnnl_cpu_isa_all);  // as weft does: ONEDNN_MAX_CPU_ISA cannot lower the kernels
#endif
  const char* names[] = {"fwd", "dx", "dw"};  // x @ W^T (M,K)x(K,N); dy @ W (M,N)x(N,K); dy^T @ x (N,M)x(M,K)
  for (int t = 0; t < 3; ++t) {
    auto run = [&] {
#ifdef USE_DNNL
      if (t == 0) dnnl_sgemm('N', 'T', M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, C.data(), N);
      if (t == 1) dnnl_sgemm('N', 'N', M, K, N, 1.f, C.data(), N, B.data(), K, 0.f, A.data(), K);
      if (t == 2) dnnl_sgemm('T', 'N', N, K, M, 1.f, C.data(), N, A.data(), K, 0.f, B.data(), K);
#else
      if (t == 0) cblas_sgemm(101, 111, 112, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, C.data(), N);
      if (t == 1) cblas_sgemm(101, 111, 111, M, K, N, 1.f, C.data(), N, B.data(), K, 0.f, A.data(), K);
      if (t == 2) cblas_sgemm(101, 112, 111, N, K, M, 1.f, C.data(), N, A.data(), K, 0.f, B.data(), K);
#endif
    };
    run();
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      run();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("%s %.1f ", names[t], 2.0 * M * N * K / best / 1e9);
  }
  std::printf("\n");
}
