// Token mixing with one shared matrix applied to every sequence of the batch, plus a per-position bias:
// ops::causal_mix (the masked mixer: lower-triangular L x L, top-left T x T block) and ops::dense_mix (the
// retrieval model's bidirectional mixer over N slots: the full matrix). One implementation, composed of
// backend kernels:
//   forward  M = tril(W_T)             tril_copy (causal: the upper triangle of W is never read); dense: M = W
//            y_b = M x_b               gemm, strided-batched with the matrix shared (stride 0)
//            y += bias[i] (over b, c)  broadcast_axis twice: (T) -> (T, C) -> (B, T, C)
//   dx_b    += M^T dy_b                gemm, transposed shared matrix, accumulating
//   dW      += tril(sum_b dy_b x_b^T)  causal: gemm per sequence into a (T, T) scratch, then tril_copy
//                                      (accumulate); dense: gemm per sequence straight into dW
//   dbias   += sum_{b, c} dy[b, :, c]  reduce_sum over b, then over c
// Causal: W_T is the top-left T x T block of W (leading dimension L), valid for T < L by causality.
#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

namespace {

Var token_mix(Graph& g, Var x, Var w, Var bias, bool causal) {
  const char* op = causal ? "[causal_mix]" : "[dense_mix]";
  const Tensor& X = x->value;
  const Tensor& W = w->value;
  WEFT_CHECK(X.shape.rank == 3 && dtype_is_float(X.dtype), op, " x must be float (B, T, C), got ", X.str());
  WEFT_CHECK(W.shape.rank == 2 && W.shape[0] == W.shape[1] && W.dtype == X.dtype, op,
             " w must be square (L, L) of x's dtype, got ", W.str(), " for x ", X.str());
  const int64_t B = X.shape[0], T = X.shape[1], C = X.shape[2], L = W.shape[0];
  if (causal) WEFT_CHECK(T <= L, op, " sequence length ", T, " exceeds the mixing matrix's ", L, " positions");
  else WEFT_CHECK(T == L, op, " x has ", T, " slots but the mixing matrix mixes ", L, " (they must be equal)");
  if (bias)
    WEFT_CHECK(bias->value.shape == Shape{L} && bias->value.dtype == X.dtype, op, " bias must be (", L,
               ") of x's dtype, got ", bias->value.str());
  const DType dt = X.dtype;
  Exec& ex = g.exec();
  Var out = g.output(g.alloc(dt, X.shape), g.needs_grad({x, w, bias}));
  Tensor M = W;  // dense: the whole matrix (T == L)
  if (causal) {  // tril of the top-left block: the only part of W the op reads
    M = g.alloc(dt, {T, T});
    WEFT_LAUNCH(ex, tril_copy, ex, dt, M.data, T, W.data, L, T, false);
  }
  WEFT_LAUNCH(ex, gemm, ex, dt, false, false, T, C, T, 1.0f, M.data, T, 0, X.data, C, T * C, 0.0f, out->value.data, C,
              T * C, B);
  if (bias) {
    Tensor rows = g.zeros(dt, {T, C});  // bias[i] on every channel of row i
    WEFT_LAUNCH(ex, broadcast_axis, ex, dt, rows.data, bias->value.data, T, C, 1, 1.0f);
    WEFT_LAUNCH(ex, broadcast_axis, ex, dt, out->value.data, rows.data, 1, B, T * C, 1.0f);
  }
  g.record(out, [&g, x, w, bias, out, M, B, T, C, L, causal] {
    Exec& ex = g.exec();
    const DType dt = x->value.dtype;
    const Tensor& dy = out->grad;
    if (x->requires_grad)
      WEFT_LAUNCH(ex, gemm, ex, dt, true, false, T, C, T, 1.0f, M.data, T, 0, dy.data, C, T * C, 1.0f,
                  g.grad(x).data, C, T * C, B);
    if (w->requires_grad) {
      // causal: sum_b dy_b x_b^T into a scratch, then its lower triangle into dW; dense: straight into dW
      Tensor sum = causal ? g.zeros(dt, {T, T}) : g.grad(w);
      const size_t es = dtype_size(dt);
      for (int64_t b = 0; b < B; ++b)
        WEFT_LAUNCH(ex, gemm, ex, dt, false, true, T, T, C, 1.0f, static_cast<const char*>(dy.data) + b * T * C * es, C,
                    0, static_cast<const char*>(x->value.data) + b * T * C * es, C, 0, 1.0f, sum.data, T, 0, 1);
      if (causal) WEFT_LAUNCH(ex, tril_copy, ex, dt, g.grad(w).data, L, sum.data, T, T, true);
    }
    if (bias && bias->requires_grad) {
      Tensor over_batch = g.alloc(dt, {T, C});
      WEFT_LAUNCH(ex, reduce_sum, ex, dt, over_batch.data, dy.data, 1, B, T * C, 1.0f, false);
      WEFT_LAUNCH(ex, reduce_sum, ex, dt, g.grad(bias).data, over_batch.data, T, C, 1, 1.0f, true);
    }
  });
  return out;
}

}  // namespace

Var causal_mix(Graph& g, Var x, Var w, Var bias) { return token_mix(g, x, w, bias, true); }

Var dense_mix(Graph& g, Var x, Var w, Var bias) { return token_mix(g, x, w, bias, false); }

}  // namespace weft::ops
