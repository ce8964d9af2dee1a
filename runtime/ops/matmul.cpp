// matmul, linear and linear_gelu: front-ends over the gemm / bias / linear kernels.
// Backward of C = op(A) op(B): dA and dB are two more GEMMs that accumulate (beta = 1) into the
// gradients; a 2-D B shared by a batch of A is handled as one tall GEMM, never a loop over batches.
#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

namespace {

struct MatmulDims {
  int64_t batch, M, N, K;
  bool b_shared;  // b is 2-D and reused by every batch of a
};

MatmulDims matmul_dims(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  WEFT_CHECK(a.shape.rank >= 2 && b.shape.rank >= 2, "[matmul] operands need rank >= 2, got ", a.shape.str(),
             " and ", b.shape.str());
  check_same_device_dtype("matmul", a, b);
  MatmulDims d;
  d.M = ta ? a.shape[-1] : a.shape[-2];
  int64_t ka = ta ? a.shape[-2] : a.shape[-1];
  int64_t kb = tb ? b.shape[-1] : b.shape[-2];
  d.N = tb ? b.shape[-2] : b.shape[-1];
  WEFT_CHECK(ka == kb, "[matmul] inner dims differ: ", a.shape.str(), (ta ? "^T" : ""), " @ ", b.shape.str(),
             (tb ? "^T" : ""));
  d.K = ka;
  d.batch = a.numel() / (a.shape[-1] * a.shape[-2]);
  d.b_shared = b.shape.rank == 2;
  if (!d.b_shared) {
    WEFT_CHECK(b.shape.rank == a.shape.rank && b.numel() / (b.shape[-1] * b.shape[-2]) == d.batch,
               "[matmul] batch dims differ: ", a.shape.str(), " vs ", b.shape.str());
    for (int i = 0; i < a.shape.rank - 2; ++i)
      WEFT_CHECK(a.shape[i] == b.shape[i], "[matmul] batch dims differ: ", a.shape.str(), " vs ", b.shape.str());
  }
  return d;
}

// C (batch, M, N) (+)= op(A) op(B) with A, B as stored (their leading dimension is their last dim).
void gemm_batched(Exec& ex, DType dt, bool ta, bool tb, const MatmulDims& d, const void* A, const void* B,
                  void* C, float beta, bool b_shared) {
  int64_t lda = ta ? d.M : d.K, ldb = tb ? d.K : d.N;
  if (b_shared && !ta) {  // rows of every batch are independent: one (batch*M, K) @ (K, N) GEMM
    WEFT_LAUNCH(ex, gemm, ex, dt, false, tb, d.batch * d.M, d.N, d.K, 1.0f, A, lda, 0, B, ldb, 0, beta, C, d.N, 0,
                1);
    return;
  }
  WEFT_LAUNCH(ex, gemm, ex, dt, ta, tb, d.M, d.N, d.K, 1.0f, A, lda, d.M * d.K, B, ldb, b_shared ? 0 : d.K * d.N,
              beta, C, d.N, d.M * d.N, d.batch);
}

// Shapes of a linear layer x (..., C) @ w (OC, C)^T + bias (OC), checked as `op`.
struct LinearDims {
  int64_t N, C, OC;
};

LinearDims linear_dims(const char* op, Var x, Var w, Var bias) {
  const Tensor& X = x->value;
  const Tensor& W = w->value;
  WEFT_CHECK(W.shape.rank == 2, "[", op, "] weight must be (OC, C), got ", W.shape.str());
  WEFT_CHECK(X.shape.last() == W.shape[1], "[", op, "] input ", X.shape.str(), " does not match weight ",
             W.shape.str());
  check_same_device_dtype(op, X, W);
  LinearDims d{X.shape.rows(), W.shape[1], W.shape[0]};
  if (bias) {
    WEFT_CHECK(bias->value.shape == Shape{d.OC}, "[", op, "] bias must be (", d.OC, "), got ",
               bias->value.shape.str());
    check_same_device_dtype(op, X, bias->value);
  }
  return d;
}

// The backward of a linear layer given d(pre-activation) dout (N, OC): dx, dw and dbias accumulate (dx is
// written with beta 0 when it is x's first gradient: no zero-fill pass over (N, C)).
void linear_backward(Graph& g, Var x, Var w, Var bias, const void* dout, const LinearDims& d) {
  Exec& ex = g.exec();
  DType dt = x->value.dtype;
  if (x->requires_grad) {  // dx (N, C) = beta dx + dout (N, OC) @ w (OC, C)
    float beta = 1.0f;
    void* dx = g.grad_to_write(x, beta).data;
    WEFT_LAUNCH(ex, gemm, ex, dt, false, false, d.N, d.C, d.OC, 1.0f, dout, d.OC, 0, w->value.data, d.C, 0, beta,
                dx, d.C, 0, 1);
  }
  if (w->requires_grad)  // dw (OC, C) += dout^T (OC, N) @ x (N, C)
    WEFT_LAUNCH(ex, gemm, ex, dt, true, false, d.OC, d.C, d.N, 1.0f, dout, d.OC, 0, x->value.data, d.C, 0, 1.0f,
                g.grad(w).data, d.C, 0, 1);
  if (bias && bias->requires_grad) WEFT_LAUNCH(ex, bias_backward, ex, dt, g.grad(bias).data, dout, d.N, d.OC);
}

}  // namespace

