// CPU-vs-CUDA parity of the decode-attention kernel (runtime/kernel_decls.inc decode_attention_forward) on
// the cases of tests/cases/decode_cases.h: CUDA f32 and bf16 against the CPU f32 twin on the same (for bf16,
// bf16-rounded) inputs. Cache positions no item may read hold NaN. SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/kernels.h"
#include "tests/cases/decode_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

using cases::DecodeCase;

class ParityDecode : public GpuKernelTest {};

// v rounded to bf16 (as float), or unchanged for f32.
std::vector<float> stored_as(DType dt, std::vector<float> v) {
  if (dt == DType::bf16)
    for (float& x : v) x = bf16::from_float(x).to_float();
  return v;
}
// Device copy of float values in dt.
template <class Upload>
void* upload_as(DType dt, const std::vector<float>& v, Upload&& upload) {
  if (dt == DType::f32) return upload(v);
  std::vector<bf16> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = bf16::from_float(v[i]);
  return upload(b);
}

TEST_F(ParityDecode, EveryCaseF32AndBf16) {
  for (DType dt : {DType::f32, DType::bf16})
    for (const DecodeCase& c : cases::kDecodeCases) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c));
      const std::vector<int64_t> rows = cases::decode_rows(c), lengths = cases::decode_lengths(c);
      const int64_t stride = c.NH * c.HS, nq = c.B * c.n * stride, nc = c.R * c.L * stride;
      std::vector<float> q = stored_as(dt, values(nq, 31)), k = stored_as(dt, values(nc, 32)),
                         v = stored_as(dt, values(nc, 33));
      for (int64_t r = 0; r < c.R; ++r) {  // NaN wherever no item may read
        int64_t valid = 0;
        for (int64_t b = 0; b < c.B; ++b)
          if (rows[b] == r) valid = lengths[b];
        for (int64_t i = (r * c.L + valid) * stride; i < (r + 1) * c.L * stride; ++i)
          k[i] = v[i] = std::numeric_limits<float>::quiet_NaN();
      }
      std::vector<int32_t> table;
      for (int64_t r : rows) table.push_back(static_cast<int32_t>(r));
      for (int64_t len : lengths) table.push_back(static_cast<int32_t>(len));
      std::vector<float> slopes, bias_table;
      for (int64_t h = 0; h < c.NH; ++h) slopes.push_back(0.3f / float(h + 1));
      for (int64_t d = 0; d < c.L; ++d) bias_table.push_back(-std::log1p(float(d)));
      PositionBias bias;
      bias.kind = c.bias == cases::DecodeBias::none    ? PositionBias::Kind::none
                  : c.bias == cases::DecodeBias::alibi ? PositionBias::Kind::alibi
                                                       : PositionBias::Kind::table;
      bias.table_len = c.L;
      bias.window = c.window;
      const float scale = 1.0f / std::sqrt(float(c.HS));
      std::vector<float> want(nq);
      PositionBias host_bias = bias;
      host_bias.slopes = slopes.data();
      host_bias.table = bias_table.data();
      cpu::decode_attention_forward(cpu_, DType::f32, want.data(), q.data(), k.data(), v.data(), table.data(),
                                    table.data() + c.B, c.B, c.n, c.L, c.NH, c.HS, scale, host_bias);
      auto up = [this](const auto& x) { return static_cast<void*>(upload(x)); };
      void* dq = upload_as(dt, q, up);
      void* dk = upload_as(dt, k, up);
      void* dv = upload_as(dt, v, up);
      void* dout = upload_as(dt, std::vector<float>(nq, 0.0f), up);
      const int32_t* dtable = upload(table);
      PositionBias dev_bias = bias;
      dev_bias.slopes = upload(slopes);
      dev_bias.table = upload(bias_table);
      cuda::decode_attention_forward(gpu_, dt, dout, dq, dk, dv, dtable, dtable + c.B, c.B, c.n, c.L, c.NH, c.HS,
                                     scale, dev_bias);
      std::vector<float> got(nq);
      if (dt == DType::f32) {
        got = download(static_cast<const float*>(dout), nq);
      } else {
        std::vector<bf16> b = download(static_cast<const bf16*>(dout), nq);
        for (int64_t i = 0; i < nq; ++i) got[i] = b[i].to_float();
      }
      // bf16: the same rounded inputs on both sides, the output rounded once (2^-9 relative).
      if (dt == DType::f32) expect_all_near(got, want, 2e-5, 1e-4, "out");
      else expect_all_near(got, want, 1e-3, 1.0 / 128, "out");
    }
}

}  // namespace
}  // namespace weft::test
