// GPU norm micro-benchmark: forward and backward time of LayerNorm and RMSNorm over (N, C) rows (default the
// GPT-2-124M step's: N = 16 x 1024, C = 768) in f32 and bf16, with our kernels and cuDNN's (--norm-backend weft |
// cudnn), and the bandwidth each reaches (bytes it must move: x and out forward; x, dout and dx backward, plus the
// parameters). `--norm-backend auto` keeps ours until this shows cuDNN's faster (docs/gpu-validation.md).
// Usage: bench_norm [N] [C] [iters]. Without a GPU it says so and exits 0 (tools/gpu-check runs it).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/bench/gpu_timing.h"

using namespace weft;

int main(int argc, char** argv) {
  const int64_t N = argc > 1 ? std::atoll(argv[1]) : 16 * 1024, C = argc > 2 ? std::atoll(argv[2]) : 768;
  const int iters = argc > 3 ? std::atoi(argv[3]) : 50;
  if (cuda::device_count() == 0) {
    std::printf("bench_norm: no CUDA device (or built without CUDA): skipped\n");
    return 0;
  }
  Exec ex = cuda::exec_create(0);
  std::printf("norms N %lld C %lld, %d iterations\n", (long long)N, (long long)C, iters);
  std::printf("%-9s %-5s %-6s %9s %9s %9s %9s\n", "norm", "dtype", "kernel", "fwd us", "bwd us", "fwd GB/s",
              "bwd GB/s");
  std::vector<KernelBackend> backends{KernelBackend::weft};
  if (cuda::cudnn_attention_built()) backends.push_back(KernelBackend::cudnn);
  else std::printf("(built without cuDNN's norms: weft only)\n");
  for (DType dt : {DType::f32, DType::bf16}) {
    const size_t el = dtype_size(dt), rows = static_cast<size_t>(N * C) * el;
    std::vector<Buffer> b;  // x, out, dout, dx, weight, bias, dweight, dbias
    for (size_t bytes : {rows, rows, rows, rows, C * el, C * el, C * el, C * el}) {
      b.emplace_back(Device::cuda, bytes);
      device_zero(Device::cuda, b.back().data(), bytes);
    }
    Buffer mean(Device::cuda, N * sizeof(float)), rstd(Device::cuda, N * sizeof(float));
    {  // x = a ramp, weight = 1 (a norm of zeros is 0 / sqrt(eps): fine for timing, but keep the values finite)
      std::vector<float> host(static_cast<size_t>(N * C));
      for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(i % 97) * 0.01f - 0.5f;
      Buffer f(Device::cuda, host.size() * sizeof(float));
      device_copy(Device::cuda, f.data(), Device::cpu, host.data(), host.size() * sizeof(float));
      cuda::cast(ex, dt, b[0].data(), DType::f32, f.data(), N * C, false);
      cuda::cast(ex, dt, b[2].data(), DType::f32, f.data(), N * C, false);
      std::vector<float> ones(static_cast<size_t>(C), 1.0f);
      device_copy(Device::cuda, f.data(), Device::cpu, ones.data(), ones.size() * sizeof(float));
      cuda::cast(ex, dt, b[4].data(), DType::f32, f.data(), C, false);
      cuda::synchronize(ex);
    }
    for (const std::string norm : {"layernorm", "rmsnorm"})
      for (KernelBackend backend : backends) {
        ex.norm = backend;
        const bool ln = norm == "layernorm";
        auto forward = [&] {
          if (ln)
            cuda::layernorm_forward(ex, dt, b[1].data(), mean.data(), rstd.data(), b[0].data(), b[4].data(),
                                    b[5].data(), N, C, 1e-5f);
          else
            cuda::rmsnorm_forward(ex, dt, b[1].data(), rstd.data(), b[0].data(), b[4].data(), N, C, 1e-5f);
        };
        auto backward = [&] {
          if (ln)
            cuda::layernorm_backward(ex, dt, b[3].data(), b[6].data(), b[7].data(), b[2].data(), b[0].data(),
                                     b[4].data(), mean.data(), rstd.data(), N, C);
          else
            cuda::rmsnorm_backward(ex, dt, b[3].data(), b[6].data(), b[2].data(), b[0].data(), b[4].data(),
                                   rstd.data(), N, C);
        };
        double fwd_us = 0, bwd_us = 0;
        try {
          const bench::FwdBwdMs ms = bench::time_fwd_bwd(ex, iters, forward, backward);
          fwd_us = 1e3 * ms.fwd;
          bwd_us = 1e3 * ms.bwd;
        } catch (const Error& e) {
          std::printf("%-9s %-5s %-6s not run: %s\n", norm.c_str(), std::string(dtype_name(dt)).c_str(),
                      kernel_backend_name(backend), e.what());
          continue;
        }
        // x read + out written forward; x, dout read and dx read-modify-written backward (we add into dx).
        const double fwd_bytes = 2.0 * rows, bwd_bytes = 4.0 * rows;
        std::printf("%-9s %-5s %-6s %9.1f %9.1f %9.0f %9.0f\n", norm.c_str(), std::string(dtype_name(dt)).c_str(),
                    kernel_backend_name(backend), fwd_us, bwd_us, fwd_bytes / (fwd_us * 1e3),
                    bwd_bytes / (bwd_us * 1e3));
      }
  }
  cuda::exec_destroy(ex);
  return 0;
}
