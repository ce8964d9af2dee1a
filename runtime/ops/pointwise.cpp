// Pointwise ops: unary activations, broadcasting binary ops, scale, SwiGLU, dropout, cast.
#include <algorithm>

#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

namespace {

void check_float(const char* op, const Tensor& t) {
  WEFT_CHECK(dtype_is_float(t.dtype), "[", op, "] needs a floating-point tensor, got ", t.str());
}

// Numpy broadcasting of a and b; returns the output shape and fills bc (rank 0 when shapes are equal).
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b, Broadcast& bc) {
  if (a == b) {
    bc.rank = 0;
    return a;
  }
  int rank = std::max(a.rank, b.rank);
  Shape out;
  out.rank = rank;
  bc.rank = rank;
  int64_t sa = 1, sb = 1;
  for (int d = rank - 1; d >= 0; --d) {
    int ia = d - (rank - a.rank), ib = d - (rank - b.rank);
    int64_t da = ia >= 0 ? a.dims[ia] : 1, db = ib >= 0 ? b.dims[ib] : 1;
    WEFT_CHECK(da == db || da == 1 || db == 1, "[", op, "] shapes ", a.str(), " and ", b.str(),
               " do not broadcast");
    out.dims[d] = std::max(da, db);
    bc.out[d] = out.dims[d];
    bc.a_stride[d] = da == 1 ? 0 : sa;
    bc.b_stride[d] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
  }
  return out;
}

}  // namespace

Var unary(Graph& g, UnaryOp op, Var x) {
  check_float(unary_name(op), x->value);
  const Tensor& X = x->value;
  Var out = g.output(g.alloc(X.dtype, X.shape), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, unary_forward, ex, X.dtype, op, out->value.data, X.data, X.numel());
  g.record(out, [&g, op, x, out] {
    Exec& ex = g.exec();
    float beta = 1.0f;  // x's first gradient is written, not zero-filled and accumulated
    void* dx = g.grad_to_write(x, beta).data;
    WEFT_LAUNCH(ex, unary_backward, ex, x->value.dtype, op, dx, out->grad.data, x->value.data, out->value.data,
                x->value.numel(), beta != 0.0f);
  });
  return out;
}

Var binary(Graph& g, BinaryOp op, Var a, Var b) {
  const char* name = op == BinaryOp::add ? "add" : op == BinaryOp::sub ? "sub" : "mul";
  check_same_device_dtype(name, a->value, b->value);
  check_float(name, a->value);
  Broadcast bc;
  Shape shape = broadcast_shapes(name, a->value.shape, b->value.shape, bc);
  Var out = g.output(g.alloc(a->value.dtype, shape), g.needs_grad({a, b}));
  Exec& ex = g.exec();
  int64_t n = shape.numel();
  WEFT_LAUNCH(ex, binary_forward, ex, a->value.dtype, op, out->value.data, a->value.data, b->value.data, bc, n);
  g.record(out, [&g, op, a, b, out, bc, n] {
    Exec& ex = g.exec();
    void* da = a->requires_grad ? g.grad(a).data : nullptr;
    void* db = b->requires_grad ? g.grad(b).data : nullptr;
    WEFT_LAUNCH(ex, binary_backward, ex, out->value.dtype, op, da, db, out->grad.data, a->value.data,
                b->value.data, bc, n, a->value.numel(), b->value.numel());
  });
  return out;
}

Var scale(Graph& g, Var x, float alpha) {
  check_float("scale", x->value);
  const Tensor& X = x->value;
  Var out = g.output(g.alloc(X.dtype, X.shape), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, axpby, ex, X.dtype, out->value.data, alpha, X.data, 0.0f, X.numel());
  g.record(out, [&g, x, out, alpha] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, axpby, ex, x->value.dtype, g.grad(x).data, alpha, out->grad.data, 1.0f, x->value.numel());
  });
  return out;
}

Var swiglu(Graph& g, Var x) {
  const Tensor& X = x->value;
  check_float("swiglu", X);
  WEFT_CHECK(X.shape.rank >= 1 && X.shape.last() % 2 == 0, "[swiglu] last dim must be even, got ", X.shape.str());
  int64_t F = X.shape.last() / 2, N = X.shape.rows();
  Var out = g.output(g.alloc(X.dtype, X.shape.with_last(F)), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, swiglu_forward, ex, X.dtype, out->value.data, X.data, N, F);
  g.record(out, [&g, x, out, N, F] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, swiglu_backward, ex, x->value.dtype, g.grad(x).data, out->grad.data, x->value.data, N, F);
  });
  return out;
}

Var dropout(Graph& g, Var x, float p, Rng& rng, bool training) {
  WEFT_CHECK(p >= 0.0f && p < 1.0f, "[dropout] probability must be in [0, 1), got ", p);
  if (!training || p == 0.0f) return x;
  const Tensor& X = x->value;
  check_float("dropout", X);
  int64_t n = X.numel();
  PhiloxKey key = rng.key();
  uint32_t stream = rng.stream();
  uint64_t offset = rng.take(n);
  Var out = g.output(g.alloc(X.dtype, X.shape), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, dropout_forward, ex, X.dtype, out->value.data, X.data, n, p, key, stream, offset);
  g.record(out, [&g, x, out, n, p, key, stream, offset] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, dropout_backward, ex, x->value.dtype, g.grad(x).data, out->grad.data, n, p, key, stream,
                offset);
  });
  return out;
}

Var cast(Graph& g, Var x, DType dt) {
  const Tensor& X = x->value;
  check_float("cast", X);
  WEFT_CHECK(dtype_is_float(dt), "[cast] target dtype must be floating point, got ", dtype_name(dt));
  if (X.dtype == dt) return x;
  Var out = g.output(g.alloc(dt, X.shape), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, cast, ex, dt, out->value.data, X.dtype, X.data, X.numel(), false);
  g.record(out, [&g, x, out] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, cast, ex, x->value.dtype, g.grad(x).data, out->value.dtype, out->grad.data, x->value.numel(),
                true);
  });
  return out;
}

}  // namespace weft::ops
