// Emulator checks of the reduce family (reduce.cu: reduce_sum, broadcast_axis) against the CPU twins.
#include "check_util.h"

using namespace check;
using namespace weft;

namespace {

const char* name(bool bf) { return bf ? "bf16" : "f32"; }

void reduce(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  struct S {
    int64_t outer, len, inner;
  };
  for (S s : {S{1, 1, 1}, S{3, 7, 1}, S{5, 100, 1}, S{9, 33, 1}, S{2, 4096, 1}, S{3, 5000, 1}, S{4, 37, 3},
              S{2, 300, 5}, S{1, 2000, 2}, S{3, 0, 4}, S{2, 64, 8}})
    for (int acc = 0; acc < 2; ++acc)
      for (size_t wsb : {size_t(1) << 20, size_t(0)}) {
        if (wsb == 0 && s.inner == 1) continue;  // the row path takes no workspace
        run(fmt("reduce_sum %s outer%ld len%ld inner%ld acc%d ws%d", name(bf), long(s.outer), long(s.len),
                long(s.inner), acc, wsb != 0),
            [&](Case& c) {
              FTensor x(uniform(s.outer * s.len * s.inner, -1, 1), bf, 1),
                  out(uniform(s.outer * s.inner, -1, 1), bf, 1);
              std::vector<float> out_r = out.ref;
              cpu::reduce_sum(cpu, DType::f32, out_r.data(), x.r(), s.outer, s.len, s.inner, 0.75f, acc);
              Exec ex = emu_exec(wsb);
              cuda::reduce_sum(ex, dt, out.p(), x.p(), s.outer, s.len, s.inner, 0.75f, acc);
              out.buf.check_guards("out");
              c("out", out_r, out.got(), T);
            });
      }
  for (S s : {S{3, 7, 1}, S{2, 5, 8}, S{2, 3, 16}, S{1, 4, 33}, S{2, 1, 4}, S{3, 2, 12}})
    for (int shift : {0, 1})
      run(fmt("broadcast_axis %s outer%ld len%ld inner%ld%s", name(bf), long(s.outer), long(s.len), long(s.inner),
              shift ? " misaligned" : ""),
          [&](Case& c) {
            FTensor dx(uniform(s.outer * s.len * s.inner, -1, 1), bf, shift), d(uniform(s.outer * s.inner, -1, 1), bf, shift);
            std::vector<float> dx_r = dx.ref;
            cpu::broadcast_axis(cpu, DType::f32, dx_r.data(), d.r(), s.outer, s.len, s.inner, -0.5f);
            Exec ex = emu_exec(1 << 20);
            cuda::broadcast_axis(ex, dt, dx.p(), d.p(), s.outer, s.len, s.inner, -0.5f);
            dx.buf.check_guards("dx");
            c("dx", dx_r, dx.got(), T);
          });
}

}  // namespace

void check_reduce() {
  for (bool bf : {false, true}) reduce(bf);
}
