// Additive attention bias as a function of (head, query position i, key position j), evaluated inside
// the attention kernels on both backends, so ALiBi and Sandwich need no T x T tensor. Pointers refer to
// memory on the kernel's device: `slopes` (NH) for ALiBi, and for Sandwich a 1-D table (table_len) of
// T[i - j] scaled per head by `slopes[h]` (= 1 / r_h). Biases are fixed (no gradient). `window` > 0 also
// masks keys at distance i - j >= window (spec positions-alibi-sandwich E.1, windowed attention; causal
// only): it composes with every kind, and the kernels skip the keys (CPU) or key tiles (CUDA) outside it.
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
  int64_t window = 0;             // keys j with i - j < window are visible (0: no window)

  // Whether key position j lies inside the window of query position i (always without a window).
  WEFT_HD bool in_window(int64_t i, int64_t j) const { return window <= 0 || i - j < window; }
  // The first key position inside the window of query position i (0 without a window).
  WEFT_HD int64_t first_key(int64_t i) const { return window > 0 && i >= window ? i - window + 1 : 0; }

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
