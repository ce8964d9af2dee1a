// Philox4x32-10 against Random123's published known-answer vectors, and the Rng stream contract:
// state save/restore replays draws, streams differ, uniforms lie in (0, 1].
#include <gtest/gtest.h>

#include "runtime/rng.h"

namespace weft {
namespace {

TEST(Philox, Random123KnownAnswers) {
  struct Kat {
    uint32_t ctr[4];
    PhiloxKey key;
    uint32_t expect[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
       {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
       {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const Kat& k : kats) {
    uint32_t out[4];
    philox4x32_block(out, k.ctr, k.key);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], k.expect[i]) << "word " << i;
  }
  uint32_t a[4], b[4];  // the (ctr, stream) form maps to the same block
  philox4x32(a, {1, 2}, (uint64_t(7) << 32) | 5, 9);
  const uint32_t c[4] = {5, 7, 9, 0};
  philox4x32_block(b, c, {1, 2});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a[i], b[i]);
}

TEST(Rng, StateRestoreReplaysDraws) {
  Rng r(42, 3);
  r.uniform();
  RngState saved = r.state();
  std::vector<float> first{r.uniform(), r.normal(), r.uniform()};
  Rng again(saved);
  std::vector<float> second{again.uniform(), again.normal(), again.uniform()};
  EXPECT_EQ(first, second);
}

TEST(Rng, StreamsDifferAndUniformsInUnitInterval) {
  Rng a(42, 0), b(42, 1);
  EXPECT_NE(a.next_u64(), b.next_u64());
  double sum = 0;
  Rng r(1, 0);
  for (int i = 0; i < 100000; ++i) {
    float u = r.uniform();
    ASSERT_GT(u, 0.0f);
    ASSERT_LE(u, 1.0f);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
}

TEST(Rng, TakeReservesDisjointCounterRanges) {
  Rng r(5, 0);
  uint64_t a = r.take(10), b = r.take(1);
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 3u);  // 10 draws use ceil(10/4) = 3 counters
}

}  // namespace
}  // namespace weft
