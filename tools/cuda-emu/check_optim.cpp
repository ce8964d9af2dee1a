// Emulator checks of the optim family (optim.cu: adamw_update, sum_squares) against the CPU twins on the
// cases of tests/cases/optim_cases.h: one AdamW step with the case's weight decay and gradient scale (random
// moments, bias corrections of a late step), sum_squares in double.
#include "check_util.h"
#include "tests/cases/optim_cases.h"

using namespace check;
using namespace weft;

namespace {

const char* name(bool bf) { return bf ? "bf16" : "f32"; }

void optim(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const cases::AdamCase& k : cases::kAdamCases) {
    if (!cases::runs_in(k.runners, cases::kEmu)) continue;
    const int64_t n = k.n;
    const int shift = k.shift;
    run(fmt("adamw_update %s %s", name(bf), cases::describe(k).c_str()), [&](Case& c) {
      FTensor p(uniform(n, -1, 1), bf, shift), g(uniform(n, -0.1f, 0.1f), bf, shift);
      FTensor m(uniform(n, -0.01f, 0.01f), false, shift), v(uniform(n, 0, 1e-3f), false, shift);
      std::vector<float> p_r = p.ref, m_r = m.ref, v_r = v.ref;
      const float a[8] = {3e-4f, 0.9f, 0.95f, 1e-8f, k.weight_decay, 0.4f, 0.05f, k.grad_scale};
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
  for (const cases::SumSquaresCase& k : cases::kSumSquaresCases) {
    if (!cases::runs_in(k.runners, cases::kEmu)) continue;
    const int64_t n = k.n;
    run(fmt("sum_squares %s %s", name(bf), cases::describe(k).c_str()), [&](Case& c) {
      FTensor x(uniform(n, -2, 2), bf, k.shift);
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
}

}  // namespace

void check_optim() {
  for (bool bf : {false, true}) optim(bf);
}
