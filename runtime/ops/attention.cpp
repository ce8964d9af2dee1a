// Attention op: q, k, v (B, T, NH, HS) -> (B, T, NH, HS), with a positional bias evaluated inside the
// kernel from (head, i, j). Saves only the per-row log-sum-exp (B, NH, T) for the backward.
#include <cmath>

#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

Var attention(Graph& g, Var q, Var k, Var v, const PositionBias& bias, float scale, bool causal) {
  const Tensor& Q = q->value;
  WEFT_CHECK(Q.shape.rank == 4 && dtype_is_float(Q.dtype), "[attention] q must be float (B, T, NH, HS), got ",
             Q.str());
  check_same_shape("attention", Q, k->value);
  check_same_shape("attention", Q, v->value);
  check_same_device_dtype("attention", Q, k->value);
  check_same_device_dtype("attention", Q, v->value);
  const int64_t B = Q.shape[0], T = Q.shape[1], NH = Q.shape[2], HS = Q.shape[3];
  if (bias.kind != PositionBias::Kind::none)
    WEFT_CHECK(bias.slopes, "[attention] the positional bias has no per-head slopes");
  if (bias.kind == PositionBias::Kind::table)
    WEFT_CHECK(bias.table && bias.table_len >= T, "[attention] the bias table covers ", bias.table_len,
               " distances but the sequence has ", T, " positions");
  if (scale <= 0.0f) scale = 1.0f / std::sqrt(static_cast<float>(HS));
  Var out = g.output(g.alloc(Q.dtype, Q.shape), g.needs_grad({q, k, v}));
  Tensor lse = g.alloc(Q.dtype == DType::f64 ? DType::f64 : DType::f32, {B, NH, T});
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, attention_forward, ex, Q.dtype, out->value.data, lse.data, Q.data, k->value.data, v->value.data, B,
              T, NH, HS, scale, bias, causal);
  g.record(out, [&g, q, k, v, out, lse, B, T, NH, HS, scale, bias, causal] {
    Exec& ex = g.exec();
    void* dq = q->requires_grad ? g.grad(q).data : nullptr;
    void* dk = k->requires_grad ? g.grad(k).data : nullptr;
    void* dv = v->requires_grad ? g.grad(v).data : nullptr;
    WEFT_LAUNCH(ex, attention_backward, ex, q->value.dtype, dq, dk, dv, out->grad.data, out->value.data, lse.data,
                q->value.data, k->value.data, v->value.data, B, T, NH, HS, scale, bias, causal);
  });
  return out;
}

}  // namespace weft::ops
