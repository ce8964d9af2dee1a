// The transformer's decode cache (Model::begin_decode / decode, used by `weft sample`): every layer keeps
// the keys (after RoPE) and values of each row's positions, so a new token costs one row through the
// layers and attention against the cached keys instead of the whole window. Positions are absolute:
// learned and sinusoidal tables are read at each row's offset, RoPE rotates q and k at their positions,
// ALiBi / Sandwich take i - j with i absolute, and a window hides keys at distance >= W (the attention kernel
// reads only the last W keys). The logits equal those of logits() on each row's whole sequence
// (tests/models/test_decode_cache.cpp).
#include <numeric>

#include "models/transformer/transformer.h"
#include "runtime/memory.h"
#include "runtime/ops/decode.h"

namespace weft::models {

namespace {

struct TransformerDecodeCache : DecodeCache {
  std::vector<OwnedTensor> k, v;  // [layer] (rows, max_len, NH, HS), compute dtype, model's device
};

}  // namespace

std::unique_ptr<DecodeCache> Transformer::begin_decode(ParamStore& store, Exec& ex, int64_t rows, int64_t max_len) {
  WEFT_CHECK(rows > 0 && max_len > 0, "[transformer] begin_decode needs rows > 0 and max_len > 0, got ", rows, ", ",
             max_len);
  WEFT_CHECK(max_len <= max_seq_len(), "[transformer] decode length ", max_len, " exceeds the ", max_seq_len(),
             " learned positions");
  prepare_positions(ex.device, store.dtype(), max_len);
  auto cache = std::make_unique<TransformerDecodeCache>();
  cache->max_len = max_len;
  cache->lengths.assign(static_cast<size_t>(rows), 0);
  const Shape shape{rows, max_len, cfg_.n_heads, cfg_.head_size()};
  for (size_t l = 0; l < layers_.size(); ++l) {
    cache->k.emplace_back(store.dtype(), shape, ex.device);
    cache->v.emplace_back(store.dtype(), shape, ex.device);
  }
  return cache;
}

Var Transformer::decode(Graph& g, ParamStore& store, DecodeCache& base, const Tensor& ids,
                        const std::vector<int64_t>& rows_in) {
  auto* cache = dynamic_cast<TransformerDecodeCache*>(&base);
  WEFT_CHECK(cache && cache->k.size() == layers_.size(), "[transformer] decode: the cache is not this model's");
  WEFT_CHECK(ids.shape.rank == 2 && ids.dtype == DType::i32, "[transformer] ids must be i32 (B, n), got ", ids.str());
  const int64_t B = ids.shape[0], n = ids.shape[1], R = static_cast<int64_t>(cache->lengths.size());
  std::vector<int64_t> rows = rows_in;
  if (rows.empty()) {
    rows.resize(static_cast<size_t>(B));
    std::iota(rows.begin(), rows.end(), int64_t(0));
  }
  WEFT_CHECK(static_cast<int64_t>(rows.size()) == B, "[transformer] decode: ", rows.size(), " rows for ", B, " items");
  std::vector<int64_t> offsets(rows.size());
  for (size_t b = 0; b < rows.size(); ++b) {
    WEFT_CHECK(0 <= rows[b] && rows[b] < R, "[transformer] decode: row ", rows[b], " outside the cache's ", R, " rows");
    offsets[b] = cache->lengths[rows[b]];
  }
  const ops::CacheSlots slots = ops::cache_slots(g, rows, offsets, n, R, cache->max_len);

  Var x = ops::embedding(g, g.constant(ids), g.param(store, tok_emb_));  // (B, n, C)
  if (cfg_.position == PositionScheme::learned || cfg_.position == PositionScheme::sinusoidal) {
    std::vector<int32_t> host(static_cast<size_t>(B * n));  // (B, n) absolute positions
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < n; ++t) host[b * n + t] = static_cast<int32_t>(offsets[b] + t);
    Tensor pos = g.alloc(DType::i32, {B, n});
    device_copy(g.device(), pos.data, Device::cpu, host.data(), host.size() * sizeof(int32_t));
    Var table = cfg_.position == PositionScheme::learned ? g.param(store, pos_emb_) : g.constant(sinusoid_.tensor());
    x = ops::add(g, x, ops::embedding(g, g.constant(pos), table));
  }
  const AttentionPositions pos = attention_positions();
  const int64_t NH = cfg_.n_heads, HS = cfg_.head_size(), A = NH * HS;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    Var qkv = linear(g, store, l.attn.qkv, norm(g, store, x, l.ln1));  // (B, n, 3A)
    std::vector<Var> parts = ops::split(g, qkv, {A, A, A}, -1);
    const Shape heads{B, n, NH, HS};
    Var q = ops::reshape(g, parts[0], heads), k = ops::reshape(g, parts[1], heads), v = ops::reshape(g, parts[2], heads);
    if (pos.rope_channels > 0) {
      q = ops::rope_at(g, q, pos.rope_channels, pos.rope_base, slots);
      k = ops::rope_at(g, k, pos.rope_channels, pos.rope_base, slots);
    }
    ops::cache_write(g, cache->k[i].tensor(), k, slots);
    ops::cache_write(g, cache->v[i].tensor(), v, slots);
    Var att = ops::decode_attention(g, q, cache->k[i].tensor(), cache->v[i].tensor(), slots, pos.bias);
    x = ops::add(g, x, linear(g, store, l.attn.proj, ops::reshape(g, att, {B, n, A})));
    x = ops::add(g, x, mlp(g, store, l.mlp, norm(g, store, x, l.ln2), activation()));
  }
  for (int64_t r : rows) cache->lengths[r] += n;
  x = norm(g, store, x, ln_f_);
  return ops::linear(g, x, g.param(store, cfg_.tie_embeddings ? tok_emb_ : lm_head_),
                     lm_head_b_ < 0 ? nullptr : g.param(store, lm_head_b_));  // (B, n, V)
}

}  // namespace weft::models
