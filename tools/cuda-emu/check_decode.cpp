// Emulator checks of the decode-attention kernel (decode_attention.cu) against the CPU twin
// (backend_cpu/decode_attention.cpp), f32 and bf16, on the cases of tests/cases/decode_cases.h. Cache
// positions no item may read (past each row's length, rows outside the batch) hold NaN.
#include <cstring>

#include "check_util.h"
#include "tests/cases/decode_cases.h"

using namespace check;
using namespace weft;

void check_decode() {
  for (bool bf : {false, true})
    for (const cases::DecodeCase& c : cases::kDecodeCases) {
      if (!cases::runs_in(c.runners, cases::kEmu)) continue;
      run(fmt("decode_attention %s ", bf ? "bf16" : "f32") + cases::describe(c), [&](Case& cs) {
        const std::vector<int64_t> rows = cases::decode_rows(c), lengths = cases::decode_lengths(c);
        const int64_t stride = c.NH * c.HS, nq = c.B * c.n * stride, nc = c.R * c.L * stride;
        std::vector<float> kv[2] = {uniform(nc, -1, 1), uniform(nc, -1, 1)};
        for (int64_t r = 0; r < c.R; ++r) {
          int64_t valid = 0;
          for (int64_t b = 0; b < c.B; ++b)
            if (rows[b] == r) valid = lengths[b];
          for (auto& x : kv)
            std::fill(x.begin() + (r * c.L + valid) * stride, x.begin() + (r + 1) * c.L * stride, NAN);
        }
        FTensor q(uniform(nq, -1, 1), bf), k(kv[0], bf), v(kv[1], bf), out(std::vector<float>(nq, 0.0f), bf);
        std::vector<int32_t> table;
        for (int64_t r : rows) table.push_back(int32_t(r));
        for (int64_t len : lengths) table.push_back(int32_t(len));
        Buf tb(table.size(), 4);
        std::memcpy(tb.p(), table.data(), table.size() * 4);
        std::vector<float> slopes, bias_table;
        for (int64_t h = 0; h < c.NH; ++h) slopes.push_back(0.3f / float(h + 1));
        for (int64_t d = 0; d < c.L; ++d) bias_table.push_back(-std::log1p(float(d)));
        PositionBias bias;
        bias.kind = c.bias == cases::DecodeBias::none    ? PositionBias::Kind::none
                    : c.bias == cases::DecodeBias::alibi ? PositionBias::Kind::alibi
                                                         : PositionBias::Kind::table;
        bias.slopes = slopes.data();
        bias.table = bias_table.data();
        bias.table_len = c.L;
        bias.window = c.window;
        const float scale = 1.0f / std::sqrt(float(c.HS));
        Exec host = cpu_exec(1), ex = emu_exec(0);
        std::vector<float> out_r(nq);
        cpu::decode_attention_forward(host, DType::f32, out_r.data(), q.r(), k.r(), v.r(), table.data(),
                                      table.data() + c.B, c.B, c.n, c.L, c.NH, c.HS, scale, bias);
        cuda::decode_attention_forward(ex, bf ? DType::bf16 : DType::f32, out.p(), q.p(), k.p(), v.p(),
                                       tb.as<int32_t>(), tb.as<int32_t>() + c.B, c.B, c.n, c.L, c.NH, c.HS, scale,
                                       bias);
        out.buf.check_guards("out");
        cs("out", out_r, out.got(), bf ? kBf16 : kF32);
      });
    }
}
