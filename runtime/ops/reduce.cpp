// Reductions: sum and mean over one axis (optionally keeping it as size 1), and sum over everything.
// An axis splits the tensor into an (outer, len, inner) view; the backward broadcasts along len.
#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

namespace {

Var reduce_axis(Graph& g, const char* op, Var x, int axis, bool keepdim, bool mean) {
  const Tensor& X = x->value;
  WEFT_CHECK(dtype_is_float(X.dtype), "[", op, "] needs a floating-point tensor, got ", X.str());
  int ax = axis < 0 ? axis + X.shape.rank : axis;
  WEFT_CHECK(ax >= 0 && ax < X.shape.rank, "[", op, "] axis ", axis, " out of range for ", X.shape.str());
  int64_t outer = 1, inner = 1, len = X.shape.dims[ax];
  for (int d = 0; d < ax; ++d) outer *= X.shape.dims[d];
  for (int d = ax + 1; d < X.shape.rank; ++d) inner *= X.shape.dims[d];
  Shape shape;
  for (int d = 0; d < X.shape.rank; ++d) {
    if (d != ax) shape.dims[shape.rank++] = X.shape.dims[d];
    else if (keepdim) shape.dims[shape.rank++] = 1;
  }
  if (shape.rank == 0) shape = Shape{1};
  float alpha = mean ? 1.0f / static_cast<float>(len) : 1.0f;
  Var out = g.output(g.alloc(X.dtype, shape), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, reduce_sum, ex, X.dtype, out->value.data, X.data, outer, len, inner, alpha, false);
  g.record(out, [&g, x, out, outer, len, inner, alpha] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, broadcast_axis, ex, x->value.dtype, g.grad(x).data, out->grad.data, outer, len, inner, alpha);
  });
  return out;
}

}  // namespace

Var sum(Graph& g, Var x, int axis, bool keepdim) { return reduce_axis(g, "sum", x, axis, keepdim, false); }

Var mean(Graph& g, Var x, int axis, bool keepdim) { return reduce_axis(g, "mean", x, axis, keepdim, true); }

Var sum_all(Graph& g, Var x) { return reduce_axis(g, "sum_all", reshape(g, x, Shape{x->value.numel()}), 0, false, false); }

}  // namespace weft::ops
