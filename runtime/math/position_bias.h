// Additive attention bias as a function of (head, query position i, key position j), evaluated inside
// the attention kernels on both backends, so ALiBi and Sandwich need no T x T tensor. Pointers refer to
// memory on the kernel's device: `slopes` (NH) for ALiBi, and for Sandwich a 1-D table (table_len) of
// T[i - j] scaled per head by `slopes[h]` (= 1 / r_h). Biases are fixed (no gradient).
#pragma once

#include <cstdint>

#include "runtime/math/hd.h"

namespace weft {

struct PositionBias {
  enum class Kind : uint8_t { none, alibi, table };
  Kind kind = Kind::none;
  const float* slopes = nullptr;  // (NH)
  const float* table = nullptr;   // (table_len), indexed by i - j
  int64_t table_len = 0;

  WEFT_HD float operator()(int64_t h, int64_t i, int64_t j) const {
    switch (kind) {
      case Kind::alibi: return -slopes[h] * float(i - j);
      case Kind::table: {
        int64_t d = i - j;
        if (d < 0) d = -d;
        return slopes[h] * table[d < table_len ? d : table_len - 1];
      }
      default: return 0.0f;
    }
  }
};

}  // namespace weft
