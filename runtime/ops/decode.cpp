// Decode-time ops (runtime/ops/decode.h): the cache slots table, writing new keys / values into cache rows,
// RoPE at per-item offsets, and attention of new queries against cache rows. Forward only: each op refuses
// inputs that require a gradient.
#include "runtime/ops/decode.h"

#include <algorithm>
#include <cmath>

#include "runtime/kernels.h"
#include "runtime/memory.h"

namespace weft::ops {

namespace {
void check_no_grad(Graph& g, const char* op, Var x) {
  WEFT_CHECK(!g.needs_grad({x}), "[", op, "] is forward only (disable gradients, Graph::grad_enabled = false)");
}
void check_heads(const char* op, const Tensor& x, const CacheSlots& s) {
  WEFT_CHECK(x.shape.rank == 4 && x.shape[0] == static_cast<int64_t>(s.rows.size()) && x.shape[1] == s.n, "[", op,
             "] x must be (B, n, NH, HS) with B = ", s.rows.size(), " items and n = ", s.n, ", got ", x.shape.str());
}
void check_cache(const char* op, const Tensor& x, const Tensor& cache) {
  WEFT_CHECK(cache.shape.rank == 4 && cache.shape[2] == x.shape[2] && cache.shape[3] == x.shape[3], "[", op,
             "] the cache must be (R, L, NH, HS) with the heads of ", x.shape.str(), ", got ", cache.shape.str());
  check_same_device_dtype(op, x, cache);
}
}  // namespace

CacheSlots cache_slots(Graph& g, std::vector<int64_t> rows, std::vector<int64_t> offsets, int64_t n, int64_t R,
                       int64_t L) {
  const int64_t B = static_cast<int64_t>(rows.size());
  WEFT_CHECK(B > 0 && offsets.size() == rows.size() && n > 0, "[cache_slots] need B > 0 rows with one offset each and n > 0, got ",
             rows.size(), " rows, ", offsets.size(), " offsets, n = ", n);
  std::vector<int32_t> table(2 * B);
  for (int64_t b = 0; b < B; ++b) {
    WEFT_CHECK(0 <= rows[b] && rows[b] < R, "[cache_slots] row ", rows[b], " outside the cache's ", R, " rows");
    WEFT_CHECK(std::count(rows.begin(), rows.end(), rows[b]) == 1, "[cache_slots] row ", rows[b], " given twice");
    WEFT_CHECK(0 <= offsets[b] && offsets[b] + n <= L, "[cache_slots] row ", rows[b], " holds ", offsets[b],
               " positions; ", n, " more exceed the cache length ", L);
    table[b] = static_cast<int32_t>(rows[b]);
    table[B + b] = static_cast<int32_t>(offsets[b] + n);
  }
  CacheSlots s{std::move(rows), std::move(offsets), n, g.alloc(DType::i32, {2, B})};
  device_copy(g.device(), s.device.data, Device::cpu, table.data(), table.size() * sizeof(int32_t));
  return s;
}

void cache_write(Graph& g, const Tensor& cache, Var x, const CacheSlots& slots) {
  const Tensor& X = x->value;
  check_heads("cache_write", X, slots);
  check_cache("cache_write", X, cache);
  const int64_t L = cache.shape[1], row = X.shape[2] * X.shape[3], n = slots.n;
  const size_t es = dtype_size(X.dtype);
  Exec& ex = g.exec();
  for (size_t b = 0; b < slots.rows.size(); ++b) {  // item b's n positions are contiguous in both
    void* dst = static_cast<char*>(cache.data) + (slots.rows[b] * L + slots.offsets[b]) * row * es;
    const void* src = static_cast<const char*>(X.data) + static_cast<int64_t>(b) * n * row * es;
    WEFT_LAUNCH(ex, copy2d, ex, X.dtype, dst, n * row, src, n * row, 1, n * row, false);
  }
}

Var rope_at(Graph& g, Var x, int64_t n_rot, float base, const CacheSlots& slots) {
  const Tensor& X = x->value;
  check_no_grad(g, "rope_at", x);
  check_heads("rope_at", X, slots);
  const int64_t n = X.shape[1], NH = X.shape[2], HS = X.shape[3];
  WEFT_CHECK(n_rot >= 0 && n_rot <= HS && n_rot % 2 == 0, "[rope_at] rotated channels n_rot = ", n_rot,
             " must be even and <= head size ", HS);
  Var out = g.output(g.alloc(X.dtype, X.shape), false);
  Exec& ex = g.exec();
  const size_t item = static_cast<size_t>(n * NH * HS) * dtype_size(X.dtype);
  for (size_t b = 0; b < slots.rows.size(); ++b)
    WEFT_LAUNCH(ex, rope_forward, ex, X.dtype, static_cast<char*>(out->value.data) + b * item,
                static_cast<const char*>(X.data) + b * item, 1, n, NH, HS, n_rot, base, slots.offsets[b]);
  return out;
}

Var decode_attention(Graph& g, Var q, const Tensor& k_cache, const Tensor& v_cache, const CacheSlots& slots,
                     const PositionBias& bias, float scale) {
  const Tensor& Q = q->value;
  check_no_grad(g, "decode_attention", q);
  check_heads("decode_attention", Q, slots);
  check_cache("decode_attention", Q, k_cache);
  check_same_shape("decode_attention", k_cache, v_cache);
  check_same_device_dtype("decode_attention", k_cache, v_cache);
  const int64_t B = Q.shape[0], n = Q.shape[1], NH = Q.shape[2], HS = Q.shape[3], L = k_cache.shape[1];
  if (bias.kind != PositionBias::Kind::none)
    WEFT_CHECK(bias.slopes, "[decode_attention] the positional bias has no per-head slopes");
  WEFT_CHECK(bias.window >= 0, "[decode_attention] the window must be >= 0 (0: none), got ", bias.window);
  if (bias.kind == PositionBias::Kind::table)
    WEFT_CHECK(bias.table && bias.table_len >= L, "[decode_attention] the bias table covers ", bias.table_len,
               " distances but the cache has ", L, " positions");
  if (scale <= 0.0f) scale = 1.0f / std::sqrt(static_cast<float>(HS));
  Var out = g.output(g.alloc(Q.dtype, Q.shape), false);
  const int32_t* table = slots.device.ptr<int32_t>();
  Exec& ex = g.exec();
  WEFT_LAUNCH(ex, decode_attention_forward, ex, Q.dtype, out->value.data, Q.data, k_cache.data, v_cache.data, table,
              table + B, B, n, L, NH, HS, scale, bias);
  return out;
}

}  // namespace weft::ops
