// Emulator checks of the optim family (optim.cu: adamw_update, sum_squares) against the CPU twins.
#include "check_util.h"

using namespace check;
using namespace weft;

namespace {

const char* name(bool bf) { return bf ? "bf16" : "f32"; }

void optim(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (int64_t n : {1, 3, 4, 7, 8, 1000, 1029})
    for (int shift : {0, 1}) {
      run(fmt("adamw_update %s n%ld%s", name(bf), long(n), shift ? " misaligned" : ""), [&](Case& c) {
        FTensor p(uniform(n, -1, 1), bf, shift), g(uniform(n, -0.1f, 0.1f), bf, shift);
        FTensor m(uniform(n, -0.01f, 0.01f), false, shift), v(uniform(n, 0, 1e-3f), false, shift);
        std::vector<float> p_r = p.ref, m_r = m.ref, v_r = v.ref;
        const float a[8] = {3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.4f, 0.05f, 0.5f};
        cpu::adamw_update(cpu, DType::f32, p_r.data(), m_r.data(), v_r.data(), g.r(), n, a[0], a[1], a[2], a[3], a[4],
                          a[5], a[6], a[7]);
        Exec ex = emu_exec(1 << 20);
        cuda::adamw_update(ex, dt, p.p(), m.p(), v.p(), g.p(), n, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
        p.buf.check_guards("param"), m.buf.check_guards("m"), v.buf.check_guards("v");
        c("param", p_r, p.got(), T);
        c("m", m_r, m.got(), kF32);
        c("v", v_r, v.got(), kF32);
      });
    }
  for (int64_t n : {0, 1, 255, 256, 257, 5000, 300000})
    run(fmt("sum_squares %s n%ld", name(bf), long(n)), [&](Case& c) {
      FTensor x(uniform(n, -2, 2), bf, 1);
      double r = 0, got = -1;
      cpu::sum_squares(cpu, DType::f32, &r, x.r(), n);
      Exec ex = emu_exec(1 << 20);
      cuda::sum_squares(ex, dt, &got, x.p(), n);
      x.buf.check_guards("x");
      // double accumulation on both sides: only the order differs
      const double ratio = std::fabs(got - r) / (1e-12 * std::fabs(r) + 1e-300);
      c.worst = got == r ? c.worst : std::isfinite(ratio) ? std::max(c.worst, ratio) : INFINITY;
      if (c.worst > 1) c.bad = fmt("sum %.17g, CPU %.17g", got, r);
    });
}

}  // namespace

void check_optim() {
  for (bool bf : {false, true}) optim(bf);
}
