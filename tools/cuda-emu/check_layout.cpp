// Emulator checks of the layout family (layout.cu: permute_0213, the kernel of transpose12) against the CPU
// twin on the transpose cases of tests/cases/layout_cases.h ((A, B, C) as D = 1), plain and accumulating,
// aligned and misaligned. concat / split (copy2d) are not wired in yet (README).
#include "check_util.h"
#include "tests/cases/layout_cases.h"

using namespace check;
using namespace weft;

namespace {

const char* name(bool bf) { return bf ? "bf16" : "f32"; }

void layout(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const cases::Dims& d : cases::kTransposeCases) {
    const int64_t A = d[0], B = d[1], C = d[2], D = d.rank == 4 ? d[3] : 1, n = A * B * C * D;
    for (int acc = 0; acc < 2; ++acc)
      for (int shift : {0, 1})
        run(fmt("permute_0213 %s A%ld B%ld C%ld D%ld acc%d%s", name(bf), long(A), long(B), long(C), long(D), acc,
                shift ? " misaligned" : ""),
            [&](Case& c) {
              FTensor in(uniform(n, -1, 1), bf, shift), out(uniform(n, -1, 1), bf, shift);
              std::vector<float> out_r = out.ref;
              cpu::permute_0213(cpu, DType::f32, out_r.data(), in.r(), A, B, C, D, acc);
              Exec ex = emu_exec(1 << 20);
              cuda::permute_0213(ex, dt, out.p(), in.p(), A, B, C, D, acc);
              out.buf.check_guards("out");
              c("out", out_r, out.got(), T);
            });
  }
}

}  // namespace

void check_layout() {
  for (bool bf : {false, true}) layout(bf);
}
