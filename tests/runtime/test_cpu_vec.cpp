// The CPU kernels' shared row loops (runtime/backend_cpu/vec.h) on the clone this CPU selects: max_value,
// which cross-entropy, softmax and attention take each row's maximum with, against std::max_element for
// every length 1-80 (vector body and tail) with the maximum at every position, -inf entries (attention's
// masked keys), and NaN where std::max_element gives a defined answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/backend_cpu/vec.h"

namespace {

template <class F>
void check_every_length_and_position() {
  for (int64_t n = 1; n <= 80; ++n)
    for (int64_t at = 0; at < n; ++at) {
      std::vector<F> x(n);
      for (int64_t i = 0; i < n; ++i) x[i] = F(-1) - F(0.01) * F((i * 37) % 101);
      x[at] = F(0.5);
      EXPECT_EQ(weft::cpu::max_value(x.data(), n), F(0.5)) << "n " << n << ", maximum at " << at;
      EXPECT_EQ(weft::cpu::max_value(x.data(), n), *std::max_element(x.begin(), x.end()));
    }
}

TEST(CpuVec, MaxValueEveryLengthAndPositionF32AndF64) {
  check_every_length_and_position<float>();
  check_every_length_and_position<double>();
}

TEST(CpuVec, MaxValueOfMaskedRowsAndNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> row(19, -inf);
  EXPECT_EQ(weft::cpu::max_value(row.data(), 19), -inf);  // a row with every key masked
  row[17] = -3.0f;
  EXPECT_EQ(weft::cpu::max_value(row.data(), 19), -3.0f);
  // std::max_element skips a NaN after the first element and returns a leading NaN; so does max_value, so
  // a NaN logit still reaches the loss through the exponentials either way.
  std::vector<float> x = {1.0f, std::nanf(""), 4.0f, 2.0f, 0.0f, 0.0f, 0.0f, 0.0f, 3.0f};
  EXPECT_EQ(weft::cpu::max_value(x.data(), 9), 4.0f);
  x[0] = std::nanf("");
  EXPECT_TRUE(std::isnan(weft::cpu::max_value(x.data(), 9)));
  EXPECT_TRUE(std::isnan(*std::max_element(x.begin(), x.end())));
}

}  // namespace
