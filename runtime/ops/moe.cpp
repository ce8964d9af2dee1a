// Mixture-of-experts grouped matmul ("cvmm", spec moeut.md A.1 / A.11): every row multiplied by the weight
// matrix of its own expert. One implementation, composed of backend kernels:
//   route      order, offsets = stable counting sort of the expert ids      moe_route (offsets on the host)
//   forward    px = x[order]                    (M, C)  rows grouped by expert   gather_rows
//              py[rows of e] = px[rows of e] @ w[e]      one gemm per expert with rows
//              y[order[r]] = py[r]              (M, O)                           moe_scatter_rows
//   dx        pdy = dy[order]; pdx[rows of e] = pdy[rows of e] @ w[e]^T; dx[order[r]] += pdx[r]
//   dw        dw[e] += px[rows of e]^T pdy[rows of e]    one gemm per expert, accumulating; experts in
//                                                         ascending order, no atomics: bit-reproducible
// An expert with no rows launches nothing: its weight gradient gets += 0. The packed input px stays in the
// step's arena for the weight gradient (the arena frees nothing before the step ends anyway).
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

namespace {

constexpr int64_t kMaxRows = std::numeric_limits<int32_t>::max();  // ids and row ids are i32

char* at(const void* p, int64_t elements, DType dt) {
  return static_cast<char*>(const_cast<void*>(p)) + elements * static_cast<int64_t>(dtype_size(dt));
}

// c[rows of e] = a[rows of e] (n_e, K) @ w[e] (K, N), or, transposed, @ w[e]^T with w[e] stored (N, K).
void per_expert_products(Exec& ex, DType dt, void* c, const void* a, const void* w, const std::vector<int64_t>& off,
                         int64_t K, int64_t N, bool transposed) {
  for (size_t e = 0; e + 1 < off.size(); ++e) {
    const int64_t n = off[e + 1] - off[e];
    if (n == 0) continue;
    WEFT_LAUNCH(ex, gemm, ex, dt, false, transposed, n, N, K, 1.0f, at(a, off[e] * K, dt), K, 0,
                at(w, static_cast<int64_t>(e) * K * N, dt), transposed ? K : N, 0, 0.0f, at(c, off[e] * N, dt), N, 0,
                1);
  }
}

}  // namespace

ExpertRoute route_by_expert(Graph& g, const Tensor& expert, int64_t n_experts) {
  WEFT_CHECK(expert.dtype == DType::i32 && expert.shape.rank == 1, "[route_by_expert] expert ids must be i32 (M), got ",
             expert.str());
  WEFT_CHECK(expert.device == g.device(), "[route_by_expert] expert ids on ", device_name(expert.device),
             ", the graph on ", device_name(g.device()));
  WEFT_CHECK(n_experts >= 1 && n_experts <= kMaxRows, "[route_by_expert] n_experts must be in [1, 2^31), got ",
             n_experts);
  const int64_t M = expert.shape[0];
  WEFT_CHECK(M <= kMaxRows, "[route_by_expert] ", M, " rows: row ids must fit in int32");
  ExpertRoute r;
  r.order = g.alloc(DType::i32, {M});
  r.offsets.assign(static_cast<size_t>(n_experts + 1), 0);
  r.n_experts = n_experts;
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, moe_route, ex, r.order.ptr<int32_t>(), r.offsets.data(), expert.ptr<int32_t>(), M, n_experts);
  return r;
}

Var grouped_matmul(Graph& g, Var x, Var w, const ExpertRoute& route) {
  const Tensor& X = x->value;
  const Tensor& W = w->value;
  WEFT_CHECK(X.shape.rank == 2 && dtype_is_float(X.dtype), "[grouped_matmul] x must be float (M, C), got ", X.str());
  WEFT_CHECK(W.shape.rank == 3 && W.dtype == X.dtype && W.device == X.device,
             "[grouped_matmul] w must be (E, C, O) of ", "x's dtype and device, got ", W.str(), " for x ", X.str());
  const int64_t M = X.shape[0], C = X.shape[1], E = W.shape[0], O = W.shape[2];
  WEFT_CHECK(W.shape[1] == C, "[grouped_matmul] w ", W.shape.str(), " maps ", W.shape[1], " inputs but x ",
             X.shape.str(), " has ", C);
  WEFT_CHECK(route.n_experts == E && route.offsets.size() == static_cast<size_t>(E + 1),
             "[grouped_matmul] the route groups rows into ", route.n_experts, " experts but w has ", E);
  WEFT_CHECK(route.order.dtype == DType::i32 && route.order.shape == Shape{M} && route.offsets[E] == M,
             "[grouped_matmul] the route covers ", route.offsets[E], " rows (order ", route.order.str(), ") but x has ",
             M);
  WEFT_CHECK(route.order.device == X.device, "[grouped_matmul] the route on ", device_name(route.order.device),
             ", x on ", device_name(X.device));
  const DType dt = X.dtype;
  Exec& ex = g.exec();
  Var out = g.output(g.alloc(dt, {M, O}), g.needs_grad({x, w}));
  const int32_t* order = route.order.ptr<int32_t>();
  Tensor px = g.alloc(dt, {M, C});  // (M, C) x's rows grouped by expert
  Tensor py = g.alloc(dt, {M, O});  // (M, O) their products, same order
  WEFT_LAUNCH(ex, gather_rows, ex, dt, px.data, X.data, order, M, M, C, false);
  per_expert_products(ex, dt, py.data, px.data, W.data, route.offsets, C, O, false);
  WEFT_LAUNCH(ex, moe_scatter_rows, ex, dt, out->value.data, py.data, order, M, M, O, false);
  g.record(out, [&g, x, w, out, px, order, offsets = route.offsets, M, C, O] {
    Exec& ex = g.exec();
    const DType dt = x->value.dtype;
    Tensor pdy = g.alloc(dt, {M, O});  // (M, O) dy's rows grouped by expert
    WEFT_LAUNCH(ex, gather_rows, ex, dt, pdy.data, out->grad.data, order, M, M, O, false);
    if (x->requires_grad) {
      Tensor pdx = g.alloc(dt, {M, C});  // (M, C)
      per_expert_products(ex, dt, pdx.data, pdy.data, w->value.data, offsets, O, C, true);
      WEFT_LAUNCH(ex, moe_scatter_rows, ex, dt, g.grad(x).data, pdx.data, order, M, M, C, true);
    }
    if (w->requires_grad) {
      const Tensor dw = g.grad(w);  // (E, C, O)
      for (size_t e = 0; e + 1 < offsets.size(); ++e) {
        const int64_t n = offsets[e + 1] - offsets[e];
        if (n == 0) continue;  // no rows: += 0
        WEFT_LAUNCH(ex, gemm, ex, dt, true, false, C, O, n, 1.0f, at(px.data, offsets[e] * C, dt), C, 0,
                    at(pdy.data, offsets[e] * O, dt), O, 0, 1.0f, at(dw.data, static_cast<int64_t>(e) * C * O, dt), O,
                    0, 1);
      }
    }
  });
  return out;
}

}  // namespace weft::ops
