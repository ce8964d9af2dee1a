// The checksums of weft's files, one header for shards and checkpoints. Not cryptographic: they detect
// truncation, flipped bytes and misplaced blocks, not tampering. Both are frozen by the formats that store them,
// so files written before keep verifying (golden values pinned in tests/data/test_shard.cpp):
// - tok64 / Tok64 (token shards, docs/data-format.md): four independent 64-bit lanes over 32-byte blocks (a
//   multiply-rotate-multiply round per 8-byte word, a bijection of the lane for any fixed word, so one changed
//   block always changes its lane), a tail of 8-byte words and one zero-padded partial word, the length, and a
//   final avalanche. Streaming and one-shot forms give the same value. New formats should use this one.
// - checksum64 (checkpoint manifest format 1, docs/checkpoint-format.md): two lanes of h = rotl((h ^ w) * K, 29)
//   over 8-byte little-endian words; the last partial word and the length are folded in at the end.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace weft {

class Tok64 {
 public:
  static constexpr uint64_t kSeed = 0x243F6A8885A308D3ull;
  static constexpr uint64_t kMul1 = 0x9E3779B97F4A7C15ull;
  static constexpr uint64_t kMul2 = 0xD6E8FEB86659FD93ull;

  Tok64() {
    for (int j = 0; j < 4; ++j) v_[j] = kSeed ^ (static_cast<uint64_t>(j + 1) * kMul1);
  }

  void update(const void* data, size_t n) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    total_ += n;
    if (buffered_ > 0) {  // complete a pending block first
      size_t take = n < 32 - buffered_ ? n : 32 - buffered_;
      std::memcpy(buf_ + buffered_, p, take);
      buffered_ += take;
      p += take;
      n -= take;
      if (buffered_ < 32) return;
      block(buf_);
      buffered_ = 0;
    }
    for (; n >= 32; p += 32, n -= 32) block(p);
    std::memcpy(buf_, p, n);
    buffered_ = n;
  }

  uint64_t finish() const {
    uint64_t h = total_ * kMul2;
    for (int j = 0; j < 4; ++j) h = round(h, avalanche(v_[j]));
    size_t i = 0;
    for (; i + 8 <= buffered_; i += 8) h = round(h, load(buf_ + i));
    if (i < buffered_) {
      unsigned char last[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(last, buf_ + i, buffered_ - i);
      h = round(h, load(last));
    }
    return avalanche(h);
  }

 private:
  static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
  static uint64_t round(uint64_t v, uint64_t w) { return rotl(v + w * kMul1, 29) * kMul2; }
  static uint64_t load(const unsigned char* p) {  // little-endian 64-bit word
    static_assert(std::endian::native == std::endian::little, "weft's file formats assume a little-endian host");
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  static uint64_t avalanche(uint64_t h) {
    h ^= h >> 32;
    h *= kMul1;
    h ^= h >> 29;
    h *= kMul2;
    h ^= h >> 32;
    return h;
  }
  void block(const unsigned char* p) {
    v_[0] = round(v_[0], load(p));
    v_[1] = round(v_[1], load(p + 8));
    v_[2] = round(v_[2], load(p + 16));
    v_[3] = round(v_[3], load(p + 24));
  }

  uint64_t v_[4];
  unsigned char buf_[32];
  size_t buffered_ = 0;
  uint64_t total_ = 0;
};

inline uint64_t tok64(const void* data, size_t n) {
  Tok64 h;
  h.update(data, n);
  return h.finish();
}

inline uint64_t checksum64(const void* data, size_t n, uint64_t seed = Tok64::kSeed) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  const uint64_t K = Tok64::kMul1;
  uint64_t h = seed, h2 = seed ^ K;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {  // two independent lanes for speed
    uint64_t a, b;
    std::memcpy(&a, p + i, 8);
    std::memcpy(&b, p + i + 8, 8);
    h = (h ^ a) * K;
    h = (h << 29) | (h >> 35);
    h2 = (h2 ^ b) * K;
    h2 = (h2 << 29) | (h2 >> 35);
  }
  if (i + 8 <= n) {  // one more full word
    uint64_t a;
    std::memcpy(&a, p + i, 8);
    h = (h ^ a) * K;
    h = (h << 29) | (h >> 35);
    i += 8;
  }
  uint64_t tail = 0;  // the last 0..7 bytes
  std::memcpy(&tail, p + i, n - i);
  h ^= (h2 * K) ^ (tail * 0xC2B2AE3D27D4EB4Full) ^ static_cast<uint64_t>(n);
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  return h;
}

}  // namespace weft
