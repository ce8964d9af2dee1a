// Rotary position embedding op (RoPE, with a rotated fraction of each head: MoEUT rotates half).
#include "runtime/kernels.h"
#include "runtime/ops/ops.h"

namespace weft::ops {

Var rope(Graph& g, Var x, int64_t n_rot, float base, int64_t pos_offset) {
  const Tensor& X = x->value;
  WEFT_CHECK(X.shape.rank == 4, "[rope] x must be (B, T, NH, HS), got ", X.shape.str());
  int64_t B = X.shape[0], T = X.shape[1], NH = X.shape[2], HS = X.shape[3];
  WEFT_CHECK(n_rot >= 0 && n_rot <= HS && n_rot % 2 == 0, "[rope] rotated channels n_rot = ", n_rot,
             " must be even and <= head size ", HS);
  WEFT_CHECK(base > 1.0f, "[rope] base must be > 1, got ", base);
  Var out = g.output(g.alloc(X.dtype, X.shape), g.needs_grad({x}));
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, rope_forward, ex, X.dtype, out->value.data, X.data, B, T, NH, HS, n_rot, base, pos_offset);
  g.record(out, [&g, x, out, B, T, NH, HS, n_rot, base, pos_offset] {
    Exec& ex = g.exec();
    WEFT_LAUNCH(ex, rope_backward, ex, x->value.dtype, g.grad(x).data, out->grad.data, B, T, NH, HS, n_rot, base,
                pos_offset);
  });
  return out;
}

}  // namespace weft::ops
