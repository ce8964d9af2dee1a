// Indexing ops: embedding lookup, row gather / scatter-add (token routing), top-k.
#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

namespace {
void check_index_tensor(const char* op, const Tensor& idx, const Tensor& x) {
  WEFT_CHECK(idx.dtype == DType::i32, "[", op, "] indices must be i32, got ", idx.str());
  WEFT_CHECK(idx.device == x.device, "[", op, "] indices on ", device_name(idx.device), ", data on ",
             device_name(x.device));
}
}  // namespace

Var embedding(Graph& g, Var ids, Var table) {
  const Tensor& I = ids->value;
  const Tensor& W = table->value;
  WEFT_CHECK(W.shape.rank == 2 && dtype_is_float(W.dtype), "[embedding] table must be float (V, C), got ", W.str());
  check_index_tensor("embedding", I, W);
  const int64_t N = I.numel(), V = W.shape[0], C = W.shape[1];
  Shape shape = I.shape;
  WEFT_CHECK(shape.rank < Shape::kMaxDims, "[embedding] ids of rank ", shape.rank, " are too many dims");
  shape.dims[shape.rank++] = C;
  Var out = g.output(g.alloc(W.dtype, shape), g.needs_grad({table}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, embedding_forward, ex, W.dtype, out->value.data, I.ptr<int32_t>(), W.data, N, V, C);
  g.record(out, [&g, ids, table, out, N, V, C] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, embedding_backward, ex, table->value.dtype, g.grad(table).data, out->grad.data,
                ids->value.ptr<int32_t>(), N, V, C);
  });
  return out;
}

Var gather_rows(Graph& g, Var x, Var idx) {
  const Tensor& X = x->value;
  const Tensor& I = idx->value;
  WEFT_CHECK(X.shape.rank == 2 && dtype_is_float(X.dtype), "[gather_rows] x must be float (N, C), got ", X.str());
  WEFT_CHECK(I.shape.rank == 1, "[gather_rows] idx must be (M), got ", I.shape.str());
  check_index_tensor("gather_rows", I, X);
  const int64_t M = I.shape[0], N = X.shape[0], C = X.shape[1];
  Var out = g.output(g.alloc(X.dtype, {M, C}), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, gather_rows, ex, X.dtype, out->value.data, X.data, I.ptr<int32_t>(), M, N, C, false);
  g.record(out, [&g, x, idx, out, M, N, C] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, scatter_add_rows, ex, x->value.dtype, g.grad(x).data, out->grad.data, idx->value.ptr<int32_t>(),
                M, N, C);
  });
  return out;
}

Var scatter_add_rows(Graph& g, Var src, Var idx, int64_t n_rows) {
  const Tensor& S = src->value;
  const Tensor& I = idx->value;
  WEFT_CHECK(S.shape.rank == 2 && dtype_is_float(S.dtype), "[scatter_add_rows] src must be float (M, C), got ",
             S.str());
  WEFT_CHECK(I.shape == Shape{S.shape[0]}, "[scatter_add_rows] idx must be (", S.shape[0], "), got ", I.shape.str());
  WEFT_CHECK(n_rows >= 0, "[scatter_add_rows] n_rows must be >= 0, got ", n_rows);
  check_index_tensor("scatter_add_rows", I, S);
  const int64_t M = S.shape[0], C = S.shape[1];
  Var out = g.output(g.zeros(S.dtype, {n_rows, C}), g.needs_grad({src}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, scatter_add_rows, ex, S.dtype, out->value.data, S.data, I.ptr<int32_t>(), M, n_rows, C);
  g.record(out, [&g, src, idx, out, M, n_rows, C] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, gather_rows, ex, src->value.dtype, g.grad(src).data, out->grad.data, idx->value.ptr<int32_t>(), M,
                n_rows, C, true);
  });
  return out;
}

TopK topk(Graph& g, Var x, int64_t k) {
  const Tensor& X = x->value;
  WEFT_CHECK(dtype_is_float(X.dtype) && X.shape.rank >= 1, "[topk] needs a float tensor, got ", X.str());
  const int64_t N = X.shape.rows(), C = X.shape.last();
  WEFT_CHECK(k >= 1 && k <= C, "[topk] k = ", k, " must be in [1, ", C, "]");
  Shape shape = X.shape.with_last(k);
  Var values = g.output(g.alloc(X.dtype, shape), g.needs_grad({x}));
  Var indices = g.constant(g.alloc(DType::i32, shape));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, topk_forward, ex, X.dtype, values->value.data, indices->value.ptr<int32_t>(), X.data, N, C, k);
  g.record(values, [&g, x, values, indices, N, C, k] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, topk_backward, ex, x->value.dtype, g.grad(x).data, values->grad.data,
                indices->value.ptr<int32_t>(), N, C, k);
  });
  return {values, indices};
}

}  // namespace weft::ops
