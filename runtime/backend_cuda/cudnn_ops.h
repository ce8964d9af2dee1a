// cuDNN's kernels behind our kernel contracts (runtime/kernel_decls.inc): fused attention and LayerNorm / RMSNorm.
// Our CUDA attention_* and layernorm_* / rmsnorm_* kernels ask these first; they return false when the call stays
// with our kernels: the Exec chose `weft` for the family (Exec::attention, Exec::norm), this build has no cuDNN
// frontend, or cuDNN does not run the case and the Exec chose `auto`. With `cudnn` an unsupported case is an error
// that says why. Implemented in attention_cudnn.cpp, norm_cudnn.cpp (graphs through the header-only
// cudnn-frontend, cudnn_graphs.h) and attention_bias.cu (the bias input of Sandwich).
#pragma once

#include <cstdint>

#include "runtime/dtype.h"
#include "runtime/exec.h"
#include "runtime/math/position_bias.h"

namespace weft::cuda {

bool cudnn_attention_forward(Exec& ex, DType dt, void* out, void* lse, const void* q, const void* k, const void* v,
                             int64_t B, int64_t Tq, int64_t Tk, int64_t NH, int64_t HS, float scale,
                             const PositionBias& bias, bool causal);
// Same contract as attention_backward: the gradients are ADDED to dq, dk, dv; a null one is skipped.
bool cudnn_attention_backward(Exec& ex, DType dt, void* dq, void* dk, void* dv, const void* dout, const void* out,
                              const void* lse, const void* q, const void* k, const void* v, int64_t B, int64_t Tq,
                              int64_t Tk, int64_t NH, int64_t HS, float scale, const PositionBias& bias,
                              bool causal);
// Same contracts as layernorm_* / rmsnorm_*: the backward ADDS to dx, dweight, dbias (a null one is skipped).
bool cudnn_layernorm_forward(Exec& ex, DType dt, void* out, void* mean, void* rstd, const void* x, const void* weight,
                             const void* bias, int64_t N, int64_t C, float eps);
bool cudnn_layernorm_backward(Exec& ex, DType dt, void* dx, void* dweight, void* dbias, const void* dout,
                              const void* x, const void* weight, const void* mean, const void* rstd, int64_t N,
                              int64_t C);
bool cudnn_rmsnorm_forward(Exec& ex, DType dt, void* out, void* rstd, const void* x, const void* weight, int64_t N,
                           int64_t C, float eps);
bool cudnn_rmsnorm_backward(Exec& ex, DType dt, void* dx, void* dweight, const void* dout, const void* x,
                            const void* weight, const void* rstd, int64_t N, int64_t C);

// Frees the Exec's cuDNN handle, graphs and scratch (exec_destroy; cudnn_graphs.cpp).
void cudnn_release(Exec& ex);

// out (NH, Tq, Tk) bf16 = bias(h, i + Tk - Tq, j): the additive bias input of cuDNN's attention for a bias
// cuDNN cannot form itself (Sandwich's table, ALiBi slopes other than cuDNN's). Masks stay with cuDNN.
void fill_attention_bias(Exec& ex, void* out, const PositionBias& bias, int64_t NH, int64_t Tq, int64_t Tk);

}  // namespace weft::cuda
