// Philox4x32-10 counter-based generator (Salmon et al., SC'11), shared by CPU and CUDA kernels.
// A stream of random numbers is a pure function of (key, counter): the generator's whole state is the
// seed, a stream id (the rank) and a 64-bit offset, which is what checkpoints store. Element i of a
// draw that starts at offset o uses counter (o + i / 4) and lane i % 4, on any device and thread count.
#pragma once

#include <cstdint>

#include "runtime/math/hd.h"

namespace weft {

struct PhiloxKey {
  uint32_t k0, k1;
};

WEFT_HD void philox_round(uint32_t c[4], uint32_t k0, uint32_t k1) {
  const uint64_t p0 = uint64_t(0xD2511F53u) * c[0];
  const uint64_t p1 = uint64_t(0xCD9E8D57u) * c[2];
  const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
  const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
  const uint32_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
  c[0] = n0;
  c[1] = lo1;
  c[2] = n2;
  c[3] = lo0;
}

// Philox4x32-10 of a full 128-bit counter (Random123's known-answer tests address this form).
WEFT_HD void philox4x32_block(uint32_t out[4], const uint32_t counter[4], PhiloxKey key) {
  uint32_t c[4] = {counter[0], counter[1], counter[2], counter[3]};
  uint32_t k0 = key.k0, k1 = key.k1;
  for (int r = 0; r < 10; ++r) {
    philox_round(c, k0, k1);
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c[0];
  out[1] = c[1];
  out[2] = c[2];
  out[3] = c[3];
}

// Four 32-bit random words for counter (ctr, stream): words (ctr low, ctr high, stream, 0).
WEFT_HD void philox4x32(uint32_t out[4], PhiloxKey key, uint64_t ctr, uint32_t stream) {
  const uint32_t c[4] = {uint32_t(ctr), uint32_t(ctr >> 32), stream, 0u};
  philox4x32_block(out, c, key);
}

// Uniform in (0, 1]: never 0, so log(u) is finite.
WEFT_HD float uint_to_unit_float(uint32_t x) { return (float(x >> 8) + 1.0f) * (1.0f / 16777216.0f); }

// The uniform for element i of a draw starting at offset `offset`.
WEFT_HD float philox_uniform(PhiloxKey key, uint32_t stream, uint64_t offset, uint64_t i) {
  uint32_t w[4];
  philox4x32(w, key, offset + i / 4, stream);
  return uint_to_unit_float(w[i % 4]);
}

}  // namespace weft
