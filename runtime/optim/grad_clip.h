// Global-norm gradient clipping. The norm is the L2 norm of every gradient of the store (alignment
// padding is zero); clipping is applied as AdamW's grad_scale, so gradients are never rewritten.
#pragma once

#include "runtime/exec.h"
#include "runtime/param_store.h"

namespace weft::optim {

double global_grad_norm(Exec& ex, const ParamStore& store);
// The factor that brings `norm` down to max_norm (1 when it is already below, or max_norm <= 0).
float clip_scale(double norm, double max_norm);

}  // namespace weft::optim
