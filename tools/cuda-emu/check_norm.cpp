// Emulator checks of the row kernels (norm.cu, softmax.cu, xent.cu over rows.cuh, and the column
// reduction of bcast_reduce.cuh) against their CPU twins, f32 and bf16, on awkward sizes: one element,
// odd lengths, warp teams (C <= 1024) and block teams (C > 1024), vector and scalar packs (misaligned).
#include "check_util.h"

using namespace check;
using namespace weft;

namespace {

struct Shape {
  int64_t N, C;
  int shift;  // elements off 16-byte alignment (forces the scalar path)
};
const Shape kShapes[] = {{1, 1, 0},   {3, 7, 0},    {5, 32, 0},   {9, 40, 0},  {9, 40, 1},  {100, 7, 0},
                         {17, 1000, 0}, {3, 1024, 0}, {2, 1025, 0}, {3, 2056, 0}, {3, 2056, 1}, {70, 33, 0},
                         {2, 4099, 0}};

std::vector<float> ws(1 << 20);  // workspace (f32 partials of bcast_reduce)

Exec emu_exec(bool workspace) {
  Exec ex = cpu_exec(1);
  ex.device = Device::cuda;
  ex.workspace = workspace ? ws.data() : nullptr;
  ex.workspace_bytes = workspace ? ws.size() * sizeof(float) : 0;
  return ex;
}

void norms(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const Shape& s : kShapes)
    for (int mode = 0; mode < 4; ++mode) {  // bit 0: weight, bit 1: bias
      const int64_t N = s.N, C = s.C, n = N * C;
      const bool hw = mode & 1, hb = mode & 2;
      const std::string tag = fmt("%s N%ld C%ld%s %s%s", bf ? "bf16" : "f32", long(N), long(C),
                                  s.shift ? " misaligned" : "", hw ? "w" : "-", hb ? "b" : "-");
      FTensor x(uniform(n, -2, 3), bf, s.shift), w(uniform(hw ? C : 0, 0.5, 1.5), bf, s.shift),
          b(uniform(hb ? C : 0, -1, 1), bf, s.shift), dout(uniform(n, -1, 1), bf, s.shift);
      // ---- layernorm forward
      std::vector<float> mean_r(N), rstd_r(N), out_r(n);
      cpu::layernorm_forward(cpu, DType::f32, out_r.data(), mean_r.data(), rstd_r.data(), x.r(), w.r(), b.r(), N, C,
                             1e-5f);
      run("layernorm_forward " + tag, [&](Case& c) {
        FTensor out(std::vector<float>(n, 0), bf, s.shift), mean(std::vector<float>(N, 0), false),
            rstd(std::vector<float>(N, 0), false);
        Exec ex = emu_exec(true);
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
              Exec ex = emu_exec(with_ws);
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
        Exec ex = emu_exec(true);
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
          Exec ex = emu_exec(with_ws);
          cuda::rmsnorm_backward(ex, dt, dx.p(), dw.p(), dout.p(), x.p(), w.p(), rrstd_r.data(), N, C);
          dx.buf.check_guards("dx"), dw.buf.check_guards("dweight");
          c("dx", dx_r, dx.got(), T);
          c("dweight", dw_r, dw.got(), T);
        });
      }
    }
}

void softmax(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const Shape& s : kShapes)
    for (int kind = 0; kind < 2; ++kind) {  // 1: large logits and -inf entries (masked positions)
      const int64_t N = s.N, C = s.C, n = N * C;
      std::vector<float> xv = uniform(n, kind ? -40 : -3, kind ? 40 : 3);
      if (kind)
        for (int64_t i = 0; i < n; ++i)
          if (i % C != 0 && i % 3 == 1) xv[i] = -INFINITY;  // never a whole row
      const std::string tag = fmt("%s N%ld C%ld%s%s", bf ? "bf16" : "f32", long(N), long(C),
                                  s.shift ? " misaligned" : "", kind ? " masked" : "");
      FTensor x(xv, bf, s.shift), dy(uniform(n, -1, 1), bf, s.shift);
      std::vector<float> y_r(n);
      cpu::softmax_forward(cpu, DType::f32, y_r.data(), x.r(), N, C);
      run("softmax_forward " + tag, [&](Case& c) {
        FTensor y(std::vector<float>(n, 0), bf, s.shift);
        Exec ex = emu_exec(true);
        cuda::softmax_forward(ex, dt, y.p(), x.p(), N, C);
        y.buf.check_guards("y");
        c("y", y_r, y.got(), T);
      });
      run("softmax_backward " + tag, [&](Case& c) {
        FTensor y(y_r, bf, s.shift), dx(uniform(n, -1, 1), bf, s.shift);
        std::vector<float> dx_r = dx.ref;
        cpu::softmax_backward(cpu, DType::f32, dx_r.data(), dy.r(), y.r(), N, C);
        Exec ex = emu_exec(true);
        cuda::softmax_backward(ex, dt, dx.p(), dy.p(), y.p(), N, C);
        dx.buf.check_guards("dx");
        c("dx", dx_r, dx.got(), T);
      });
    }
}

void xent(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const Shape& s : kShapes)
    for (int32_t ignore : {-100, 0}) {
      const int64_t N = s.N, V = s.C, n = N * V;
      const std::string tag = fmt("%s N%ld V%ld%s ignore%d", bf ? "bf16" : "f32", long(N), long(V),
                                  s.shift ? " misaligned" : "", ignore);
      FTensor logits(uniform(n, -4, 6), bf, s.shift);
      std::vector<int32_t> tg(N);
      std::uniform_int_distribution<int32_t> d(0, int32_t(V - 1));
      for (int64_t r = 0; r < N; ++r) tg[r] = r % 4 == 2 ? ignore : r % 5 == 3 ? int32_t(V - 1) : d(rng());
      std::vector<float> loss_r(N), lse_r(N);
      cpu::xent_forward(cpu, DType::f32, loss_r.data(), lse_r.data(), logits.r(), tg.data(), N, V, ignore);
      run("xent_forward " + tag, [&](Case& c) {
        FTensor loss(std::vector<float>(N, 7), false), lse(std::vector<float>(N, 7), false);
        Buf t(N, 4);
        std::memcpy(t.p(), tg.data(), N * 4);
        Exec ex = emu_exec(true);
        cuda::xent_forward(ex, dt, loss.p(), lse.p(), logits.p(), t.as<int32_t>(), N, V, ignore);
        loss.buf.check_guards("losses"), lse.buf.check_guards("lse");
        c("losses", loss_r, loss.got(), kF32);
        c("lse", lse_r, lse.got(), kF32);
      });
      run("xent_backward " + tag, [&](Case& c) {
        FTensor dl(uniform(n, -1, 1), bf, s.shift);
        std::vector<float> dl_r = dl.ref, dloss = {0.7f};
        const float inv = 1.0f / float(N);
        cpu::xent_backward(cpu, DType::f32, dl_r.data(), dloss.data(), logits.r(), lse_r.data(), tg.data(), N, V,
                           ignore, inv);
        Buf t(N, 4);
        std::memcpy(t.p(), tg.data(), N * 4);
        Exec ex = emu_exec(true);
        cuda::xent_backward(ex, dt, dl.p(), dloss.data(), logits.p(), lse_r.data(), t.as<int32_t>(), N, V, ignore,
                            inv);
        dl.buf.check_guards("dlogits");
        c("dlogits", dl_r, dl.got(), T);
      });
    }
}

}  // namespace

void check_rows() {
  for (bool bf : {false, true}) {
    norms(bf);
    softmax(bf);
    xent(bf);
  }
}
