// Emulator checks of the optim family (optim.cu: adamw_update, adamw_update_ranges, sum_squares) against the
// CPU twins on the cases of tests/cases/optim_cases.h: one AdamW step with the case's weight decay and
// gradient scale (random moments, bias corrections of a late step), the multi-tensor step with the case's
// decay table (also bit for bit against per-range adamw_update), sum_squares in double.
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
  // Multi-tensor AdamW: against the CPU twin (same table), and bit for bit against the per-range launches
  // of adamw_update it replaces (the same kernel source, the decay chosen per element instead of per call).
  for (const cases::AdamCase& k : cases::kAdamCases) {
    if (!cases::runs_in(k.runners, cases::kEmu)) continue;
    const int64_t n = k.n;
    const int shift = k.shift;
    const std::vector<int64_t> table = cases::decay_ranges_for(n);
    const int64_t R = static_cast<int64_t>(table.size() / 2);
    run(fmt("adamw_update_ranges %s %s, %ld decay ranges", name(bf), cases::describe(k).c_str(), long(R)),
        [&](Case& c) {
          FTensor p(uniform(n, -1, 1), bf, shift), g(uniform(n, -0.1f, 0.1f), bf, shift);
          FTensor m(uniform(n, -0.01f, 0.01f), false, shift), v(uniform(n, 0, 1e-3f), false, shift);
          FTensor p2(p.ref, bf, shift), g2(g.ref, bf, shift), m2(m.ref, false, shift), v2(v.ref, false, shift);
          std::vector<float> p_r = p.ref, m_r = m.ref, v_r = v.ref;
          const float a[8] = {3e-4f, 0.9f, 0.95f, 1e-8f, k.weight_decay, 0.4f, 0.05f, k.grad_scale};
          cpu::adamw_update_ranges(cpu, DType::f32, p_r.data(), m_r.data(), v_r.data(), g.r(), n, table.data(), R,
                                   a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
          Exec ex = emu_exec(1 << 20);
          cuda::adamw_update_ranges(ex, dt, p.p(), m.p(), v.p(), g.p(), n, table.data(), R, a[0], a[1], a[2], a[3],
                                    a[4], a[5], a[6], a[7]);
          p.buf.check_guards("param"), m.buf.check_guards("m"), v.buf.check_guards("v");
          c("param", p_r, p.got(), T);
          c("m", m_r, m.got(), kF32);
          c("v", v_r, v.got(), kF32);
          // The former per-parameter launches: gaps with decay 0, ranges with the case's decay.
          const size_t es = bf ? 2 : 4;
          int64_t at = 0;
          auto launch = [&](int64_t end, float decay) {  // [at, end) with one decay value
            if (end > at)
              cuda::adamw_update(ex, dt, static_cast<char*>(p2.p()) + at * es, static_cast<float*>(m2.p()) + at,
                                 static_cast<float*>(v2.p()) + at, static_cast<const char*>(g2.p()) + at * es,
                                 end - at, a[0], a[1], a[2], a[3], decay, a[5], a[6], a[7]);
            at = end;
          };
          for (int64_t r = 0; r < R; ++r) {
            launch(table[2 * r], 0.0f);
            launch(table[2 * r + 1], a[4]);
          }
          launch(n, 0.0f);
          const std::vector<float> fused = p.got(), per_range = p2.got();
          const std::vector<float> fm = m.got(), pm = m2.got(), fv = v.got(), pv = v2.got();
          if (std::memcmp(fused.data(), per_range.data(), n * sizeof(float)) ||
              std::memcmp(fm.data(), pm.data(), n * sizeof(float)) ||
              std::memcmp(fv.data(), pv.data(), n * sizeof(float))) {
            c.worst = INFINITY;
            c.bad = "not bit-identical to per-range adamw_update launches";
          }
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
