// Emulator checks of the index family (index.cu: gather_rows / embedding_forward, scatter_add_rows /
// embedding_backward through the CUB shim, topk forward / backward) against the CPU twins, on the cases of
// tests/cases/index_cases.h: every rows case gathered (plain, accumulating, as embedding_forward; aligned and
// misaligned) and scattered (scatter_add_rows, embedding_backward; with a workspace that sorts all indices
// at once and one that sorts them in chunks), every top-k case forward and backward.
#include <algorithm>

#include "check_util.h"
#include "tests/cases/index_cases.h"

using namespace check;
using namespace weft;

namespace {

const char* name(bool bf) { return bf ? "bf16" : "f32"; }

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
    int64_t M, N, C;  // ids, rows, columns
  };
  std::vector<S> rows_cases;
  for (const cases::RowsCase& c : cases::kRowsCases)
    if (cases::runs_in(c.runners, cases::kEmu)) rows_cases.push_back({c.lead * c.ids, c.rows, c.C});
  for (S s : rows_cases)
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
  for (S s : rows_cases)
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
  for (const cases::TopkCase& t : cases::kTopkCases) {
    if (!cases::runs_in(t.runners, cases::kEmu)) continue;
    const struct {
      int64_t N, C, K;
      bool ties;
    } s{t.lead * t.N, t.C, t.K, t.ties};
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
}

}  // namespace

void check_index() {
  for (bool bf : {false, true}) index(bf);
}
