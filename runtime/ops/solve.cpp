// spd_solve: X = A^-1 B for a symmetric positive-definite A, by Cholesky. Only A's lower triangle is
// read, so its gradient lands on the lower triangle (the upper one gets none).
#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

Var spd_solve(Graph& g, Var A, Var B) {
  const Tensor& Am = A->value;
  const Tensor& Bm = B->value;
  WEFT_CHECK(Am.shape.rank == 2 && Am.shape[0] == Am.shape[1], "[spd_solve] A must be square (n, n), got ",
             Am.shape.str());
  WEFT_CHECK(Bm.shape.rank == 2 && Bm.shape[0] == Am.shape[0], "[spd_solve] B must be (", Am.shape[0], ", m), got ",
             Bm.shape.str());
  check_same_device_dtype("spd_solve", Am, Bm);
  const int64_t n = Am.shape[0], m = Bm.shape[1];
  Var X = g.output(g.alloc(Am.dtype, Bm.shape), g.needs_grad({A, B}));
  Tensor L = g.alloc(Am.dtype, Am.shape);
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, spd_solve_forward, ex, Am.dtype, X->value.data, L.data, Am.data, Bm.data, n, m);
  g.record(X, [&g, A, B, X, L, n, m] {
    Exec& ex = g.exec();
    void* dA = A->requires_grad ? g.grad(A).data : nullptr;
    void* dB = B->requires_grad ? g.grad(B).data : nullptr;
    WEFT_LAUNCH(ex, spd_solve_backward, ex, A->value.dtype, dA, dB, X->grad.data, X->value.data, L.data, n, m);
  });
  return X;
}

}  // namespace weft::ops
