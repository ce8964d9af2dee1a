// Position scheme tables.
#include "models/common/positions.h"

#include <cmath>

#include "runtime/check.h"

namespace weft::models {

PositionScheme parse_position_scheme(const std::string& name) {
  if (name == "none") return PositionScheme::none;
  if (name == "learned") return PositionScheme::learned;
  if (name == "sinusoidal") return PositionScheme::sinusoidal;
  if (name == "rope") return PositionScheme::rope;
  if (name == "alibi") return PositionScheme::alibi;
  if (name == "sandwich") return PositionScheme::sandwich;
  WEFT_FAIL("--position: unknown scheme '", name, "' (expected learned, sinusoidal, rope, alibi, sandwich or none)");
}

std::string position_scheme_name(PositionScheme p) {
  switch (p) {
    case PositionScheme::none: return "none";
    case PositionScheme::learned: return "learned";
    case PositionScheme::sinusoidal: return "sinusoidal";
    case PositionScheme::rope: return "rope";
    case PositionScheme::alibi: return "alibi";
    case PositionScheme::sandwich: return "sandwich";
  }
  return "?";
}

namespace {
std::vector<double> alibi_power_of_two(int n) {
  double start = std::pow(2.0, -8.0 / n);
  std::vector<double> s(n);
  for (int i = 0; i < n; ++i) s[i] = std::pow(start, i + 1);
  return s;
}
}  // namespace

std::vector<double> alibi_slopes(int n_heads) {
  WEFT_CHECK(n_heads >= 1, "[alibi_slopes] need at least one head, got ", n_heads);
  int c = 1;
  while (c * 2 <= n_heads) c *= 2;
  std::vector<double> s = alibi_power_of_two(c);
  if (c == n_heads) return s;
  std::vector<double> extra = alibi_slopes(2 * c);
  for (int i = 0; i < n_heads - c; ++i) s.push_back(extra[2 * i]);
  return s;
}

std::vector<double> sandwich_table(int dbar, int64_t len) {
  WEFT_CHECK(dbar >= 2 && dbar % 2 == 0, "--sandwich-dim must be even and >= 2, got ", dbar);
  std::vector<double> t(len);
  for (int64_t d = 0; d < len; ++d) {
    double acc = 0.0;
    for (int k = 1; k <= dbar / 2; ++k) acc += std::cos(static_cast<double>(d) * std::pow(10000.0, -2.0 * k / dbar));
    t[d] = acc - dbar / 2.0;
  }
  return t;
}

std::vector<double> sandwich_head_scales(int n_heads) {
  std::vector<double> s(n_heads);
  for (int h = 1; h <= n_heads; ++h) s[h - 1] = 1.0 / (8.0 * h / n_heads);
  return s;
}

std::vector<double> sinusoidal_table(int64_t T, int64_t C) {
  std::vector<double> pe(T * C);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; 2 * i < C; ++i) {
      double a = static_cast<double>(t) / std::pow(10000.0, 2.0 * i / C);
      pe[t * C + 2 * i] = std::sin(a);
      if (2 * i + 1 < C) pe[t * C + 2 * i + 1] = std::cos(a);
    }
  return pe;
}

}  // namespace weft::models
