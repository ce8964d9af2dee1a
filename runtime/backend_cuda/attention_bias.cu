// The additive bias input of cuDNN's attention (attention_cudnn.cpp) for biases cuDNN cannot form itself:
// out (NH, Tq, Tk) bf16 = bias(h, i + Tk - Tq, j), the same PositionBias our kernels evaluate per score. The
// mask (causal, window) is not folded in: cuDNN applies it, and skips the masked tiles.
#include "runtime/backend_cuda/cudnn_ops.h"
#include "runtime/backend_cuda/cuda_common.cuh"

namespace weft::cuda {
namespace {

__global__ void attention_bias_kernel(__nv_bfloat16* out, PositionBias bias, int64_t NH, int64_t Tq, int64_t Tk) {
  const int64_t n = NH * Tq * Tk, off = Tk - Tq;
  WEFT_CUDA_FOR(idx, n) {
    const int64_t j = idx % Tk, i = idx / Tk % Tq, h = idx / (Tk * Tq);
    out[idx] = __float2bfloat16(bias(h, i + off, j));
  }
}

}  // namespace

void fill_attention_bias(Exec& ex, void* out, const PositionBias& bias, int64_t NH, int64_t Tq, int64_t Tk) {
  const int64_t n = NH * Tq * Tk;
  if (n == 0) return;
  attention_bias_kernel<<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(static_cast<__nv_bfloat16*>(out), bias, NH,
                                                                       Tq, Tk);
  CUDA_CHECK_LAUNCH("fill_attention_bias");
}

}  // namespace weft::cuda
