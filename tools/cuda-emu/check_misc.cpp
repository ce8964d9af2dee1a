// Emulator checks of optim.cu (adamw_update, sum_squares), reduce.cu (reduce_sum, broadcast_axis),
// layout.cu (permute_0213) and index.cu (gather_rows / embedding_forward, scatter_add_rows /
// embedding_backward through the CUB shim, topk forward / backward) against their CPU twins.
#include <algorithm>

#include "check_util.h"

using namespace check;
using namespace weft;

namespace {

std::vector<double> wsd(1 << 17);  // 1 MiB workspace

Exec emu_exec(size_t workspace_bytes) {
  Exec ex = cpu_exec(1);
  ex.device = Device::cuda;
  ex.workspace = workspace_bytes ? wsd.data() : nullptr;
  ex.workspace_bytes = std::min(workspace_bytes, wsd.size() * sizeof(double));
  return ex;
}
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

void reduce(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  struct S {
    int64_t outer, len, inner;
  };
  for (S s : {S{1, 1, 1}, S{3, 7, 1}, S{5, 100, 1}, S{9, 33, 1}, S{2, 4096, 1}, S{3, 5000, 1}, S{4, 37, 3},
              S{2, 300, 5}, S{1, 2000, 2}, S{3, 0, 4}, S{2, 64, 8}})
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
  for (S s : {S{3, 7, 1}, S{2, 5, 8}, S{2, 3, 16}, S{1, 4, 33}, S{2, 1, 4}, S{3, 2, 12}})
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

void layout(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  struct S {
    int64_t A, B, C, D;
  };
  for (S s : {S{2, 33, 40, 1}, S{1, 70, 3, 3}, S{2, 5, 7, 4}, S{1, 32, 64, 2}, S{2, 3, 5, 8}, S{1, 4, 6, 13},
              S{3, 1, 1, 5}, S{1, 1, 1, 1}, S{2, 9, 4, 16}})
    for (int acc = 0; acc < 2; ++acc)
      for (int shift : {0, 1})
        run(fmt("permute_0213 %s A%ld B%ld C%ld D%ld acc%d%s", name(bf), long(s.A), long(s.B), long(s.C), long(s.D),
                acc, shift ? " misaligned" : ""),
            [&](Case& c) {
              const int64_t n = s.A * s.B * s.C * s.D;
              FTensor in(uniform(n, -1, 1), bf, shift), out(uniform(n, -1, 1), bf, shift);
              std::vector<float> out_r = out.ref;
              cpu::permute_0213(cpu, DType::f32, out_r.data(), in.r(), s.A, s.B, s.C, s.D, acc);
              Exec ex = emu_exec(1 << 20);
              cuda::permute_0213(ex, dt, out.p(), in.p(), s.A, s.B, s.C, s.D, acc);
              out.buf.check_guards("out");
              c("out", out_r, out.got(), T);
            });
}

std::vector<int32_t> random_ids(int64_t M, int64_t N) {
  std::uniform_int_distribution<int32_t> d(0, int32_t(N - 1));
  std::vector<int32_t> v(M);
  for (auto& x : v) x = d(rng());
  if (M > 2) v[M - 1] = v[0];  // at least one duplicate
  return v;
}

void index(bool bf) {
  const Tol T = bf ? kBf16 : kF32;
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  struct S {
    int64_t M, N, C;
  };
  for (S s : {S{1, 1, 1}, S{5, 7, 3}, S{9, 4, 16}, S{3, 10, 40}, S{40, 6, 130}})
    for (int mode = 0; mode < 3; ++mode)  // 0: gather, 1: gather +=, 2: embedding_forward
      for (int shift : {0, 1})
        run(fmt("%s %s M%ld N%ld C%ld%s", mode == 2 ? "embedding_forward" : mode ? "gather_rows+=" : "gather_rows",
                name(bf), long(s.M), long(s.N), long(s.C), shift ? " misaligned" : ""),
            [&](Case& c) {
              FTensor x(uniform(s.N * s.C, -1, 1), bf, shift), out(uniform(s.M * s.C, -1, 1), bf, shift);
              std::vector<int32_t> ids = random_ids(s.M, s.N);
              Buf id(s.M, 4);
              std::memcpy(id.p(), ids.data(), s.M * 4);
              std::vector<float> out_r = out.ref;
              Exec ex = emu_exec(1 << 20);
              if (mode == 2) {
                cpu::embedding_forward(cpu, DType::f32, out_r.data(), ids.data(), x.r(), s.M, s.N, s.C);
                cuda::embedding_forward(ex, dt, out.p(), id.as<int32_t>(), x.p(), s.M, s.N, s.C);
              } else {
                cpu::gather_rows(cpu, DType::f32, out_r.data(), x.r(), ids.data(), s.M, s.N, s.C, mode == 1);
                cuda::gather_rows(ex, dt, out.p(), x.p(), id.as<int32_t>(), s.M, s.N, s.C, mode == 1);
              }
              out.buf.check_guards("out");
              c("out", out_r, out.got(), T);
            });
  for (S s : {S{1, 1, 1}, S{20, 5, 3}, S{50, 7, 130}, S{9, 300, 16}, S{33, 2, 1}})
    for (int mode = 0; mode < 2; ++mode)  // 1: embedding_backward
      for (size_t wsb : {size_t(1) << 20, size_t(2600)})
        run(fmt("%s %s M%ld N%ld C%ld ws%zu", mode ? "embedding_backward" : "scatter_add_rows", name(bf), long(s.M),
                long(s.N), long(s.C), wsb),
            [&](Case& c) {
              FTensor src(uniform(s.M * s.C, -1, 1), bf), dst(uniform(s.N * s.C, -1, 1), bf);
              std::vector<int32_t> ids = random_ids(s.M, s.N);
              Buf id(s.M, 4);
              std::memcpy(id.p(), ids.data(), s.M * 4);
              std::vector<float> dst_r = dst.ref;
              Exec ex = emu_exec(wsb);
              if (mode) {
                cpu::embedding_backward(cpu, DType::f32, dst_r.data(), src.r(), ids.data(), s.M, s.N, s.C);
                cuda::embedding_backward(ex, dt, dst.p(), src.p(), id.as<int32_t>(), s.M, s.N, s.C);
              } else {
                cpu::scatter_add_rows(cpu, DType::f32, dst_r.data(), src.r(), ids.data(), s.M, s.N, s.C);
                cuda::scatter_add_rows(ex, dt, dst.p(), src.p(), id.as<int32_t>(), s.M, s.N, s.C);
              }
              dst.buf.check_guards("dst");
              // A small workspace sorts the indices in chunks, each chunk adding into dst: bf16 dst is
              // rounded once per chunk, at the partial sum's magnitude (up to max|dst|).
              c("dst", dst_r, dst.got(), bf && wsb < 4096 ? Tol{2.0 / 256, 1.0 / 256} : T);
            });
  struct K {
    int64_t N, C, K;
    bool ties;
  };
  for (K s : {K{1, 1, 1, false}, K{3, 7, 3, false}, K{2, 40, 5, false}, K{5, 33, 33, true}, K{4, 100, 10, true},
              K{9, 64, 2, true}, K{2, 5, 5, false}})
    run(fmt("topk_forward+backward %s N%ld C%ld K%ld%s", name(bf), long(s.N), long(s.C), long(s.K),
            s.ties ? " ties" : ""),
        [&](Case& c) {
          std::vector<float> xv = uniform(s.N * s.C, -3, 3);
          if (s.ties)
            for (auto& v : xv) v = std::round(v);  // many equal values: lower index first
          FTensor x(xv, bf), vals(std::vector<float>(s.N * s.K, 0), bf);
          Buf idx(s.N * s.K, 4);
          std::vector<float> vals_r(s.N * s.K);
          std::vector<int32_t> idx_r(s.N * s.K);
          cpu::topk_forward(cpu, DType::f32, vals_r.data(), idx_r.data(), x.r(), s.N, s.C, s.K);
          Exec ex = emu_exec(1 << 20);
          cuda::topk_forward(ex, dt, vals.p(), idx.as<int32_t>(), x.p(), s.N, s.C, s.K);
          vals.buf.check_guards("values"), idx.check_guards("indices");
          c("values", vals_r, vals.got(), Tol{0, 0});
          c.exact("indices", idx_r, idx.as<int32_t>());
          FTensor dv(uniform(s.N * s.K, -1, 1), bf), dx(uniform(s.N * s.C, -1, 1), bf);
          std::vector<float> dx_r = dx.ref;
          cpu::topk_backward(cpu, DType::f32, dx_r.data(), dv.r(), idx_r.data(), s.N, s.C, s.K);
          Buf idx2(s.N * s.K, 4);
          std::memcpy(idx2.p(), idx_r.data(), s.N * s.K * 4);
          cuda::topk_backward(ex, dt, dx.p(), dv.p(), idx2.as<int32_t>(), s.N, s.C, s.K);
          dx.buf.check_guards("dx");
          c("dx", dx_r, dx.got(), T);
        });
}

}  // namespace

void check_misc() {
  for (bool bf : {false, true}) {
    optim(bf);
    reduce(bf);
    layout(bf);
    index(bf);
  }
}
