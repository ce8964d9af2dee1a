// Emulator checks of the rope family (rope.cu) against the CPU twin (backend_cpu/rope.cpp), f32 and bf16,
// forward and backward (dx accumulates) on the cases of tests/cases/rope_cases.h.
#include "check_util.h"
#include "tests/cases/rope_cases.h"

using namespace check;
using namespace weft;

void check_rope() {
  for (bool bf : {false, true})
    for (const cases::RopeCase& c : cases::kRopeCases) {
      if (!cases::runs_in(c.runners, cases::kEmu)) continue;
      run(fmt("rope %s ", bf ? "bf16" : "f32") + cases::describe(c), [&](Case& cs) {
        const int64_t n = c.B * c.T * c.NH * c.HS;
        const DType dt = bf ? DType::bf16 : DType::f32;
        const Tol tol = bf ? kBf16 : kF32;
        const int shift = int(c.HS % 2 == 0 && c.T % 2);
        FTensor x(uniform(n, -1, 1), bf, shift), y(std::vector<float>(n, 0.0f), bf, shift);
        FTensor dy(uniform(n, -1, 1), bf, shift), dx(uniform(n, -1, 1), bf, shift);  // dx accumulates
        Exec host = cpu_exec(1), ex = emu_exec(0);
        std::vector<float> y_r(n), dx_r = dx.ref;
        const float base = cases::kRopeBase;
        cpu::rope_forward(host, DType::f32, y_r.data(), x.r(), c.B, c.T, c.NH, c.HS, c.n_rot, base, c.pos_offset);
        cpu::rope_backward(host, DType::f32, dx_r.data(), dy.r(), c.B, c.T, c.NH, c.HS, c.n_rot, base, c.pos_offset);
        cuda::rope_forward(ex, dt, y.p(), x.p(), c.B, c.T, c.NH, c.HS, c.n_rot, base, c.pos_offset);
        cuda::rope_backward(ex, dt, dx.p(), dy.p(), c.B, c.T, c.NH, c.HS, c.n_rot, base, c.pos_offset);
        y.buf.check_guards("y");
        dx.buf.check_guards("dx");
        cs("y", y_r, y.got(), tol);
        cs("dx", dx_r, dx.got(), tol);
      });
    }
}
