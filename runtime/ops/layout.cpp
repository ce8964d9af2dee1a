// Layout ops: reshape (a view), concat / split along any axis, and the (0,2,1,3) transpose that moves
// heads next to batch. concat and split are strided 2-D block copies: an axis splits the tensor into
// `outer` rows of contiguous `dims[axis] * inner` elements.
#include <numeric>

#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

namespace {

int normalize_axis(const char* op, int axis, int rank) {
  int a = axis < 0 ? axis + rank : axis;
  WEFT_CHECK(a >= 0 && a < rank, "[", op, "] axis ", axis, " out of range for rank ", rank);
  return a;
}

int64_t prod(const Shape& s, int begin, int end) {
  int64_t p = 1;
  for (int i = begin; i < end; ++i) p *= s.dims[i];
  return p;
}

}  // namespace

Var reshape(Graph& g, Var x, Shape shape) {
  Tensor v = x->value.reshape(shape);  // checks the element count
  Var out = g.output(v, g.needs_grad({x}));
  // The view shares x's gradient: whatever accumulates into out's gradient lands in x's. It is resolved when
  // first used (Graph::grad), so a backward that writes out's gradient whole need not zero-fill x's first.
  if (out->requires_grad) out->view_of = x;
  return out;
}

Var concat(Graph& g, const std::vector<Var>& xs, int axis) {
  WEFT_CHECK(!xs.empty(), "[concat] no inputs");
  const Tensor& first = xs[0]->value;
  int ax = normalize_axis("concat", axis, first.shape.rank);
  Shape out_shape = first.shape;
  out_shape.dims[ax] = 0;
  bool needs = false;
  for (Var x : xs) {
    check_same_device_dtype("concat", first, x->value);
    WEFT_CHECK(x->value.shape.rank == first.shape.rank, "[concat] ranks differ: ", first.shape.str(), " vs ",
               x->value.shape.str());
    for (int d = 0; d < first.shape.rank; ++d)
      WEFT_CHECK(d == ax || x->value.shape.dims[d] == first.shape.dims[d], "[concat] shapes ", first.shape.str(),
                 " and ", x->value.shape.str(), " differ outside axis ", ax);
    out_shape.dims[ax] += x->value.shape.dims[ax];
    needs = needs || g.needs_grad({x});
  }
  int64_t outer = prod(out_shape, 0, ax), inner = prod(out_shape, ax + 1, out_shape.rank);
  int64_t row = out_shape.dims[ax] * inner;
  size_t es = dtype_size(first.dtype);
  Var out = g.output(g.alloc(first.dtype, out_shape), needs);
  Exec& ex = g.exec();
  int64_t col = 0;
  for (Var x : xs) {
    int64_t w = x->value.shape.dims[ax] * inner;
    WEFT_LAUNCH(ex, copy2d, ex, first.dtype, static_cast<char*>(out->value.data) + col * es, row, x->value.data, w,
                outer, w, false);
    if (x->requires_grad && needs) {
      g.record(out, [&g, x, out, col, row, w, outer, es] {
        Exec& ex = g.exec();
        WEFT_LAUNCH(ex, copy2d, ex, x->value.dtype, g.grad(x).data, w,
                    static_cast<const char*>(out->grad.data) + col * es, row, outer, w, true);
      });
    }
    col += w;
  }
  return out;
}

std::vector<Var> split(Graph& g, Var x, const std::vector<int64_t>& sizes, int axis) {
  const Tensor& X = x->value;
  int ax = normalize_axis("split", axis, X.shape.rank);
  int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t(0));
  WEFT_CHECK(total == X.shape.dims[ax], "[split] sizes sum to ", total, " but axis ", ax, " of ", X.shape.str(),
             " has ", X.shape.dims[ax]);
  int64_t outer = prod(X.shape, 0, ax), inner = prod(X.shape, ax + 1, X.shape.rank);
  int64_t row = X.shape.dims[ax] * inner;
  size_t es = dtype_size(X.dtype);
  Exec& ex = g.exec();
  std::vector<Var> outs;
  int64_t col = 0;
  for (int64_t s : sizes) {
    WEFT_CHECK(s >= 0, "[split] negative size ", s);
    Shape shape = X.shape;
    shape.dims[ax] = s;
    int64_t w = s * inner;
    Var out = g.output(g.alloc(X.dtype, shape), g.needs_grad({x}));
    WEFT_LAUNCH(ex, copy2d, ex, X.dtype, out->value.data, w, static_cast<const char*>(X.data) + col * es, row, outer,
                w, false);
    g.record(out, [&g, x, out, col, row, w, outer, es] {
      Exec& ex = g.exec();
      WEFT_LAUNCH(ex, copy2d, ex, x->value.dtype, static_cast<char*>(g.grad(x).data) + col * es, row,
                  out->grad.data, w, outer, w, true);
    });
    outs.push_back(out);
    col += w;
  }
  return outs;
}

Var transpose12(Graph& g, Var x) {
  const Tensor& X = x->value;
  WEFT_CHECK(X.shape.rank == 3 || X.shape.rank == 4, "[transpose12] needs rank 3 or 4, got ", X.shape.str());
  int64_t A = X.shape.rank == 4 ? X.shape[0] : 1;
  int64_t B = X.shape[-3], C = X.shape[-2], D = X.shape[-1];
  Shape shape = X.shape;
  shape[-3] = C;
  shape[-2] = B;
  Var out = g.output(g.alloc(X.dtype, shape), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, permute_0213, ex, X.dtype, out->value.data, X.data, A, B, C, D, false);
  g.record(out, [&g, x, out, A, B, C, D] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, permute_0213, ex, x->value.dtype, g.grad(x).data, out->grad.data, A, C, B, D, true);
  });
  return out;
}

}  // namespace weft::ops
