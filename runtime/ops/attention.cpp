// Attention op: q (B, Tq, NH, HS), k, v (B, Tk, NH, HS) with Tk >= Tq -> (B, Tq, NH, HS), with a positional
// bias evaluated inside the kernel from (head, i + Tk - Tq, j): query i sits at key position i + Tk - Tq, so
// the first Tk - Tq keys are a memory every query sees (Transformer-XL). Saves only the per-row log-sum-exp
// (B, NH, Tq) for the backward. A window W (bias.window) also hides keys j <= i + Tk - Tq - W.
#include <cmath>

#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

Var attention(Graph& g, Var q, Var k, Var v, const PositionBias& bias, float scale, bool causal) {
  const Tensor& Q = q->value;
  WEFT_CHECK(Q.shape.rank == 4 && dtype_is_float(Q.dtype), "[attention] q must be float (B, T, NH, HS), got ",
             Q.str());
  const Tensor& Kt = k->value;
  // k and v: (B, Tk, NH, HS) with Tk >= Tq; the message keeps check_same_shape's form.
  WEFT_CHECK(Kt.shape.rank == 4 && Kt.shape[0] == Q.shape[0] && Kt.shape[1] >= Q.shape[1] &&
                 Kt.shape[2] == Q.shape[2] && Kt.shape[3] == Q.shape[3],
             "[attention] shape mismatch: ", Q.shape.str(), " vs ", Kt.shape.str(),
             " (k and v must be (B, Tk, NH, HS) with Tk >= Tq)");
  check_same_shape("attention", Kt, v->value);
  check_same_device_dtype("attention", Q, Kt);
  check_same_device_dtype("attention", Q, v->value);
  const int64_t B = Q.shape[0], Tq = Q.shape[1], Tk = Kt.shape[1], NH = Q.shape[2], HS = Q.shape[3];
  if (bias.kind != PositionBias::Kind::none)
    WEFT_CHECK(bias.slopes, "[attention] the positional bias has no per-head slopes");
  WEFT_CHECK(bias.window >= 0, "[attention] the window must be >= 0 (0: none), got ", bias.window);
  WEFT_CHECK(bias.window == 0 || causal, "[attention] a window (", bias.window, ") needs the causal mask");
  if (bias.kind == PositionBias::Kind::table)  // distances |i + Tk - Tq - j| < Tk
    WEFT_CHECK(bias.table && bias.table_len >= Tk, "[attention] the bias table covers ", bias.table_len,
               " distances but the sequence has ", Tk, " positions");
  if (scale <= 0.0f) scale = 1.0f / std::sqrt(static_cast<float>(HS));
  Var out = g.output(g.alloc(Q.dtype, Q.shape), g.needs_grad({q, k, v}));
  Tensor lse = g.alloc(Q.dtype == DType::f64 ? DType::f64 : DType::f32, {B, NH, Tq});
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, attention_forward, ex, Q.dtype, out->value.data, lse.data, Q.data, Kt.data, v->value.data, B,
              Tq, Tk, NH, HS, scale, bias, causal);
  g.record(out, [&g, q, k, v, out, lse, B, Tq, Tk, NH, HS, scale, bias, causal] {
    Exec& ex = g.exec();
    void* dq = q->requires_grad ? g.grad(q).data : nullptr;
    void* dk = k->requires_grad ? g.grad(k).data : nullptr;
    void* dv = v->requires_grad ? g.grad(v).data : nullptr;
    WEFT_LAUNCH(ex, attention_backward, ex, q->value.dtype, dq, dk, dv, out->grad.data, out->value.data, lse.data,
                q->value.data, k->value.data, v->value.data, B, Tq, Tk, NH, HS, scale, bias, causal);
  });
  return out;
}

}  // namespace weft::ops
