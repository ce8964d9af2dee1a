// Position schemes pinned against the spec's reference numbers
// (../shared/specs/positions-alibi-sandwich.md, B.1 and C.1).
#include <gtest/gtest.h>

#include <cmath>

#include "models/common/positions.h"

namespace weft::models {
namespace {

TEST(AlibiSlopes, PowersOfTwo) {
  EXPECT_EQ(alibi_slopes(1), (std::vector<double>{std::pow(2.0, -8.0)}));
  EXPECT_EQ(alibi_slopes(2), (std::vector<double>{std::pow(2.0, -4.0), std::pow(2.0, -8.0)}));
  auto s4 = alibi_slopes(4);
  std::vector<double> r4{0.25, 0.0625, 0.015625, 0.00390625};
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(s4[i], r4[i]);
  auto s8 = alibi_slopes(8);
  for (int i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(s8[i], std::pow(2.0, -(i + 1)));
  auto s16 = alibi_slopes(16);
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(s16[i], std::pow(2.0, -0.5 * (i + 1)), 1e-15);
}

TEST(AlibiSlopes, NonPowersOfTwoKeepTheOfficialOrder) {
  std::vector<double> r5{0.25, 0.0625, 0.015625, 0.00390625, 0.5};
  std::vector<double> r6{0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125};
  auto s5 = alibi_slopes(5), s6 = alibi_slopes(6);
  ASSERT_EQ(s5.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(s5[i], r5[i]);
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(s6[i], r6[i]);
  auto s12 = alibi_slopes(12);
  ASSERT_EQ(s12.size(), 12u);
  for (int i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(s12[i], std::pow(2.0, -(i + 1)));
  std::vector<double> tail{0.707107, 0.353553, 0.176777, 0.088388};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(s12[8 + i], tail[i], 1e-6);
}

TEST(Sandwich, BiasMatchesSpecReferenceValues) {
  // H = 12, dbar = 128, k = 1..64: bias_h(d) = T[d] / r_h, r_h = 8h/H; values for h = 1 and h = 12.
  auto table = sandwich_table(128, 4097);
  auto scale = sandwich_head_scales(12);
  struct Ref {
    int64_t d;
    double h1, h12;
  };
  for (Ref r : {Ref{1, -2.170, -0.181}, Ref{2, -7.80, -0.65}, Ref{4, -20.64, -1.72}, Ref{8, -25.70, -2.14},
                Ref{16, -33.51, -2.79}, Ref{64, -49.31, -4.11}, Ref{256, -63.65, -5.30}, Ref{1024, -76.36, -6.36},
                Ref{4096, -100.90, -8.41}}) {
    // The spec prints 3 decimals for d = 1 and 2 decimals elsewhere: allow half a unit of the last digit.
    double tol1 = r.d == 1 ? 0.0005 : 0.005, tol12 = tol1;
    EXPECT_NEAR(table[r.d] * scale[0], r.h1, tol1) << "d = " << r.d;
    EXPECT_NEAR(table[r.d] * scale[11], r.h12, tol12) << "d = " << r.d;
  }
  EXPECT_EQ(table[0], 0.0);
  for (double v : table) EXPECT_LE(v, 1e-9);
}

TEST(Sinusoidal, FirstRowsAndPairs) {
  auto pe = sinusoidal_table(3, 4);
  EXPECT_DOUBLE_EQ(pe[0], 0.0);
  EXPECT_DOUBLE_EQ(pe[1], 1.0);
  EXPECT_DOUBLE_EQ(pe[4 + 0], std::sin(1.0));
  EXPECT_DOUBLE_EQ(pe[4 + 3], std::cos(1.0 / 100.0));
}

TEST(PositionScheme, ParseErrorNamesTheFlag) {
  EXPECT_EQ(parse_position_scheme("alibi"), PositionScheme::alibi);
  try {
    parse_position_scheme("xpos");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("--position"), std::string::npos);
  }
}

}  // namespace
}  // namespace weft::models
