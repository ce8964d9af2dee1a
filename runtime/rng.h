// Rng: the host-side handle of a Philox stream. State = (seed, stream, offset), three integers that a
// checkpoint stores and restores. Each consumer reserves a range of counters with take(n), so kernels
// (dropout masks, initialisers) draw from disjoint ranges without sharing mutable state.
#pragma once

#include <cstdint>
#include <cmath>

#include "runtime/math/philox.h"

namespace weft {

struct RngState {
  uint64_t seed = 0;
  uint32_t stream = 0;  // usually the rank, so every rank has its own stream
  uint64_t offset = 0;  // counters consumed so far (units of 4 draws)
};

class Rng {
 public:
  Rng() = default;
  explicit Rng(uint64_t seed, uint32_t stream = 0) { state_ = RngState{seed, stream, 0}; }
  explicit Rng(RngState s) : state_(s) {}

  const RngState& state() const { return state_; }
  void set_state(const RngState& s) { state_ = s; }
  PhiloxKey key() const { return PhiloxKey{uint32_t(state_.seed), uint32_t(state_.seed >> 32)}; }
  uint32_t stream() const { return state_.stream; }

  // Reserve counters for n draws; returns the offset at which the caller's draws start.
  uint64_t take(uint64_t n) {
    uint64_t start = state_.offset;
    state_.offset += (n + 3) / 4;
    return start;
  }
  // Convenience host draws (one counter each, the other lanes unused: simple, and rarely hot).
  float uniform() {
    uint64_t o = take(4);
    return philox_uniform(key(), stream(), o, 0);
  }
  float normal() {  // Box-Muller
    uint64_t o = take(4);
    float u1 = philox_uniform(key(), stream(), o, 0), u2 = philox_uniform(key(), stream(), o, 1);
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.28318530717958647692f * u2);
  }
  uint64_t next_u64() {
    uint32_t w[4];
    philox4x32(w, key(), take(4), stream());
    return (uint64_t(w[0]) << 32) | w[1];
  }

 private:
  RngState state_;
};

}  // namespace weft
