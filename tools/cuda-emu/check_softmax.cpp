// Emulator checks of the softmax family (softmax.cu over rows.cuh: softmax, logsumexp) against the CPU twin, f32 and bf16,
// on the cases of tests/cases/softmax_cases.h, plain and masked (large logits, -inf entries).
#include "check_util.h"
#include "tests/cases/softmax_cases.h"

using namespace check;
using namespace weft;

namespace {

void softmax(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const cases::SoftmaxCase& s : cases::kSoftmaxCases)
    for (bool masked : cases::kSoftmaxMasked) {
      if (!cases::runs_in(s.runners, cases::kEmu)) continue;
      const int64_t N = s.lead * s.N, C = s.C, n = N * C;
      std::vector<float> xv = uniform(n, masked ? -40 : -3, masked ? 40 : 3);
      if (masked)
        for (int64_t i = 0; i < n; ++i)
          if (cases::softmax_masked_out(i, C)) xv[i] = -INFINITY;
      const std::string tag = fmt("%s N%ld C%ld%s%s", bf ? "bf16" : "f32", long(N), long(C),
                                  cases::misaligned_tag(s.shift), masked ? " masked" : "");
      FTensor x(xv, bf, s.shift), dy(uniform(n, -1, 1), bf, s.shift);
      std::vector<float> y_r(n);
      cpu::softmax_forward(cpu, DType::f32, y_r.data(), x.r(), N, C);
      run("softmax_forward " + tag, [&](Case& c) {
        FTensor y(std::vector<float>(n, 0), bf, s.shift);
        Exec ex = emu_exec(kRowsWorkspace);
        cuda::softmax_forward(ex, dt, y.p(), x.p(), N, C);
        y.buf.check_guards("y");
        c("y", y_r, y.got(), T);
      });
      run("softmax_backward " + tag, [&](Case& c) {
        FTensor y(y_r, bf, s.shift), dx(uniform(n, -1, 1), bf, s.shift);
        std::vector<float> dx_r = dx.ref;
        cpu::softmax_backward(cpu, DType::f32, dx_r.data(), dy.r(), y.r(), N, C);
        Exec ex = emu_exec(kRowsWorkspace);
        cuda::softmax_backward(ex, dt, dx.p(), dy.p(), y.p(), N, C);
        dx.buf.check_guards("dx");
        c("dx", dx_r, dx.got(), T);
      });
      if (bf) continue;  // logsumexp takes f32 and f64 only
      std::vector<float> lse_r(N);
      cpu::logsumexp_forward(cpu, DType::f32, lse_r.data(), x.r(), N, C);
      run("logsumexp_forward " + tag, [&](Case& c) {
        FTensor y(std::vector<float>(N, 0), bf, 0);
        Exec ex = emu_exec(kRowsWorkspace);
        cuda::logsumexp_forward(ex, dt, y.p(), x.p(), N, C);
        y.buf.check_guards("lse");
        c("lse", lse_r, y.got(), T);
      });
      run("logsumexp_backward " + tag, [&](Case& c) {
        FTensor y(lse_r, bf, 0), dl(uniform(N, -1, 1), bf, 0), dx(uniform(n, -1, 1), bf, s.shift);
        std::vector<float> dx_r = dx.ref;
        cpu::logsumexp_backward(cpu, DType::f32, dx_r.data(), dl.r(), x.r(), y.r(), N, C);
        Exec ex = emu_exec(kRowsWorkspace);
        cuda::logsumexp_backward(ex, dt, dx.p(), dl.p(), x.p(), y.p(), N, C);
        dx.buf.check_guards("dx");
        c("dx", dx_r, dx.got(), T);
      });
    }
}

}  // namespace

void check_softmax() {
  for (bool bf : {false, true}) softmax(bf);
}
