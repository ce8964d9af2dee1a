// Fused cross-entropy loss: sum of per-row losses divided by a normaliser (the number of counted rows,
// or a caller-given global token count for data parallelism). The rows are counted on the host; with
// every row ignored and no normaliser the loss is 0 with a zero gradient.
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

namespace {

// Number of rows whose target is not ignore_index; checks every target while it is on the host. CUDA
// targets go through a staging buffer that only grows, so steps after the first allocate nothing.
int64_t count_targets(const Tensor& Y, int64_t V, int32_t ignore_index) {
  const int64_t N = Y.numel();
  const int32_t* host = Y.ptr<int32_t>();
  if (Y.device != Device::cpu) {
    thread_local std::vector<int32_t> staging;
    if (static_cast<int64_t>(staging.size()) < N) staging.resize(N);
    device_copy(Device::cpu, staging.data(), Y.device, Y.data, N * sizeof(int32_t));
    host = staging.data();
  }
  int64_t counted = 0;
  for (int64_t r = 0; r < N; ++r) {
    const int32_t t = host[r];
    if (t == ignore_index) continue;
    WEFT_CHECK(t >= 0 && t < V, "[cross_entropy] target ", t, " at row ", r, " is outside the vocabulary [0, ", V,
               ")");
    ++counted;
  }
  return counted;
}

}  // namespace

Var cross_entropy(Graph& g, Var logits, Var targets, int32_t ignore_index, float normalizer) {
  const Tensor& L = logits->value;
  const Tensor& Y = targets->value;
  WEFT_CHECK(L.shape.rank == 2 && dtype_is_float(L.dtype), "[cross_entropy] logits must be float (N, V), got ",
             L.str());
  WEFT_CHECK(Y.dtype == DType::i32 && Y.shape == Shape{L.shape[0]}, "[cross_entropy] targets must be i32 (",
             L.shape[0], "), got ", Y.str());
  WEFT_CHECK(Y.device == L.device, "[cross_entropy] targets on ", device_name(Y.device), ", logits on ",
             device_name(L.device));
  const int64_t N = L.shape[0], V = L.shape[1];
  float norm = normalizer;
  if (norm <= 0.0f) norm = static_cast<float>(count_targets(Y, V, ignore_index));
  const float inv_norm = norm > 0.0f ? 1.0f / norm : 0.0f;  // all rows ignored: loss 0, no gradient
  // The loss is f32 even for bf16 logits (f64 for f64): per-row losses, lse and the sum.
  const DType loss_dt = L.dtype == DType::f64 ? DType::f64 : DType::f32;
  Tensor losses = g.alloc(loss_dt, {N});
  Tensor lse = g.alloc(loss_dt, {N});
  Exec& ex = g.exec();
  Var out = g.output(g.alloc(loss_dt, {1}), g.needs_grad({logits}));
  if (!out->requires_grad) {
    WEFT_LAUNCH(ex, xent_forward, ex, L.dtype, losses.data, lse.data, L.data, Y.ptr<int32_t>(), N, V, ignore_index);
  } else {
    // Training: the logits' gradient for dloss = 1 is written now, while each row is read anyway; the
    // backward only applies dloss (nothing to do for the 1 of a plain loss) and hands the tensor over.
    Tensor dlogits = g.alloc(L.dtype, L.shape);
    WEFT_LAUNCH(ex, xent_forward_grad, ex, L.dtype, losses.data, lse.data, dlogits.data, L.data, Y.ptr<int32_t>(),
                N, V, ignore_index, inv_norm);
    g.record(out, [&g, logits, out, dlogits] {
      Exec& ex = g.exec();
      const bool adopted = g.adopt_grad(logits, dlogits);  // false: the logits hold other contributions
      Tensor dst = adopted ? dlogits : g.grad(logits);
      WEFT_LAUNCH(ex, xent_grad_apply, ex, dlogits.dtype, dst.data, dlogits.data, out->grad.data, dlogits.numel(),
                  !adopted);
    });
  }
  WEFT_LAUNCH(ex, reduce_sum, ex, loss_dt, out->value.data, losses.data, 1, N, 1, inv_norm, false);
  return out;
}

Tensor token_losses(Graph& g, Var logits, Var targets, int32_t ignore_index) {
  const Tensor& L = logits->value;
  const Tensor& Y = targets->value;
  WEFT_CHECK(L.shape.rank == 2 && dtype_is_float(L.dtype), "[token_losses] logits must be float (N, V), got ", L.str());
  WEFT_CHECK(Y.dtype == DType::i32 && Y.shape == Shape{L.shape[0]}, "[token_losses] targets must be i32 (",
             L.shape[0], "), got ", Y.str());
  const int64_t N = L.shape[0], V = L.shape[1];
  count_targets(Y, V, ignore_index);  // range check of every target
  const DType loss_dt = L.dtype == DType::f64 ? DType::f64 : DType::f32;
  Tensor losses = g.alloc(loss_dt, {N}), lse = g.alloc(loss_dt, {N});
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, xent_forward, ex, L.dtype, losses.data, lse.data, L.data, Y.ptr<int32_t>(), N, V, ignore_index);
  return losses;
}

}  // namespace weft::ops
