// Normalisation ops over the last dim: layernorm, rmsnorm, softmax, logsumexp. Statistics (mean, rstd) are saved
// for the backward in f32 (f64 for f64 inputs); softmax saves nothing but its output.
#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

namespace {
DType stat_dtype(DType dt) { return dt == DType::f64 ? DType::f64 : DType::f32; }

void check_param(const char* op, const Tensor& x, Var p, const char* what) {
  if (!p) return;
  WEFT_CHECK(p->value.shape == Shape{x.shape.last()}, "[", op, "] ", what, " must be (", x.shape.last(), "), got ",
             p->value.shape.str());
  check_same_device_dtype(op, x, p->value);
}
}  // namespace

Var layernorm(Graph& g, Var x, Var weight, Var bias, float eps) {
  const Tensor& X = x->value;
  WEFT_CHECK(dtype_is_float(X.dtype) && X.shape.rank >= 1, "[layernorm] needs a float tensor, got ", X.str());
  check_param("layernorm", X, weight, "weight");
  check_param("layernorm", X, bias, "bias");
  int64_t N = X.shape.rows(), C = X.shape.last();
  Var out = g.output(g.alloc(X.dtype, X.shape), g.needs_grad({x, weight, bias}));
  Tensor mean = g.alloc(stat_dtype(X.dtype), {N}), rstd = g.alloc(stat_dtype(X.dtype), {N});
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, layernorm_forward, ex, X.dtype, out->value.data, mean.data, rstd.data, X.data,
              weight ? weight->value.data : nullptr, bias ? bias->value.data : nullptr, N, C, eps);
  g.record(out, [&g, x, weight, bias, out, mean, rstd, N, C] {
    Exec& ex = g.exec();
    void* dx = x->requires_grad ? g.grad(x).data : nullptr;
    void* dw = weight && weight->requires_grad ? g.grad(weight).data : nullptr;
    void* db = bias && bias->requires_grad ? g.grad(bias).data : nullptr;
    WEFT_LAUNCH(ex, layernorm_backward, ex, x->value.dtype, dx, dw, db, out->grad.data, x->value.data,
                weight ? weight->value.data : nullptr, mean.data, rstd.data, N, C);
  });
  return out;
}

Var rmsnorm(Graph& g, Var x, Var weight, float eps) {
  const Tensor& X = x->value;
  WEFT_CHECK(dtype_is_float(X.dtype) && X.shape.rank >= 1, "[rmsnorm] needs a float tensor, got ", X.str());
  check_param("rmsnorm", X, weight, "weight");
  int64_t N = X.shape.rows(), C = X.shape.last();
  Var out = g.output(g.alloc(X.dtype, X.shape), g.needs_grad({x, weight}));
  Tensor rstd = g.alloc(stat_dtype(X.dtype), {N});
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, rmsnorm_forward, ex, X.dtype, out->value.data, rstd.data, X.data,
              weight ? weight->value.data : nullptr, N, C, eps);
  g.record(out, [&g, x, weight, out, rstd, N, C] {
    Exec& ex = g.exec();
    void* dx = x->requires_grad ? g.grad(x).data : nullptr;
    void* dw = weight && weight->requires_grad ? g.grad(weight).data : nullptr;
    WEFT_LAUNCH(ex, rmsnorm_backward, ex, x->value.dtype, dx, dw, out->grad.data, x->value.data,
                weight ? weight->value.data : nullptr, rstd.data, N, C);
  });
  return out;
}

Var softmax(Graph& g, Var x) {
  const Tensor& X = x->value;
  WEFT_CHECK(dtype_is_float(X.dtype) && X.shape.rank >= 1 && X.shape.last() >= 1,
             "[softmax] needs a non-empty float tensor, got ", X.str());
  int64_t N = X.shape.rows(), C = X.shape.last();
  Var out = g.output(g.alloc(X.dtype, X.shape), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, softmax_forward, ex, X.dtype, out->value.data, X.data, N, C);
  g.record(out, [&g, x, out, N, C] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, softmax_backward, ex, x->value.dtype, g.grad(x).data, out->grad.data, out->value.data, N, C);
  });
  return out;
}

Var logsumexp(Graph& g, Var x) {
  const Tensor& X = x->value;
  WEFT_CHECK((X.dtype == DType::f32 || X.dtype == DType::f64) && X.shape.rank >= 1 && X.shape.last() >= 1,
             "[logsumexp] needs a non-empty f32 or f64 tensor (cast bf16 first: a log-sum-exp rounded to bf16 "
             "spoils exp(x - lse)), got ", X.str());
  const int64_t N = X.shape.rows(), C = X.shape.last();
  Shape s = X.shape;
  s[s.rank - 1] = 1;
  Var out = g.output(g.alloc(X.dtype, s), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, logsumexp_forward, ex, X.dtype, out->value.data, X.data, N, C);
  g.record(out, [&g, x, out, N, C] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, logsumexp_backward, ex, x->value.dtype, g.grad(x).data, out->grad.data, x->value.data,
                out->value.data, N, C);
  });
  return out;
}

}  // namespace weft::ops
