// Compares sgemm throughput of the BLAS libraries Debian offers, on the linear layer's three GEMM
// shapes (forward NN... x W^T, and the two backward products). Not built by CMake (it links one BLAS at a
// time); build and run it with tests/bench/blas_compare.sh. The results are in docs/cpu-blas.md.
#include <chrono>
#include <cstdio>
#include <vector>
#ifdef USE_DNNL
#include <dnnl.h>
#else
extern "C" void cblas_sgemm(int, int, int, int, int, int, float, const float*, int, const float*, int, float,
                            float*, int);
#endif

int main() {
  const int M = 4096, N = 3072, K = 768;  // rows, out features, in features
  std::vector<float> A(size_t(M) * K, 0.01f), B(size_t(K) * N, 0.02f), C(size_t(M) * N);
  const char* names[] = {"x @ W^T    (M,K)x(K,N)", "dx = dy @ W (M,N)x(N,K)", "dW = dy^T @ x (N,M)x(M,K)"};
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
    for (int i = 0; i < 5; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      run();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("  %-28s %6.1f GFLOP/s\n", names[t], 2.0 * M * N * K / best / 1e9);
  }
}
