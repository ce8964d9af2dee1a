// Emulator checks of the reduce family (reduce.cu: reduce_sum, broadcast_axis) against the CPU twins on the
// cases of tests/cases/reduce_cases.h as (outer, len, inner): reduce_sum plain and accumulating, with and
// without workspace (the row path takes none), broadcast_axis aligned and misaligned; sum_all's cases as
// reduce_sum of one row.
#include "check_util.h"
#include "tests/cases/reduce_cases.h"

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
  std::vector<S> shapes;
  for (const cases::ReduceCase& c : cases::kReduceCases)
    if (cases::runs_in(c.runners, cases::kEmu)) {
      const cases::ReduceDims r = cases::reduce_dims(c);
      shapes.push_back({r.outer, r.len, r.inner});
    }
  const size_t n_axis_cases = shapes.size();
  for (const cases::Dims& d : cases::kSumAllCases) shapes.push_back({1, d.numel(), 1});
  for (S s : shapes)
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
  shapes.resize(n_axis_cases);  // the backward of sum / mean
  for (S s : shapes)
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
