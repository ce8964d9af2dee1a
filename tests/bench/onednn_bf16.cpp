// oneDNN matmul in bf16 (bf16 inputs, f32 output) against f32 on a few shapes of the small training step:
// whether CPU bf16 compute would pay on this machine (docs/benchmarks.md). Not built by CMake:
//   g++ -O2 tests/bench/onednn_bf16.cpp -o /tmp/onednn_bf16 -ldnnl && OMP_NUM_THREADS=1 /tmp/onednn_bf16
// Prints the implementation oneDNN chose for each and the GFLOP/s of both.
#include <oneapi/dnnl/dnnl.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
using namespace dnnl;
double run(engine& eng, stream& s, memory::data_type dt, int M, int N, int K, int reps) {
  memory::desc a({M, K}, dt, memory::format_tag::ab), b({K, N}, dt, memory::format_tag::ab),
      c({M, N}, memory::data_type::f32, memory::format_tag::ab);
  matmul::primitive_desc pd(matmul::desc(a, b, c), eng);
  matmul mm(pd);
  memory A(a, eng), B(b, eng), C(c, eng);
  std::memset(A.get_data_handle(), 0x3f, a.get_size()); std::memset(B.get_data_handle(), 0x3f, b.get_size());
  for (int i = 0; i < 3; ++i) mm.execute(s, {{DNNL_ARG_SRC, A}, {DNNL_ARG_WEIGHTS, B}, {DNNL_ARG_DST, C}});
  s.wait();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) mm.execute(s, {{DNNL_ARG_SRC, A}, {DNNL_ARG_WEIGHTS, B}, {DNNL_ARG_DST, C}});
  s.wait();
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s impl=%s\n", dt == memory::data_type::f32 ? "f32" : "bf16", pd.impl_info_str());
  return 2.0 * M * N * K * reps / t / 1e9;
}
int main() {
  engine eng(engine::kind::cpu, 0); stream s(eng);
  int shapes[][3] = {{2048, 1024, 256}, {2048, 256, 1024}, {2048, 4096, 256}, {1024,1024,1024}};
  for (auto& sh : shapes) {
    double f = run(eng, s, memory::data_type::f32, sh[0], sh[1], sh[2], 30);
    double b = run(eng, s, memory::data_type::bf16, sh[0], sh[1], sh[2], 30);
    std::printf("M%d N%d K%d: f32 %.0f GF/s  bf16 %.0f GF/s  ratio %.2f\n", sh[0], sh[1], sh[2], f, b, b / f);
  }
}
