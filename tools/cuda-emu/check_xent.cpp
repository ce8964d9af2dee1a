// Emulator checks of the xent family (xent.cu over rows.cuh) against the CPU twin, f32 and bf16, on the
// cases of tests/cases/xent_cases.h with each ignore_index and loss scale (1 / rows or 1 / normaliser): the
// forward, the forward with the gradient, and dloss applied (accumulated, in place).
#include "check_util.h"
#include "tests/cases/xent_cases.h"

using namespace check;
using namespace weft;

namespace {

void xent(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const cases::XentCase& s : cases::kXentCases)
    for (int32_t ignore : cases::kXentIgnoreIndices)
      for (float normalizer : cases::kXentNormalizers) {
        if (!cases::runs_in(s.runners, cases::kEmu)) continue;
        const int64_t N = s.N, V = s.V, n = N * V;
        const std::string tag = fmt("%s N%ld V%ld%s ignore%d%s", bf ? "bf16" : "f32", long(N), long(V),
                                    cases::misaligned_tag(s.shift), ignore, normalizer > 0 ? " normalizer" : "");
        FTensor logits(uniform(n, -4, 6), bf, s.shift);
        std::vector<int32_t> tg(N);
        for (int64_t r = 0; r < N; ++r) tg[r] = cases::xent_target(r, V, ignore);
        std::vector<float> loss_r(N), lse_r(N);
        cpu::xent_forward(cpu, DType::f32, loss_r.data(), lse_r.data(), logits.r(), tg.data(), N, V, ignore);
        if (normalizer == 0)  // the forward takes no scale: once per ignore_index
          run("xent_forward " + tag, [&](Case& c) {
          FTensor loss(std::vector<float>(N, 7), false), lse(std::vector<float>(N, 7), false);
          Buf t(N, 4);
          std::memcpy(t.p(), tg.data(), N * 4);
          Exec ex = emu_exec(kRowsWorkspace);
          cuda::xent_forward(ex, dt, loss.p(), lse.p(), logits.p(), t.as<int32_t>(), N, V, ignore);
          loss.buf.check_guards("losses"), lse.buf.check_guards("lse");
          c("losses", loss_r, loss.got(), kF32);
          c("lse", lse_r, lse.got(), kF32);
        });
        run("xent_forward_grad " + tag, [&](Case& c) {  // stale values in dlogits must not reach the result
          const float scale = 1.0f / (normalizer > 0 ? normalizer : float(N));
          std::vector<float> dl_r(n), loss_g(N), lse_g(N);
          cpu::xent_forward_grad(cpu, DType::f32, loss_g.data(), lse_g.data(), dl_r.data(), logits.r(), tg.data(), N,
                                 V, ignore, scale);
          FTensor dl(uniform(n, -3, 3), bf, s.shift);
          FTensor loss(std::vector<float>(N, 7), false), lse(std::vector<float>(N, 7), false);
          Buf t(N, 4);
          std::memcpy(t.p(), tg.data(), N * 4);
          Exec ex = emu_exec(kRowsWorkspace);
          cuda::xent_forward_grad(ex, dt, loss.p(), lse.p(), dl.p(), logits.p(), t.as<int32_t>(), N, V, ignore, scale);
          dl.buf.check_guards("dlogits"), loss.buf.check_guards("losses"), lse.buf.check_guards("lse");
          c("losses", loss_g, loss.got(), kF32);
          c("lse", lse_g, lse.got(), kF32);
          c("dlogits", dl_r, dl.got(), T);
        });
        if (normalizer == 0)  // elementwise, independent of the scale: once per ignore_index
          for (bool accumulate : {true, false})
            run(std::string("xent_grad_apply ") + (accumulate ? "+= " : "in place ") + tag, [&](Case& c) {
              FTensor grad(uniform(n, -1, 1), bf, s.shift), dl(uniform(n, -1, 1), bf, s.shift);
              std::vector<float> dloss = {0.7f}, want = accumulate ? dl.ref : grad.ref;
              cpu::xent_grad_apply(cpu, DType::f32, want.data(), accumulate ? grad.r() : want.data(), dloss.data(), n,
                                   accumulate);
              Exec ex = emu_exec(kRowsWorkspace);
              FTensor& dst = accumulate ? dl : grad;
              cuda::xent_grad_apply(ex, dt, dst.p(), grad.p(), dloss.data(), n, accumulate);
              dst.buf.check_guards("dlogits");
              c("dlogits", want, dst.got(), T);
            });
      }
}

}  // namespace

void check_xent() {
  for (bool bf : {false, true}) xent(bf);
}
