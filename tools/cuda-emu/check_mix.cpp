// Emulator checks of the mix family (mix.cu: tril_copy) against the CPU twin, f32 and bf16, on the kernel
// cases of tests/cases/mix_cases.h, copy and accumulate. Destinations are prefilled with random values: a
// copy must zero the upper triangle of the T x T block, and neither mode may touch the columns past T
// (ld_dst > T). One float add per element before one rounding on both sides: results must match exactly.
#include "check_util.h"
#include "tests/cases/mix_cases.h"

using namespace check;
using namespace weft;

namespace {

void tril(bool bf) {
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const cases::TrilCase& s : cases::kTrilCases)
    for (bool accumulate : cases::kTrilAccumulate) {
      if (!cases::runs_in(s.runners, cases::kEmu)) continue;
      run(fmt("tril_copy %s %s", bf ? "bf16" : "f32", cases::describe(s, accumulate).c_str()), [&](Case& c) {
        FTensor src(uniform(s.T * s.ld_src, -1, 1), bf), dst(uniform(s.T * s.ld_dst, -1, 1), bf);
        std::vector<float> dst_r = dst.ref;
        cpu::tril_copy(cpu, DType::f32, dst_r.data(), s.ld_dst, src.r(), s.ld_src, s.T, accumulate);
        if (bf)
          for (float& v : dst_r) v = round_bf16(v);  // the kernel rounds its float result once
        Exec ex = emu_exec(0);
        cuda::tril_copy(ex, dt, dst.p(), s.ld_dst, src.p(), s.ld_src, s.T, accumulate);
        dst.buf.check_guards("dst"), src.buf.check_guards("src");
        c("dst", dst_r, dst.got(), Tol{0, 0});
      });
    }
}

}  // namespace

void check_mix() {
  for (bool bf : {false, true}) tril(bf);
}