Var matmul(Graph& g, Var a, Var b, bool ta, bool tb) {
  const Tensor& A = a->value;
  const Tensor& B = b->value;
  MatmulDims d = matmul_dims(A, B, ta, tb);
  Shape out_shape = A.shape;
  out_shape[-2] = d.M;
  out_shape[-1] = d.N;
  Var out = g.output(g.alloc(A.dtype, out_shape), g.needs_grad({a, b}));
  Exec& ex = g.exec();
  gemm_batched(ex, A.dtype, ta, tb, d, A.data, B.data, out->value.data, 0.0f, d.b_shared);

  g.record(out, [&g, a, b, out, ta, tb, d] {
    Exec& ex = g.exec();
    DType dt = out->value.dtype;
    const void* dC = out->grad.data;
    const void* Ad = a->value.data;
    const void* Bd = b->value.data;
    if (a->requires_grad) {
      // dA = dC op(B)^T, stored as A is: if ta, dA^T = op(B) dC^T  i.e. dA = op(B) dC^T transposed.
      void* dA = g.grad(a).data;
      if (!ta) {
        MatmulDims e{d.batch, d.M, d.K, d.N, d.b_shared};  // (M, N) @ op(B)^T (N, K)
        gemm_batched(ex, dt, false, !tb, e, dC, Bd, dA, 1.0f, d.b_shared);
      } else {
        MatmulDims e{d.batch, d.K, d.M, d.N, d.b_shared};  // dA (K, M) = op(B) (K, N) @ dC^T (N, M)
        int64_t ldb = tb ? d.K : d.N;
        WEFT_LAUNCH(ex, gemm, ex, dt, tb, true, e.M, e.N, e.K, 1.0f, Bd, ldb, d.b_shared ? 0 : d.K * d.N, dC, d.N,
                    d.M * d.N, 1.0f, dA, d.M, d.M * d.K, d.batch);
      }
    }
    if (b->requires_grad) {
      void* dB = g.grad(b).data;
      int64_t lda = ta ? d.M : d.K;
      if (!tb) {  // dB (K, N) = op(A)^T (K, M) @ dC (M, N)
        if (d.b_shared && !ta)
          WEFT_LAUNCH(ex, gemm, ex, dt, true, false, d.K, d.N, d.batch * d.M, 1.0f, Ad, lda, 0, dC, d.N, 0, 1.0f,
                      dB, d.N, 0, 1);
        else if (d.b_shared)  // a transposed: one accumulating GEMM per batch into the shared dB
          for (int64_t i = 0; i < d.batch; ++i)
            WEFT_LAUNCH(ex, gemm, ex, dt, !ta, false, d.K, d.N, d.M, 1.0f,
                        static_cast<const char*>(Ad) + i * d.M * d.K * dtype_size(dt), lda, 0,
                        static_cast<const char*>(dC) + i * d.M * d.N * dtype_size(dt), d.N, 0, 1.0f, dB, d.N, 0, 1);
        else
          WEFT_LAUNCH(ex, gemm, ex, dt, !ta, false, d.K, d.N, d.M, 1.0f, Ad, lda, d.M * d.K, dC, d.N, d.M * d.N,
                      1.0f, dB, d.N, d.K * d.N, d.batch);
      } else {  // B stored (N, K): dB (N, K) = dC^T (N, M) @ op(A) (M, K)
        if (d.b_shared && !ta)
          WEFT_LAUNCH(ex, gemm, ex, dt, true, false, d.N, d.K, d.batch * d.M, 1.0f, dC, d.N, 0, Ad, lda, 0, 1.0f,
                      dB, d.K, 0, 1);
        else if (d.b_shared)
          for (int64_t i = 0; i < d.batch; ++i)
            WEFT_LAUNCH(ex, gemm, ex, dt, true, ta, d.N, d.K, d.M, 1.0f,
                        static_cast<const char*>(dC) + i * d.M * d.N * dtype_size(dt), d.N, 0,
                        static_cast<const char*>(Ad) + i * d.M * d.K * dtype_size(dt), lda, 0, 1.0f, dB, d.K, 0, 1);
        else
          WEFT_LAUNCH(ex, gemm, ex, dt, true, ta, d.N, d.K, d.M, 1.0f, dC, d.N, d.M * d.N, Ad, lda, d.M * d.K,
                      1.0f, dB, d.K, d.N * d.K, d.batch);
      }
    }
  });
  return out;
}

