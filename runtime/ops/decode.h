// Decode-time ops (sampling with a key/value cache): forward only, no backward is recorded, so they run
// with gradients disabled. A batch of B items, each extending one row of a cache (R, L, NH, HS) by n new
// positions: item b extends cache row rows[b], whose first new token sits at position offsets[b] (the
// row's length before the call). The cache itself is plain memory the caller owns (not arena memory);
// cache_write overwrites its rows in place.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/graph.h"
#include "runtime/math/position_bias.h"

namespace weft::ops {

struct CacheSlots {
  std::vector<int64_t> rows;     // (B) host: the cache row item b extends
  std::vector<int64_t> offsets;  // (B) host: that row's length before the call = position of the first new token
  int64_t n = 0;                 // new positions per item
  Tensor device;                 // (2, B) i32 on the graph's device: rows, then lengths after the call
};
// Checks rows (distinct, < R) and offsets + n <= L, and uploads the device table.
CacheSlots cache_slots(Graph& g, std::vector<int64_t> rows, std::vector<int64_t> offsets, int64_t n, int64_t R,
                       int64_t L);

// x (B, n, NH, HS) into cache (R, L, NH, HS): item b to row rows[b], positions offsets[b] .. offsets[b] + n - 1.
void cache_write(Graph& g, const Tensor& cache, Var x, const CacheSlots& slots);
// RoPE of x (B, n, NH, HS) with item b's tokens at positions offsets[b], offsets[b] + 1, ... (ops::rope).
Var rope_at(Graph& g, Var x, int64_t n_rot, float base, const CacheSlots& slots);
// q (B, n, NH, HS) against the cache rows (after cache_write of the new keys and values) -> (B, n, NH, HS):
// causal, query t of item b at position offsets[b] + t, bias and window as in ops::attention (bias.table
// must cover L distances). scale <= 0: 1 / sqrt(HS).
Var decode_attention(Graph& g, Var q, const Tensor& k_cache, const Tensor& v_cache, const CacheSlots& slots,
                     const PositionBias& bias, float scale = 0.0f);

}  // namespace weft::ops
