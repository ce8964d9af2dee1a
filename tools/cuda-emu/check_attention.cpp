// Emulator cases of attention_forward / attention_backward against the CPU twin (backend_cpu/attention.cpp),
// on the cases of tests/cases/attention_cases.h: the CUDA grid (the tile widths as head sizes), then the
// small cases and the odd head sizes (1 to 100), which the kernels zero-pad to a tile width.
// The wrappers pick the kernel by dtype: f32 runs the FMA kernels (attention_forward.cu,
// attention_backward.cu), bf16 the tensor-core ones (attention_tc_*.cu, WMMA emulated by wmma_emu.h).
// Attention is slow to emulate (256 fibers per block, every lane multiplies whole WMMA tiles), so the
// default run takes a subset of the grid that still reaches every head size, length, mask, bias and null
// gradient, plus every padded case, the memory cases (more keys than queries, the causal offset) and the
// window cases (bias.window: key tiles and query tiles skipped outside the window);
// EMU_FULL=1 runs the parity test's whole grid.
#include <cstdlib>

#include "check_util.h"
#include "runtime/backend_cuda/cudnn_ops.h"
#include "tests/cases/attention_cases.h"

using namespace check;
using namespace weft;

namespace {

using Kind = PositionBias::Kind;

const char* kind_name(Kind k) { return k == Kind::none ? "none" : k == Kind::alibi ? "alibi" : "table"; }

// A case in one dtype.
struct AttnCase {
  bool bf;
  int64_t B, NH, HS, T;
  bool causal;
  Kind kind;
  int grads;  // bit 0: dq, bit 1: dk, bit 2: dv (the others are null)
  int64_t mem = 0;  // keys before the queries: Tk = T + mem
  int64_t window = 0;  // bias.window (0: none)
};

// The parity test's attention_tolerance, |err| <= atol + rtol |ref|, with atol as a fraction of max|ref|.
// f32: summation orders differ (BLAS blocks vs 64-wide tiles); bf16: the kernels round P and dS to bf16
// before the tensor-core products and store bf16 outputs (see the test's comment).
Tol parity_tol(const std::vector<float>& ref, bool bf) {
  double mx = 1e-30;
  for (float x : ref) mx = std::max(mx, double(std::fabs(x)));
  return bf ? Tol{5e-2 / mx, 3e-2} : Tol{2e-5 / mx, 2e-4};
}
// lse: scores come from the same (bf16-exact) inputs with float sums on both sides, in both dtypes.
constexpr Tol kLse{1e-6, 1e-5};

void attention_case(const AttnCase& c) {
  const char* names[3] = {"dq", "dk", "dv"};
  std::string grads;
  for (int g = 0; g < 3; ++g)
    if (c.grads >> g & 1) grads += std::string(" ") + names[g];
  std::string bnh = c.B == 2 && c.NH == 3 ? "" : fmt(" B%ld NH%ld", long(c.B), long(c.NH));
  if (c.mem) bnh += fmt(" mem%ld", long(c.mem));
  if (c.window) bnh += fmt(" window%ld", long(c.window));
  run(fmt("attention %s HS%ld T%ld %s %s%s%s", c.bf ? "bf16" : "f32", long(c.HS), long(c.T),
          c.causal ? "causal" : "full", kind_name(c.kind), grads.c_str(), bnh.c_str()),
      [&](Case& cs) {
        const int64_t B = c.B, NH = c.NH, T = c.T, Tk = c.T + c.mem, HS = c.HS, n = B * T * NH * HS,
                      nk = B * Tk * NH * HS;
        const int shift = int(T % 2);  // odd lengths: every tensor one element off 16-byte alignment
        std::vector<float> slopes, table;  // the parity test's biases
        for (int64_t h = 0; h < NH; ++h) slopes.push_back(std::pow(2.0f, -float(h + 1)));
        for (int64_t d = 0; d < Tk + 3; ++d) table.push_back(-std::log1p(float(d)) * 2.0f);
        PositionBias bias;
        bias.kind = c.kind;
        bias.window = c.window;
        if (c.kind != Kind::none) {
          bias.slopes = slopes.data();
          bias.table = table.data();
          bias.table_len = Tk + 3;
        }
        FTensor q(uniform(n, -1.5, 1.5), c.bf, shift), k(uniform(nk, -1.5, 1.5), c.bf, shift),
            v(uniform(nk, -1.5, 1.5), c.bf, shift), dout(uniform(n, -1, 1), c.bf, shift);
        // Gradients accumulate (+=): prefilled with random values.
        FTensor dq(uniform(n, -1, 1), c.bf, shift), dk(uniform(nk, -1, 1), c.bf, shift),
            dv(uniform(nk, -1, 1), c.bf, shift);
        FTensor out(std::vector<float>(n, 0.0f), c.bf, shift), lse(std::vector<float>(B * NH * T, -7.0f), false);
        const float scale = 1.0f / std::sqrt(float(HS));
        Exec host = cpu_exec(1);
        std::vector<float> out_r(n), lse_r(B * NH * T), dq_r = dq.ref, dk_r = dk.ref, dv_r = dv.ref;
        cpu::attention_forward(host, DType::f32, out_r.data(), lse_r.data(), q.r(), k.r(), v.r(), B, T, Tk, NH,
                               HS, scale, bias, c.causal);
        Exec ex = cpu_exec(1);
        ex.device = Device::cuda;
        const DType dt = c.bf ? DType::bf16 : DType::f32;
        cuda::attention_forward(ex, dt, out.p(), lse.p(), q.p(), k.p(), v.p(), B, T, Tk, NH, HS, scale, bias,
                                c.causal);
        out.buf.check_guards("out");
        lse.buf.check_guards("lse");
        cs("out", out_r, out.got(), parity_tol(out_r, c.bf));
        cs("lse", lse_r, lse.got(), kLse);
        // Each backend differentiates with its own forward results (as in a graph).
        auto pick = [&](int g, void* p) { return (c.grads >> g & 1) ? p : nullptr; };
        cpu::attention_backward(host, DType::f32, pick(0, dq_r.data()), pick(1, dk_r.data()), pick(2, dv_r.data()),
                                dout.r(), out_r.data(), lse_r.data(), q.r(), k.r(), v.r(), B, T, Tk, NH, HS, scale,
                                bias, c.causal);
        cuda::attention_backward(ex, dt, pick(0, dq.p()), pick(1, dk.p()), pick(2, dv.p()), dout.p(), out.p(),
                                 lse.p(), q.p(), k.p(), v.p(), B, T, Tk, NH, HS, scale, bias, c.causal);
        FTensor* g_got[3] = {&dq, &dk, &dv};
        std::vector<float>* g_ref[3] = {&dq_r, &dk_r, &dv_r};
        for (int g = 0; g < 3; ++g) {
          g_got[g]->buf.check_guards(names[g]);
          // A null gradient's buffer stays untouched (its ref is the prefill).
          cs(names[g], *g_ref[g], g_got[g]->got(), parity_tol(*g_ref[g], c.bf));
        }
      });
}

// Default subset: every (dtype, head size) at T 17 and 130 (one partial tile; three tiles, the last
// partial) with causal / full and one bias each, T 1 and T 70 once per dtype, and the null-gradient
// subsets at the parity test's T 70, HS 64, ALiBi.
bool in_default(const AttnCase& c) {
  if (c.grads != 7) return c.HS == 64 && c.T == 70 && c.kind == Kind::alibi && (c.grads & (c.grads - 1)) == 0;
  if (c.T == 1) return c.HS == 96 && c.kind == Kind::alibi;
  if (c.T == 70) return c.HS == 64 && c.kind == Kind::table;
  const int k = (c.HS / 32 + c.T + c.causal) % 3;  // rotate the bias kinds over the grid
  return int(c.kind) == k;
}

AttnCase of(const cases::AttentionCase& t, bool bf) {
  return {bf, t.B, t.NH, t.HS, t.T, t.causal, static_cast<Kind>(t.bias), t.grads, t.mem, t.window};
}

void check_attention_cases(bool full) {
  for (bool bf : {false, true})
    for (const cases::AttentionCase& t : cases::kAttentionGridCases)
      if (cases::runs_in(t.runners, cases::kEmu) && (full || in_default(of(t, bf)))) attention_case(of(t, bf));
  // Padded head sizes: every case, in both dtypes (f32 tiles and tensor cores pad alike but separately).
  for (bool bf : {false, true}) {
    for (const cases::AttentionCase& t : cases::kAttentionSmallCases)
      if (cases::runs_in(t.runners, cases::kEmu)) attention_case(of(t, bf));
    for (const cases::AttentionCase& t : cases::kAttentionOddHeadCases)
      if (cases::runs_in(t.runners, cases::kEmu)) attention_case(of(t, bf));
  }
  // More keys than queries (the causal offset): every case in f32; in bf16 the default run takes those of
  // T <= 70 with all gradients (the tensor-core emulation is the slow part), EMU_FULL=1 all of them.
  for (bool bf : {false, true})
    for (const cases::AttentionCase& t : cases::kAttentionMemoryCases)
      if (cases::runs_in(t.runners, cases::kEmu) && (!bf || full || (t.T <= 70 && t.grads == 7)))
        attention_case(of(t, bf));
  // Windows: every case in both dtypes (the tile skipping is the same code in the f32 and tensor-core kernels,
  // but each has its own loops).
  for (bool bf : {false, true})
    for (const cases::AttentionCase& t : cases::kAttentionWindowCases)
      if (cases::runs_in(t.runners, cases::kEmu)) attention_case(of(t, bf));
}

// The bias input of cuDNN's attention (attention_bias.cu): (NH, Tq, Tk) bf16 = bias(h, i + Tk - Tq, j), exactly
// the CPU's PositionBias rounded once to bf16, for ALiBi and the table, with and without memory.
void bias_case(Kind kind, int64_t NH, int64_t Tq, int64_t Tk) {
  run(fmt("attention_bias %s NH%ld Tq%ld Tk%ld", kind_name(kind), long(NH), long(Tq), long(Tk)), [&](Case& cs) {
    std::vector<float> slopes, table;
    for (int64_t h = 0; h < NH; ++h) slopes.push_back(std::pow(2.0f, -float(h + 1) / 3.0f));
    for (int64_t d = 0; d < Tk + 3; ++d) table.push_back(-std::log1p(float(d)) * 2.0f);
    PositionBias bias;
    bias.kind = kind;
    bias.slopes = slopes.data();
    bias.table = table.data();
    bias.table_len = Tk + 3;
    const int64_t n = NH * Tq * Tk;
    std::vector<float> ref(n);
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t j = 0; j < Tk; ++j) ref[(h * Tq + i) * Tk + j] = round_bf16(bias(h, i + Tk - Tq, j));
    FTensor out(std::vector<float>(n, 0.0f), true, int(Tk % 2));
    Exec ex = cpu_exec(1);
    ex.device = Device::cuda;
    cuda::fill_attention_bias(ex, out.p(), bias, NH, Tq, Tk);
    out.buf.check_guards("bias");
    cs("bias", ref, out.got(), Tol{0.0, 0.0});
  });
}

}  // namespace

void check_attention() {
  const char* full = std::getenv("EMU_FULL");
  for (Kind kind : {Kind::alibi, Kind::table}) {
    bias_case(kind, 3, 70, 70);
    bias_case(kind, 12, 17, 83);  // memory: query i at key position i + 66
  }
  check_attention_cases(full && *full && *full != '0');
}
