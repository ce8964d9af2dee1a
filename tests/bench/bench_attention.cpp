// GPU attention micro-benchmark: forward and backward time of one bf16 attention call (default the GPT-2-124M
// shape: B 16, T 1024, 12 heads of 64) with each attention backend (--attention-backend weft | cudnn) and each
// position scheme that reaches the kernel: plain causal, ALiBi (the models' slopes: cuDNN's fused alibi mask),
// Sandwich (its table: cuDNN's bias input) and RoPE (rotary q and k, then causal attention; the rotation's time
// is included). Prints milliseconds, TFLOP/s (causal: half of 4 B NH T^2 HS forward, 2.5x that backward) and each
// scheme's time over plain causal on the same backend (issue 17's target: ALiBi and Sandwich within 10%).
// Usage: bench_attention [B] [T] [NH] [HS] [iters]. Without a GPU it says so and exits 0 (tools/gpu-check runs it).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "models/common/positions.h"
#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/bench/gpu_timing.h"

using namespace weft;

namespace {

Buffer upload(const std::vector<float>& v) {
  Buffer b(Device::cuda, v.size() * sizeof(float));
  device_copy(Device::cuda, b.data(), Device::cpu, v.data(), v.size() * sizeof(float));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t B = argc > 1 ? std::atoll(argv[1]) : 16, T = argc > 2 ? std::atoll(argv[2]) : 1024,
                NH = argc > 3 ? std::atoll(argv[3]) : 12, HS = argc > 4 ? std::atoll(argv[4]) : 64;
  const int iters = argc > 5 ? std::atoi(argv[5]) : 20;
  if (cuda::device_count() == 0) {
    std::printf("bench_attention: no CUDA device (or built without CUDA): skipped\n");
    return 0;
  }
  Exec ex = cuda::exec_create(0);
  const int64_t n = B * T * NH * HS;
  std::vector<Buffer> bufs;
  for (int i = 0; i < 12; ++i) {  // q k v out dout dq dk dv, rotated q and k, their gradients (bf16)
    bufs.emplace_back(Device::cuda, static_cast<size_t>(n) * 2);
    device_zero(Device::cuda, bufs.back().data(), static_cast<size_t>(n) * 2);
  }
  {  // random q, k, v, dout in bf16
    std::vector<float> host(static_cast<size_t>(n));
    uint64_t state = 12345;
    for (int i : {0, 1, 2, 4}) {
      for (float& x : host) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        x = static_cast<float>((state >> 40) * (1.0 / (1ull << 24)) * 2.0 - 1.0);
      }
      Buffer f = upload(host);
      cuda::cast(ex, DType::bf16, bufs[i].data(), DType::f32, f.data(), n, false);
      cuda::synchronize(ex);
    }
  }
  Buffer lse(Device::cuda, static_cast<size_t>(B * NH * T) * sizeof(float));
  std::vector<double> alibi = models::alibi_slopes(static_cast<int>(NH));
  std::vector<double> scales = models::sandwich_head_scales(static_cast<int>(NH)),
                      table = models::sandwich_table(128, T);
  Buffer alibi_dev = upload(std::vector<float>(alibi.begin(), alibi.end()));
  Buffer scales_dev = upload(std::vector<float>(scales.begin(), scales.end()));
  Buffer table_dev = upload(std::vector<float>(table.begin(), table.end()));

  const double causal_flops = 4.0 * B * NH * T * T * HS / 2;
  std::printf("attention bf16 B %lld T %lld NH %lld HS %lld, %d iterations, causal\n", (long long)B, (long long)T,
              (long long)NH, (long long)HS, iters);
  std::printf("%-8s %-9s %9s %9s %10s %10s %14s\n", "backend", "position", "fwd ms", "bwd ms", "fwd TF/s", "bwd TF/s",
              "fwd+bwd / causal");
  std::vector<KernelBackend> backends{KernelBackend::weft};
  if (cuda::cudnn_attention_built()) backends.push_back(KernelBackend::cudnn);
  else std::printf("(built without cuDNN's attention: weft only)\n");
  for (KernelBackend backend : backends) {
    ex.attention = backend;
    double causal_total = 0;
    for (const std::string position : {"causal", "alibi", "sandwich", "rope"}) {
      PositionBias bias;
      if (position == "alibi") {
        bias.kind = PositionBias::Kind::alibi;
        bias.slopes = static_cast<const float*>(alibi_dev.data());
      } else if (position == "sandwich") {
        bias.kind = PositionBias::Kind::table;
        bias.slopes = static_cast<const float*>(scales_dev.data());
        bias.table = static_cast<const float*>(table_dev.data());
        bias.table_len = T;
      }
      const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
      auto q_of = [&] { return bufs[position == "rope" ? 8 : 0].data(); };
      auto k_of = [&] { return bufs[position == "rope" ? 9 : 1].data(); };
      auto forward = [&] {
        if (position == "rope")  // rotated copies of q and k
          for (int i : {0, 1})
            cuda::rope_forward(ex, DType::bf16, bufs[8 + i].data(), bufs[i].data(), B, T, NH, HS, HS, 10000.0f, 0);
        cuda::attention_forward(ex, DType::bf16, bufs[3].data(), lse.data(), q_of(), k_of(), bufs[2].data(), B, T, T,
                                NH, HS, scale, bias, true);
      };
      auto backward = [&] {
        cuda::attention_backward(ex, DType::bf16, bufs[5].data(), bufs[6].data(), bufs[7].data(), bufs[4].data(),
                                 bufs[3].data(), lse.data(), q_of(), k_of(), bufs[2].data(), B, T, T, NH, HS, scale,
                                 bias, true);
        if (position == "rope")
          for (int i : {0, 1})
            cuda::rope_backward(ex, DType::bf16, bufs[10 + i].data(), bufs[5 + i].data(), B, T, NH, HS, HS, 10000.0f, 0);
      };
      bench::FwdBwdMs t;
      try {
        t = bench::time_fwd_bwd(ex, iters, forward, backward);
      } catch (const Error& e) {
        std::printf("%-8s %-9s not run: %s\n", kernel_backend_name(backend), position.c_str(), e.what());
        continue;
      }
      const double total = t.fwd + t.bwd;
      if (position == "causal") causal_total = total;
      std::printf("%-8s %-9s %9.3f %9.3f %10.1f %10.1f %14.3f\n", kernel_backend_name(backend), position.c_str(),
                  t.fwd, t.bwd, causal_flops / (t.fwd * 1e9), 2.5 * causal_flops / (t.bwd * 1e9),
                  causal_total > 0 ? total / causal_total : 0.0);
    }
  }
  cuda::exec_destroy(ex);
  return 0;
}
