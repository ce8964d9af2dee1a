// checksum64: a fast 64-bit checksum of a byte range, used by token shards and checkpoints to detect
// truncation and flipped bytes (not a cryptographic hash). Processes 8-byte little-endian words:
// h = rotl((h ^ w) * K, 29) in two lanes; the last partial word and the length are folded in at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace weft {

inline uint64_t checksum64(const void* data, size_t n, uint64_t seed = 0x243F6A8885A308D3ull) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  const uint64_t K = 0x9E3779B97F4A7C15ull;
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
