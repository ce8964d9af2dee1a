// Causal token mixing (ops::causal_mix): one shared L x L lower-triangular matrix applied to every
// sequence of the batch, plus a per-position bias. Composed of backend kernels:
//   forward  M = tril(W_T)            tril_copy (the upper triangle of W is never read)
//            y_b = M x_b              gemm, strided-batched with the matrix shared (stride 0)
//            y += bias[i] (over b, c)  broadcast_axis twice: (T) -> (T, C) -> (B, T, C)
//   dx_b    += M^T dy_b               gemm, transposed shared matrix, accumulating
//   dW      += tril(sum_b dy_b x_b^T) gemm per sequence into a (T, T) scratch, then tril_copy (accumulate)
//   dbias   += sum_{b, c} dy[b, :, c] reduce_sum over b, then over c
// W_T is the top-left T x T block of W (leading dimension L), valid for T < L by causality.
#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

Var causal_mix(Graph& g, Var x, Var w, Var bias) {
  const Tensor& X = x->value;
  const Tensor& W = w->value;
  WEFT_CHECK(X.shape.rank == 3 && dtype_is_float(X.dtype), "[causal_mix] x must be float (B, T, C), got ", X.str());
  WEFT_CHECK(W.shape.rank == 2 && W.shape[0] == W.shape[1] && W.dtype == X.dtype,
             "[causal_mix] w must be square (L, L) of x's dtype, got ", W.str(), " for x ", X.str());
  const int64_t B = X.shape[0], T = X.shape[1], C = X.shape[2], L = W.shape[0];
  WEFT_CHECK(T <= L, "[causal_mix] sequence length ", T, " exceeds the mixing matrix's ", L, " positions");
  if (bias)
    WEFT_CHECK(bias->value.shape == Shape{L} && bias->value.dtype == X.dtype, "[causal_mix] bias must be (", L,
               ") of x's dtype, got ", bias->value.str());
  const DType dt = X.dtype;
  Exec& ex = g.exec();
  Var out = g.output(g.alloc(dt, X.shape), g.needs_grad({x, w, bias}));
  Tensor M = g.alloc(dt, {T, T});  // tril of the top-left block: the only part of W the op reads
  WEFT_LAUNCH(ex, tril_copy, ex, dt, M.data, T, W.data, L, T, false);
  WEFT_LAUNCH(ex, gemm, ex, dt, false, false, T, C, T, 1.0f, M.data, T, 0, X.data, C, T * C, 0.0f, out->value.data, C,
              T * C, B);
  if (bias) {
    Tensor rows = g.zeros(dt, {T, C});  // bias[i] on every channel of row i
    WEFT_LAUNCH(ex, broadcast_axis, ex, dt, rows.data, bias->value.data, T, C, 1, 1.0f);
    WEFT_LAUNCH(ex, broadcast_axis, ex, dt, out->value.data, rows.data, 1, B, T * C, 1.0f);
  }
  g.record(out, [&g, x, w, bias, out, M, B, T, C, L] {
    Exec& ex = g.exec();
    const DType dt = x->value.dtype;
    const Tensor& dy = out->grad;
    if (x->requires_grad)
      WEFT_LAUNCH(ex, gemm, ex, dt, true, false, T, C, T, 1.0f, M.data, T, 0, dy.data, C, T * C, 1.0f,
                  g.grad(x).data, C, T * C, B);
    if (w->requires_grad) {
      Tensor sum = g.zeros(dt, {T, T});  // sum_b dy_b x_b^T, then its lower triangle into dW
      const size_t es = dtype_size(dt);
      for (int64_t b = 0; b < B; ++b)
        WEFT_LAUNCH(ex, gemm, ex, dt, false, true, T, T, C, 1.0f, static_cast<const char*>(dy.data) + b * T * C * es, C,
                    0, static_cast<const char*>(x->value.data) + b * T * C * es, C, 0, 1.0f, sum.data, T, 0, 1);
      WEFT_LAUNCH(ex, tril_copy, ex, dt, g.grad(w).data, L, sum.data, T, T, true);
    }
    if (bias && bias->requires_grad) {
      Tensor over_batch = g.alloc(dt, {T, C});
      WEFT_LAUNCH(ex, reduce_sum, ex, dt, over_batch.data, dy.data, 1, B, T * C, 1.0f, false);
      WEFT_LAUNCH(ex, reduce_sum, ex, dt, g.grad(bias).data, over_batch.data, T, C, 1, 1.0f, true);
    }
  });
  return out;
}

}  // namespace weft::ops
