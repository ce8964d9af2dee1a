// Emulator checks of pointwise.cu (unary_forward / unary_backward, every UnaryOp) and binary.cu
// (binary_forward / binary_backward, same shapes and broadcasts whose gradients go through the
// deterministic column reduction of bcast_reduce.cuh) against their CPU twins.
#include "check_util.h"

using namespace check;
using namespace weft;

namespace {

void unary(bool bf) {
  // f32: glibc tanhf / expf here vs the CPU twin's own, a few ulp apart (amplified by cancellation in gelu)
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (int o = 0; o < int(UnaryOp::count); ++o)
    for (int64_t n : {1, 37, 1000})
      for (int shift : {0, 1}) {
        const UnaryOp op = UnaryOp(o);
        const bool positive = op == UnaryOp::log || op == UnaryOp::rsqrt;
        run(fmt("unary %s %s n%ld%s", unary_name(op), bf ? "bf16" : "f32", long(n), shift ? " misaligned" : ""),
            [&](Case& c) {
              FTensor x(uniform(n, positive ? 0.2f : -3, positive ? 3 : 3), bf, shift), y(std::vector<float>(n, 0), bf, shift);
              std::vector<float> y_r(n);
              cpu::unary_forward(cpu, DType::f32, op, y_r.data(), x.r(), n);
              Exec ex = emu_exec(1 << 20);
              cuda::unary_forward(ex, dt, op, y.p(), x.p(), n);
              y.buf.check_guards("y");
              c("y", y_r, y.got(), T);
              FTensor yy(y_r, bf, shift), dy(uniform(n, -1, 1), bf, shift), dx(uniform(n, -1, 1), bf, shift);
              std::vector<float> dx_r = dx.ref;
              cpu::unary_backward(cpu, DType::f32, op, dx_r.data(), dy.r(), x.r(), yy.r(), n);
              cuda::unary_backward(ex, dt, op, dx.p(), dy.p(), x.p(), yy.p(), n);
              dx.buf.check_guards("dx");
              c("dx", dx_r, dx.got(), T);
            });
      }
}

struct Shape3 {
  int64_t d[3];
};
struct BCase {
  Shape3 a, b;
};

void binary(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  const BCase cases[] = {{{{2, 3, 5}}, {{2, 3, 5}}}, {{{2, 3, 5}}, {{1, 3, 1}}}, {{{4, 1, 7}}, {{1, 9, 7}}},
                         {{{3, 70, 33}}, {{1, 1, 1}}}, {{{1, 1, 1}}, {{5, 40, 9}}}, {{{200, 3, 1}}, {{200, 1, 8}}},
                         {{{1, 1, 16}}, {{3, 1, 16}}}};
  for (const BCase& k : cases)
    for (int o = 0; o < 3; ++o)
      for (int grads = 1; grads < 4; ++grads)
        for (bool with_ws : {true, false}) {
          const BinaryOp op = BinaryOp(o);
          Broadcast bc;
          bc.rank = 3;
          int64_t n = 1, na = 1, nb = 1, sa = 1, sb = 1;
          for (int d = 2; d >= 0; --d) {
            bc.out[d] = std::max(k.a.d[d], k.b.d[d]);
            bc.a_stride[d] = k.a.d[d] == 1 ? 0 : sa;
            bc.b_stride[d] = k.b.d[d] == 1 ? 0 : sb;
            sa *= k.a.d[d], sb *= k.b.d[d];
            n *= bc.out[d], na *= k.a.d[d], nb *= k.b.d[d];
          }
          run(fmt("binary %s %s a(%ld,%ld,%ld) b(%ld,%ld,%ld) grads%d ws%d", o == 0 ? "add" : o == 1 ? "sub" : "mul",
                  bf ? "bf16" : "f32", long(k.a.d[0]), long(k.a.d[1]), long(k.a.d[2]), long(k.b.d[0]),
                  long(k.b.d[1]), long(k.b.d[2]), grads, with_ws),
              [&](Case& c) {
                FTensor a(uniform(na, -2, 2), bf), b(uniform(nb, -2, 2), bf), out(std::vector<float>(n, 0), bf);
                std::vector<float> out_r(n);
                cpu::binary_forward(cpu, DType::f32, op, out_r.data(), a.r(), b.r(), bc, n);
                Exec ex = emu_exec(with_ws ? 1 << 20 : 0);
                cuda::binary_forward(ex, dt, op, out.p(), a.p(), b.p(), bc, n);
                out.buf.check_guards("out");
                c("out", out_r, out.got(), T);
                FTensor dout(uniform(n, -1, 1), bf), da(uniform(grads & 1 ? na : 0, -1, 1), bf),
                    db(uniform(grads & 2 ? nb : 0, -1, 1), bf);
                std::vector<float> da_r = da.ref, db_r = db.ref;
                cpu::binary_backward(cpu, DType::f32, op, grads & 1 ? da_r.data() : nullptr,
                                     grads & 2 ? db_r.data() : nullptr, dout.r(), a.r(), b.r(), bc, n, na, nb);
                cuda::binary_backward(ex, dt, op, da.p(), db.p(), dout.p(), a.p(), b.p(), bc, n, na, nb);
                da.buf.check_guards("da"), db.buf.check_guards("db");
                c("da", da_r, da.got(), T);
                c("db", db_r, db.got(), T);
              });
        }
}

}  // namespace

void check_pointwise() {
  for (bool bf : {false, true}) {
    unary(bf);
    binary(bf);
  }
}