Var linear(Graph& g, Var x, Var w, Var bias) {
  const LinearDims d = linear_dims("linear", x, w, bias);
  const Tensor& X = x->value;
  Var out = g.output(g.alloc(X.dtype, X.shape.with_last(d.OC)), g.needs_grad({x, w, bias}));
  Exec& ex = g.exec();
  // out (N, OC) = x (N, C) @ w^T + bias
  WEFT_LAUNCH(ex, linear_forward, ex, X.dtype, out->value.data, X.data, w->value.data,
              bias ? bias->value.data : nullptr, d.N, d.C, d.OC);
  g.record(out, [&g, x, w, bias, out, d] { linear_backward(g, x, w, bias, out->grad.data, d); });
  return out;
}

Var linear_gelu(Graph& g, Var x, Var w, Var bias) {
  const LinearDims d = linear_dims("linear_gelu", x, w, bias);
  const Tensor& X = x->value;
  const Shape shape = X.shape.with_last(d.OC);
  const bool needs_grad = g.needs_grad({x, w, bias});
  // pre (N, OC) = x @ w^T + bias, kept (in the step's arena) for the backward; out = gelu_tanh(pre)
  Tensor pre = g.alloc(X.dtype, shape);
  Var out = g.output(g.alloc(X.dtype, shape), needs_grad);
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, linear_gelu_forward, ex, X.dtype, out->value.data, pre.data, X.data, w->value.data,
              bias ? bias->value.data : nullptr, d.N, d.C, d.OC);
  g.record(out, [&g, x, w, bias, out, pre, d] {
    Exec& ex = g.exec();
    // dpre (N, OC) = dout * gelu_tanh'(pre), the kernel ops::gelu_tanh's backward runs (written: no zero-fill)
    Tensor dpre = g.alloc(pre.dtype, pre.shape);
    WEFT_LAUNCH(ex, unary_backward, ex, pre.dtype, UnaryOp::gelu_tanh, dpre.data, out->grad.data, pre.data,
                out->value.data, pre.numel(), false);
    linear_backward(g, x, w, bias, dpre.data, d);
  });
  return out;
}

}  // namespace weft::ops
