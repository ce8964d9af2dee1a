// Emulator checks of the norm family (norm.cu over rows.cuh, and the column reduction of
// bcast_reduce.cuh for dweight / dbias) against the CPU twins, f32 and bf16, on the cases of
// tests/cases/norm_cases.h with every affine option; each backward also with null outputs and without
// workspace. Gradients are prefilled with random values (the kernels accumulate).
#include "check_util.h"
#include "tests/cases/norm_cases.h"

using namespace check;
using namespace weft;

namespace {

void norms(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const cases::NormCase& s : cases::kNormCases)
    for (cases::Affine a : cases::kAffines) {
      if (!cases::runs_in(s.runners, cases::kEmu)) continue;
      const int64_t N = s.lead * s.N, C = s.C, n = N * C;
      const bool hw = has_weight(a), hb = has_bias(a);
      const std::string tag = fmt("%s N%ld C%ld%s %s", bf ? "bf16" : "f32", long(N), long(C),
                                  cases::misaligned_tag(s.shift), cases::affine_name(a));
      FTensor x(uniform(n, -2, 3), bf, s.shift), w(uniform(hw ? C : 0, 0.5, 1.5), bf, s.shift),
          b(uniform(hb ? C : 0, -1, 1), bf, s.shift), dout(uniform(n, -1, 1), bf, s.shift);
      // ---- layernorm forward
      std::vector<float> mean_r(N), rstd_r(N), out_r(n);
      cpu::layernorm_forward(cpu, DType::f32, out_r.data(), mean_r.data(), rstd_r.data(), x.r(), w.r(), b.r(), N, C,
                             1e-5f);
      run("layernorm_forward " + tag, [&](Case& c) {
        FTensor out(std::vector<float>(n, 0), bf, s.shift), mean(std::vector<float>(N, 0), false),
            rstd(std::vector<float>(N, 0), false);
        Exec ex = emu_exec(kRowsWorkspace);
        cuda::layernorm_forward(ex, dt, out.p(), mean.p(), rstd.p(), x.p(), w.p(), b.p(), N, C, 1e-5f);
        out.buf.check_guards("out"), mean.buf.check_guards("mean"), rstd.buf.check_guards("rstd");
        c("out", out_r, out.got(), T);
        c("mean", mean_r, mean.got(), kF32);
        c("rstd", rstd_r, rstd.got(), kF32);
      });
      // ---- layernorm backward: every output optional, all accumulate; with and without workspace
      for (int bmode = 0; bmode < 3; ++bmode) {
        const bool want_dx = bmode != 1, want_dw = hw && bmode != 2, want_db = hb;
        const bool with_ws = bmode != 2;
        run(fmt("layernorm_backward %s dx%d dw%d db%d ws%d", tag.c_str(), want_dx, want_dw, want_db, with_ws),
            [&](Case& c) {
              FTensor dx(uniform(want_dx ? n : 0, -1, 1), bf, s.shift), dw(uniform(want_dw ? C : 0, -1, 1), bf, s.shift),
                  db(uniform(want_db ? C : 0, -1, 1), bf, s.shift);
              std::vector<float> dx_r = dx.ref, dw_r = dw.ref, db_r = db.ref;
              cpu::layernorm_backward(cpu, DType::f32, want_dx ? dx_r.data() : nullptr, want_dw ? dw_r.data() : nullptr,
                                      want_db ? db_r.data() : nullptr, dout.r(), x.r(), w.r(), mean_r.data(),
                                      rstd_r.data(), N, C);
              Exec ex = emu_exec(with_ws ? kRowsWorkspace : 0);
              cuda::layernorm_backward(ex, dt, dx.p(), dw.p(), db.p(), dout.p(), x.p(), w.p(), mean_r.data(),
                                       rstd_r.data(), N, C);
              dx.buf.check_guards("dx"), dw.buf.check_guards("dweight"), db.buf.check_guards("dbias");
              c("dx", dx_r, dx.got(), T);
              // column sums of N terms: f32 partial order differs from the CPU's row order
              c("dweight", dw_r, dw.got(), T);
              c("dbias", db_r, db.got(), T);
            });
      }
      if (hb) continue;  // rmsnorm has no bias: modes 0 and 1 only
      std::vector<float> rrstd_r(N), rout_r(n);
      cpu::rmsnorm_forward(cpu, DType::f32, rout_r.data(), rrstd_r.data(), x.r(), w.r(), N, C, 1e-5f);
      run("rmsnorm_forward " + tag, [&](Case& c) {
        FTensor out(std::vector<float>(n, 0), bf, s.shift), rstd(std::vector<float>(N, 0), false);
        Exec ex = emu_exec(kRowsWorkspace);
        cuda::rmsnorm_forward(ex, dt, out.p(), rstd.p(), x.p(), w.p(), N, C, 1e-5f);
        out.buf.check_guards("out"), rstd.buf.check_guards("rstd");
        c("out", rout_r, out.got(), T);
        c("rstd", rrstd_r, rstd.got(), kF32);
      });
      for (int bmode = 0; bmode < 3; ++bmode) {
        const bool want_dx = bmode != 1, want_dw = hw && bmode != 2, with_ws = bmode != 2;
        run(fmt("rmsnorm_backward %s dx%d dw%d ws%d", tag.c_str(), want_dx, want_dw, with_ws), [&](Case& c) {
          FTensor dx(uniform(want_dx ? n : 0, -1, 1), bf, s.shift), dw(uniform(want_dw ? C : 0, -1, 1), bf, s.shift);
          std::vector<float> dx_r = dx.ref, dw_r = dw.ref;
          cpu::rmsnorm_backward(cpu, DType::f32, want_dx ? dx_r.data() : nullptr, want_dw ? dw_r.data() : nullptr,
                                dout.r(), x.r(), w.r(), rrstd_r.data(), N, C);
          Exec ex = emu_exec(with_ws ? kRowsWorkspace : 0);
          cuda::rmsnorm_backward(ex, dt, dx.p(), dw.p(), dout.p(), x.p(), w.p(), rrstd_r.data(), N, C);
          dx.buf.check_guards("dx"), dw.buf.check_guards("dweight");
          c("dx", dx_r, dx.got(), T);
          c("dweight", dw_r, dw.got(), T);
        });
      }
    }
}

}  // namespace

void check_norm() {
  for (bool bf : {false, true}) norms(bf);
}
