// Emulator checks of the layout family (layout.cu: permute_0213) against the CPU twin.
#include "check_util.h"

using namespace check;
using namespace weft;

namespace {

const char* name(bool bf) { return bf ? "bf16" : "f32"; }

void layout(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  struct S {
    int64_t A, B, C, D;
  };
  for (S s : {S{2, 33, 40, 1}, S{1, 70, 3, 3}, S{2, 5, 7, 4}, S{1, 32, 64, 2}, S{2, 3, 5, 8}, S{1, 4, 6, 13},
              S{3, 1, 1, 5}, S{1, 1, 1, 1}, S{2, 9, 4, 16}})
    for (int acc = 0; acc < 2; ++acc)
      for (int shift : {0, 1})
        run(fmt("permute_0213 %s A%ld B%ld C%ld D%ld acc%d%s", name(bf), long(s.A), long(s.B), long(s.C), long(s.D),
                acc, shift ? " misaligned" : ""),
            [&](Case& c) {
              const int64_t n = s.A * s.B * s.C * s.D;
              FTensor in(uniform(n, -1, 1), bf, shift), out(uniform(n, -1, 1), bf, shift);
              std::vector<float> out_r = out.ref;
              cpu::permute_0213(cpu, DType::f32, out_r.data(), in.r(), s.A, s.B, s.C, s.D, acc);
              Exec ex = emu_exec(1 << 20);
              cuda::permute_0213(ex, dt, out.p(), in.p(), s.A, s.B, s.C, s.D, acc);
              out.buf.check_guards("out");
              c("out", out_r, out.got(), T);
            });
}

}  // namespace

void check_layout() {
  for (bool bf : {false, true}) layout(bf);
}
