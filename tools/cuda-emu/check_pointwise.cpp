// Emulator checks of the pointwise family against the CPU twins, f32 and bf16, on the cases of
// tests/cases/pointwise_cases.h: pointwise.cu (unary_forward / unary_backward for every UnaryOp, axpby as
// scale's forward and accumulating backward, swiglu_forward / backward, dropout_forward / backward with one
// Philox key) and binary.cu (binary_forward / binary_backward for every gradient subset, with and without
// workspace: broadcasts whose gradients go through the deterministic column reduction of bcast_reduce.cuh).
#include "check_util.h"
#include "tests/cases/pointwise_cases.h"

using namespace check;
using namespace weft;

namespace {

void unary(bool bf) {
  // f32: glibc tanhf / expf here vs the CPU twin's own, a few ulp apart (amplified by cancellation in gelu)
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (int o = 0; o < int(UnaryOp::count); ++o)
    for (const cases::UnaryCase& k : cases::kUnaryCases) {
      if (!cases::runs_in(k.runners, cases::kEmu)) continue;
      const int64_t n = k.x.numel();
      const int shift = k.shift;
      const UnaryOp op = UnaryOp(o);
      const bool positive = op == UnaryOp::log || op == UnaryOp::rsqrt;
      run(fmt("unary %s %s %s", unary_name(op), bf ? "bf16" : "f32", cases::describe(k).c_str()), [&](Case& c) {
        FTensor x(uniform(n, positive ? 0.2f : -3, 3), bf, shift), y(std::vector<float>(n, 0), bf, shift);
        std::vector<float> y_r(n);
        cpu::unary_forward(cpu, DType::f32, op, y_r.data(), x.r(), n);
        Exec ex = emu_exec(1 << 20);
        cuda::unary_forward(ex, dt, op, y.p(), x.p(), n);
        y.buf.check_guards("y");
        c("y", y_r, y.got(), T);
        FTensor yy(y_r, bf, shift), dy(uniform(n, -1, 1), bf, shift);
        for (bool accumulate : {true, false}) {  // write: the old dx must not show through
          FTensor dx(uniform(n, accumulate ? -1 : 50, accumulate ? 1 : 60), bf, shift);
          std::vector<float> dx_r = dx.ref;
          cpu::unary_backward(cpu, DType::f32, op, dx_r.data(), dy.r(), x.r(), yy.r(), n, accumulate);
          cuda::unary_backward(ex, dt, op, dx.p(), dy.p(), x.p(), yy.p(), n, accumulate);
          dx.buf.check_guards("dx");
          c(accumulate ? "dx accumulated" : "dx written", dx_r, dx.got(), T);
        }
      });
    }
}

void binary(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const cases::BinaryCase& k : cases::kBinaryCases)
    for (int o = 0; o < 3; ++o)
      for (int grads = 1; grads < 4; ++grads)
        for (bool with_ws : {true, false}) {
          if (!cases::runs_in(k.runners, cases::kEmu)) continue;
          const BinaryOp op = BinaryOp(o);
          // Right-aligned broadcast over the larger rank (NumPy rules), as ops::binary builds it.
          Broadcast bc;
          bc.rank = std::max(k.a.rank, k.b.rank);
          int64_t n = 1, na = 1, nb = 1, sa = 1, sb = 1;
          for (int d = bc.rank - 1; d >= 0; --d) {
            const int ia = d - (bc.rank - k.a.rank), ib = d - (bc.rank - k.b.rank);
            const int64_t da = ia >= 0 ? k.a.d[ia] : 1, db = ib >= 0 ? k.b.d[ib] : 1;
            bc.out[d] = std::max(da, db);
            bc.a_stride[d] = da == 1 ? 0 : sa;
            bc.b_stride[d] = db == 1 ? 0 : sb;
            sa *= da, sb *= db;
            n *= bc.out[d], na *= da, nb *= db;
          }
          run(fmt("binary %s %s %s grads%d ws%d", o == 0 ? "add" : o == 1 ? "sub" : "mul", bf ? "bf16" : "f32",
                  cases::describe(k).c_str(), grads, with_ws),
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

// scale: y = alpha x (beta 0: y is not read, prefilled with NaN), then its backward dx += alpha dy (beta 1).
void scale(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const cases::Dims& d : cases::kScaleCases)
    for (int shift : {0, 1})
      run(fmt("axpby %s %s%s", bf ? "bf16" : "f32", cases::dims_str(d).c_str(), cases::misaligned_tag(shift)),
          [&](Case& c) {
            const int64_t n = d.numel();
            FTensor x(uniform(n, -2, 2), bf, shift), y(std::vector<float>(n, NAN), bf, shift),
                dx(uniform(n, -1, 1), bf, shift);
            std::vector<float> y_r(n), dx_r = dx.ref;
            cpu::axpby(cpu, DType::f32, y_r.data(), 0.37f, x.r(), 0.0f, n);
            cpu::axpby(cpu, DType::f32, dx_r.data(), -2.5f, x.r(), 1.0f, n);
            Exec ex = emu_exec(0);
            cuda::axpby(ex, dt, y.p(), 0.37f, x.p(), 0.0f, n);
            cuda::axpby(ex, dt, dx.p(), -2.5f, x.p(), 1.0f, n);
            y.buf.check_guards("y"), dx.buf.check_guards("dx");
            c("y", y_r, y.got(), T);
            c("dx", dx_r, dx.got(), T);
          });
}

void swiglu(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const cases::Dims& d : cases::kSwigluCases)
    for (int shift : {0, 1})
      run(fmt("swiglu %s %s%s", bf ? "bf16" : "f32", cases::dims_str(d).c_str(), cases::misaligned_tag(shift)),
          [&](Case& c) {
            const int64_t F = d[-1] / 2, N = d.numel() / d[-1];
            FTensor x(uniform(N * 2 * F, -3, 3), bf, shift), out(std::vector<float>(N * F, 0), bf, shift),
                dout(uniform(N * F, -1, 1), bf, shift), dx(uniform(N * 2 * F, -1, 1), bf, shift);
            std::vector<float> out_r(N * F), dx_r = dx.ref;
            cpu::swiglu_forward(cpu, DType::f32, out_r.data(), x.r(), N, F);
            cpu::swiglu_backward(cpu, DType::f32, dx_r.data(), dout.r(), x.r(), N, F);
            Exec ex = emu_exec(0);
            cuda::swiglu_forward(ex, dt, out.p(), x.p(), N, F);
            cuda::swiglu_backward(ex, dt, dx.p(), dout.p(), x.p(), N, F);
            out.buf.check_guards("out"), dx.buf.check_guards("dx");
            c("out", out_r, out.got(), T);
            c("dx", dx_r, dx.got(), T);
          });
}

// The parity test's Philox stream: key, stream 5, offset 37 (Rng(1234, 5) after take(37)).
void dropout(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  const PhiloxKey key{0x1234u, 0x9876u};
  for (const cases::DropoutCase& k : cases::kDropoutCases)
    for (int shift : {0, 1}) {
      if (!cases::runs_in(k.runners, cases::kEmu)) continue;
      run(fmt("dropout %s %s%s", bf ? "bf16" : "f32", cases::describe(k).c_str(), cases::misaligned_tag(shift)),
          [&](Case& c) {
            const int64_t n = k.x.numel();
            FTensor x(uniform(n, -2, 2), bf, shift), y(std::vector<float>(n, 0), bf, shift),
                dy(uniform(n, -1, 1), bf, shift), dx(uniform(n, -1, 1), bf, shift);
            std::vector<float> y_r(n), dx_r = dx.ref;
            cpu::dropout_forward(cpu, DType::f32, y_r.data(), x.r(), n, k.p, key, 5, 37);
            cpu::dropout_backward(cpu, DType::f32, dx_r.data(), dy.r(), n, k.p, key, 5, 37);
            Exec ex = emu_exec(0);
            cuda::dropout_forward(ex, dt, y.p(), x.p(), n, k.p, key, 5, 37);
            cuda::dropout_backward(ex, dt, dx.p(), dy.p(), n, k.p, key, 5, 37);
            y.buf.check_guards("y"), dx.buf.check_guards("dx");
            c("y", y_r, y.got(), T);
            c("dx", dx_r, dx.got(), T);
          });
    }
}

}  // namespace

void check_pointwise() {
  for (bool bf : {false, true}) {
    unary(bf);
    binary(bf);
    scale(bf);
    swiglu(bf);
    dropout(bf);
  }
}
