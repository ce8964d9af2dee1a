// The decode-attention op (runtime/ops/decode.h) in f64 on the CPU against a naive reference (scores,
// bias, causal mask, window and softmax written out per query in long double) on the cases of
// tests/cases/decode_cases.h. Cache positions no item may read (past each row's length, and the rows
// outside the batch) hold NaN, so reading one fails the case. Plus the errors of the front-ends.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "models/common/positions.h"
#include "runtime/ops/decode.h"
#include "tests/cases/decode_cases.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {
namespace {

using cases::DecodeBias;
using cases::DecodeCase;

struct BiasTables {
  std::vector<float> slopes, table;
  PositionBias bias;
  BiasTables(const DecodeCase& c) {
    for (int64_t h = 0; h < c.NH; ++h) slopes.push_back(0.3f / float(h + 1));
    for (int64_t d = 0; d < c.L; ++d) table.push_back(-std::log1p(float(d)));
    bias.kind = c.bias == DecodeBias::none ? PositionBias::Kind::none
                : c.bias == DecodeBias::alibi ? PositionBias::Kind::alibi : PositionBias::Kind::table;
    bias.slopes = slopes.data();
    bias.table = table.data();
    bias.table_len = c.L;
    bias.window = c.window;
  }
};

TEST(DecodeAttention, F64MatchesNaiveReference) {
  for (const DecodeCase& c : cases::kDecodeCases) {
    if (!cases::runs_in(c.runners, cases::kGradcheck)) continue;
    SCOPED_TRACE(cases::describe(c));
    const std::vector<int64_t> rows = cases::decode_rows(c), lengths = cases::decode_lengths(c);
    std::vector<int64_t> offsets;
    for (int64_t len : lengths) offsets.push_back(len - c.n);
    const int64_t stride = c.NH * c.HS;
    OwnedTensor q = random_f64({c.B, c.n, c.NH, c.HS}, 11), k = random_f64({c.R, c.L, c.NH, c.HS}, 12),
                v = random_f64({c.R, c.L, c.NH, c.HS}, 13);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (int64_t r = 0; r < c.R; ++r) {  // NaN wherever no item may read
      int64_t valid = 0;
      for (int64_t b = 0; b < c.B; ++b)
        if (rows[b] == r) valid = lengths[b];
      for (int64_t i = valid * stride; i < c.L * stride; ++i) k.ptr<double>()[r * c.L * stride + i] = v.ptr<double>()[r * c.L * stride + i] = nan;
    }
    BiasTables bt(c);
    Exec ex = cpu_exec(2);
    Arena arena;
    Graph g(ex, arena);
    g.grad_enabled = false;
    const ops::CacheSlots slots = ops::cache_slots(g, rows, offsets, c.n, c.R, c.L);
    Var out = ops::decode_attention(g, g.constant(q), k, v, slots, bt.bias);
    const double* got = out->value.ptr<double>();
    const double scale = 1.0f / std::sqrt(static_cast<float>(c.HS));  // the front-end's float scale
    double worst = 0;
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t t = 0; t < c.n; ++t)
        for (int64_t h = 0; h < c.NH; ++h) {
          const int64_t p = lengths[b] - c.n + t, first = c.window > 0 ? std::max<int64_t>(0, p - c.window + 1) : 0;
          const double* qi = q.ptr<double>() + ((b * c.n + t) * c.NH + h) * c.HS;
          const int64_t kb = rows[b] * c.L * stride + h * c.HS;
          std::vector<long double> s;
          for (int64_t j = first; j <= p; ++j) {
            long double dot = 0;
            for (int64_t e = 0; e < c.HS; ++e) dot += (long double)qi[e] * k.ptr<double>()[kb + j * stride + e];
            const double bias = c.bias == DecodeBias::alibi   ? -bt.slopes[h] * float(p - j)
                                : c.bias == DecodeBias::table ? bt.slopes[h] * bt.table[p - j]
                                                              : 0.0;
            s.push_back(dot * scale + bias);
          }
          long double m = *std::max_element(s.begin(), s.end()), sum = 0;
          for (long double& x : s) sum += (x = std::exp(x - m));
          for (int64_t e = 0; e < c.HS; ++e) {
            long double o = 0;
            for (int64_t j = first; j <= p; ++j) o += s[j - first] / sum * v.ptr<double>()[kb + j * stride + e];
            worst = std::max(worst, std::fabs(got[((b * c.n + t) * c.NH + h) * c.HS + e] - static_cast<double>(o)));
          }
        }
    EXPECT_LT(worst, 1e-12);
  }
}

TEST(DecodeAttention, FrontEndErrorsNameTheOp) {
  Exec ex = cpu_exec(1);
  Arena arena;
  Graph g(ex, arena);
  OwnedTensor k(DType::f64, {2, 8, 1, 4}), v(DType::f64, {2, 8, 1, 4}), q = random_f64({1, 1, 1, 4}, 1);
  EXPECT_NE(error_of([&] { ops::cache_slots(g, {0}, {8}, 1, 2, 8); }).find("1 more exceed the cache length 8"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::cache_slots(g, {0, 0}, {1, 2}, 1, 2, 8); }).find("row 0 given twice"), std::string::npos);
  EXPECT_NE(error_of([&] { ops::cache_slots(g, {2}, {1}, 1, 2, 8); }).find("row 2 outside the cache's 2 rows"),
            std::string::npos);
  const ops::CacheSlots slots = ops::cache_slots(g, {1}, {3}, 1, 2, 8);
  EXPECT_NE(error_of([&] { ops::decode_attention(g, g.input(q, true), k, v, slots, {}); }).find("[decode_attention] is forward only"),
            std::string::npos);
  g.grad_enabled = false;
  OwnedTensor q2 = random_f64({1, 2, 1, 4}, 1);
  EXPECT_NE(error_of([&] { ops::decode_attention(g, g.constant(q2), k, v, slots, {}); }).find("(B, n, NH, HS) with B = 1 items and n = 1"),
            std::string::npos);
}

}  // namespace
}  // namespace weft::test
