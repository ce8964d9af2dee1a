// Fused cross-entropy loss: sum of per-row losses divided by a normaliser (the number of counted rows,
// or a caller-given global token count for data parallelism).
#include <vector>

#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

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
  if (norm <= 0.0f) {  // count the rows that are not ignored
    std::vector<int32_t> host(N);
    device_copy(Device::cpu, host.data(), Y.device, Y.data, N * sizeof(int32_t));
    int64_t counted = 0;
    for (int32_t t : host) counted += t != ignore_index;
    norm = static_cast<float>(counted);
  }
  const float inv_norm = norm > 0.0f ? 1.0f / norm : 0.0f;  // all rows ignored: loss 0, no gradient
  Tensor losses = g.alloc(L.dtype, {N});
  Tensor lse = g.alloc(L.dtype == DType::f64 ? DType::f64 : DType::f32, {N});
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, xent_forward, ex, L.dtype, losses.data, lse.data, L.data, Y.ptr<int32_t>(), N, V, ignore_index);
  Var out = g.output(g.alloc(L.dtype, {1}), g.needs_grad({logits}));
  WEFT_LAUNCH(ex, reduce_sum, ex, L.dtype, out->value.data, losses.data, 1, N, 1, inv_norm, false);
  g.record(out, [&g, logits, targets, out, lse, N, V, ignore_index, inv_norm] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, xent_backward, ex, logits->value.dtype, g.grad(logits).data, out->grad.data, logits->value.data,
                lse.data, targets->value.ptr<int32_t>(), N, V, ignore_index, inv_norm);
  });
  return out;
}

}  // namespace weft::ops
