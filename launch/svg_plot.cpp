// SVG line charts: round ticks, axes, curves with markers, bands, reference lines, legend; PNG conversion by an
// external converter when one is installed.
#include "launch/svg_plot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <utility>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/check.h"

extern char** environ;

namespace weft::launch {

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  if (!(hi > lo)) {  // one value: a small round range around it
    const double d = lo != 0 ? std::abs(lo) * 0.1 : 1.0;
    lo -= d;
    hi += d;
  }
  const double magnitude = std::pow(10.0, std::floor(std::log10((hi - lo) / max_ticks)));
  double step = 10 * magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (std::ceil(hi / step - 1e-9) - std::floor(lo / step + 1e-9) <= max_ticks) break;
  }
  std::vector<double> ticks;
  const auto first = static_cast<int64_t>(std::floor(lo / step + 1e-9));
  const auto last = static_cast<int64_t>(std::ceil(hi / step - 1e-9));
  for (int64_t k = first; k <= last; ++k) ticks.push_back(static_cast<double>(k) * step);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  WEFT_CHECK(lo > 0 && hi >= lo, "[plot] a log axis needs positive values (got ", lo, " .. ", hi, ")");
  const int k0 = static_cast<int>(std::floor(std::log10(lo))) - 1, k1 = static_cast<int>(std::ceil(std::log10(hi))) + 1;
  for (const bool decades_only : {false, true}) {
    std::vector<double> candidates;
    for (int k = k0; k <= k1; ++k)
      for (double m : {1.0, 2.0, 5.0})
        if (!decades_only || m == 1.0) candidates.push_back(m * std::pow(10.0, k));
    size_t begin = 0, end = candidates.size() - 1;
    while (begin + 1 < candidates.size() && candidates[begin + 1] <= lo * (1 + 1e-12)) ++begin;
    while (end > 0 && candidates[end - 1] >= hi * (1 - 1e-12)) --end;
    if (end == begin) ++end;  // one value on a tick: span to the next one
    if (end - begin + 1 <= 8 || decades_only)
      return std::vector<double>(candidates.begin() + static_cast<std::ptrdiff_t>(begin),
                                 candidates.begin() + static_cast<std::ptrdiff_t>(end) + 1);
  }
  return {};
}

std::string tick_label(double value, double step) {
  step = std::abs(step);
  const int decimals = step >= 1 || step == 0 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  if (std::abs(value) < step * 1e-9) value = 0;  // no "-0"
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '\'': o += "&apos;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

const char* series_color(size_t i) {
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                  "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
  return kColors[i % 8];
}

namespace {

// One axis mapped onto [pixel_lo, pixel_hi]: its ticks and the value range they span.
struct AxisMap {
  Scale scale;
  std::vector<double> ticks;
  double lo = 0, hi = 1;  // in axis units (log2 / log10 of the value on log axes)
  double pixel_lo = 0, pixel_hi = 1;
  double unit(double v) const {
    return scale == Scale::log2 ? std::log2(v) : scale == Scale::log10 ? std::log10(v) : v;
  }
  double pixel(double v) const { return pixel_lo + (unit(v) - lo) / (hi - lo) * (pixel_hi - pixel_lo); }
  std::string label(size_t i) const {
    if (scale == Scale::linear && ticks.size() > 1) return tick_label(ticks[i], ticks[1] - ticks[0]);
    return tick_label(ticks[i], ticks[i]);  // log axes: each tick its own precision (0.02, 0.5, 128)
  }
};

AxisMap map_axis(const Axis& axis, double data_lo, double data_hi, double pixel_lo, double pixel_hi) {
  AxisMap m{axis.scale, axis.ticks};
  m.pixel_lo = pixel_lo;
  m.pixel_hi = pixel_hi;
  if (axis.scale != Scale::linear)
    WEFT_CHECK(data_lo > 0, "[plot] a log-scale axis ('", axis.label, "') got the value ", data_lo, " <= 0");
  if (axis.scale == Scale::log2) {  // given ticks (or powers of two); a quarter octave of margin each side
    if (m.ticks.empty())
      for (double p = std::exp2(std::floor(std::log2(data_lo))); p <= data_hi * 1.000001; p *= 2) m.ticks.push_back(p);
    const auto [tmin, tmax] = std::minmax_element(m.ticks.begin(), m.ticks.end());
    m.lo = std::log2(std::min(data_lo, *tmin));
    m.hi = std::log2(std::max(data_hi, *tmax));
    const double margin = m.hi > m.lo ? 0.25 : 1.0;
    m.lo -= margin;
    m.hi += margin;
    return m;
  }
  if (m.ticks.empty()) m.ticks = axis.scale == Scale::log10 ? log_ticks(data_lo, data_hi) : nice_ticks(data_lo, data_hi);
  m.lo = m.unit(std::min(data_lo, m.ticks.front()));
  m.hi = m.unit(std::max(data_hi, m.ticks.back()));
  if (!(m.hi > m.lo)) m.hi = m.lo + 1;
  return m;
}

}  // namespace

std::string SvgChart::render() const {
  const double W = 800, H = 500, L = 70, R = 20, T = 40, B = 50;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  auto extend = [&](double x, double y) {
    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  };
  for (const Series& s : series_)
    for (auto [x, y] : s.points) extend(x, y);
  for (const Band& b : bands_)
    for (size_t i = 0; i < b.x.size(); ++i) extend(b.x[i], b.lo[i]), extend(b.x[i], b.hi[i]);
  WEFT_CHECK(x0 <= x1, "[plot] no values to plot ('", title_, "')");
  for (const auto& [x, label] : vlines_) x0 = std::min(x0, x), x1 = std::max(x1, x);
  const AxisMap xm = map_axis(x_, x0, x1, L, W - R), ym = map_axis(y_, y0, y1, H - B, T);
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' "
     << "font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  os << "<text x='" << W / 2 << "' y='22' text-anchor='middle' font-size='15'>" << xml_escape(title_) << "</text>\n";
  for (size_t i = 0; i < ym.ticks.size(); ++i) {
    const double y = ym.pixel(ym.ticks[i]);
    os << "<line x1='" << L << "' x2='" << W - R << "' y1='" << y << "' y2='" << y << "' stroke='#ddd'/>\n"
       << "<text class='tick y' x='" << L - 6 << "' y='" << y + 4 << "' text-anchor='end'>" << ym.label(i) << "</text>\n";
  }
  for (size_t i = 0; i < xm.ticks.size(); ++i) {
    const double x = xm.pixel(xm.ticks[i]);
    os << "<line x1='" << x << "' x2='" << x << "' y1='" << T << "' y2='" << H - B << "' stroke='#eee'/>\n"
       << "<text class='tick x' x='" << x << "' y='" << H - B + 18 << "' text-anchor='middle'>" << xm.label(i)
       << "</text>\n";
  }
  os << "<rect x='" << L << "' y='" << T << "' width='" << W - R - L << "' height='" << H - B - T
     << "' fill='none' stroke='#999'/>\n";
  os << "<text x='" << (L + W - R) / 2 << "' y='" << H - 10 << "' text-anchor='middle'>" << xml_escape(x_.label)
     << "</text>\n";
  os << "<text x='16' y='" << H / 2 << "' transform='rotate(-90 16 " << H / 2 << ")' text-anchor='middle'>"
     << xml_escape(y_.label) << "</text>\n";
  for (const Band& b : bands_) {  // under the curves
    os << "<polygon class='band' fill='" << b.color << "' fill-opacity='0.18' stroke='none' points='";
    for (size_t i = 0; i < b.x.size(); ++i) os << xm.pixel(b.x[i]) << "," << ym.pixel(b.hi[i]) << " ";
    for (size_t i = b.x.size(); i-- > 0;) os << xm.pixel(b.x[i]) << "," << ym.pixel(b.lo[i]) << " ";
    os << "'/>\n";
  }
  for (const auto& [x, label] : vlines_) {
    const double px = xm.pixel(x);
    os << "<line class='reference' x1='" << px << "' x2='" << px << "' y1='" << T << "' y2='" << H - B
       << "' stroke='#555' stroke-dasharray='6,4'/>\n<text x='" << px + 4 << "' y='" << T + 14 << "' fill='#555'>"
       << xml_escape(label) << "</text>\n";
  }
  std::vector<const Series*> named;
  for (const Series& s : series_) {
    if (!s.name.empty()) named.push_back(&s);
    if (s.points.empty()) continue;
    os << "<polyline class='curve' data-name='" << xml_escape(s.name) << "' fill='none' stroke='" << s.color
       << "' stroke-width='" << s.width << "' stroke-opacity='" << s.opacity << "' points='";
    for (auto [x, y] : s.points) os << xm.pixel(x) << "," << ym.pixel(y) << " ";
    os << "'/>\n";
    if (s.markers)
      for (auto [x, y] : s.points)
        os << "<circle class='marker' cx='" << xm.pixel(x) << "' cy='" << ym.pixel(y) << "' r='2.5' fill='" << s.color
           << "'/>\n";
  }
  if (!named.empty()) {  // legend in the corner that covers the fewest points of the curves
    size_t longest = 0;
    for (const Series* s : named) longest = std::max(longest, s->name.size());
    const double box_w = 7.0 * static_cast<double>(longest) + 14, box_h = 16.0 * static_cast<double>(named.size()) + 8;
    double best_x = W - R - 4 - box_w, best_y = T + 4;
    size_t best_covered = SIZE_MAX;
    for (const auto& [bx, by] : {std::pair{W - R - 4 - box_w, T + 4}, std::pair{L + 4, T + 4},
                                std::pair{W - R - 4 - box_w, H - B - 4 - box_h}, std::pair{L + 4, H - B - 4 - box_h}}) {
      size_t covered = 0;
      for (const Series& s : series_)
        for (size_t i = 0; i < s.points.size(); ++i)
          for (int k = 0; k < 8 && (k == 0 || i + 1 < s.points.size()); ++k) {  // points and segments between them
            const auto [xa, ya] = s.points[i];
            const auto [xb, yb] = s.points[std::min(i + 1, s.points.size() - 1)];
            const double f = k / 8.0;
            const double px = (1 - f) * xm.pixel(xa) + f * xm.pixel(xb), py = (1 - f) * ym.pixel(ya) + f * ym.pixel(yb);
            covered += px >= bx && px <= bx + box_w && py >= by && py <= by + box_h;
          }
      if (covered < best_covered) best_covered = covered, best_x = bx, best_y = by;
    }
    os << "<rect x='" << best_x << "' y='" << best_y << "' width='" << box_w << "' height='" << box_h
       << "' fill='white' fill-opacity='0.85' stroke='#ccc'/>\n";
    for (size_t i = 0; i < named.size(); ++i)
      os << "<text class='legend' x='" << best_x + 7 << "' y='" << best_y + 16 + 16 * static_cast<double>(i)
         << "' fill='" << named[i]->color << "'>" << xml_escape(named[i]->name) << "</text>\n";
  }
  os << "</svg>\n";
  return os.str();
}

namespace {

// The executable `name` in a PATH folder (what `command -v` finds), or "".
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream folders(path ? path : "");
  std::string folder;
  while (std::getline(folders, folder, ':')) {
    const std::string candidate = (folder.empty() ? "." : folder) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return "";
}

// Runs argv (argv[0] a full path) with its output discarded; true when it exits 0.
bool run_quietly(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return false;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

std::string write_svg_with_png(const std::string& svg_text, const std::string& svg_path, bool png) {
  {
    std::ofstream out(svg_path);
    WEFT_CHECK(out, "[plot] cannot write '", svg_path, "'");
    out << svg_text;
    WEFT_CHECK(out.good(), "[plot] write to '", svg_path, "' failed");
  }
  const std::string png_path = std::filesystem::path(svg_path).replace_extension(".png").string();
  if (!png || png_path == svg_path) return "";
  for (const char* name : {"rsvg-convert", "convert", "inkscape"}) {
    const std::string exe = find_on_path(name);
    if (exe.empty()) continue;
    std::error_code ec;
    std::filesystem::remove(png_path, ec);  // a stale PNG must not pass for a new one
    const std::string tool = name;
    const std::vector<std::string> argv =
        tool == "rsvg-convert" ? std::vector<std::string>{exe, "-o", png_path, svg_path}
        : tool == "convert"    ? std::vector<std::string>{exe, svg_path, png_path}
                               : std::vector<std::string>{exe, svg_path, "--export-filename=" + png_path};
    if (run_quietly(argv) && std::filesystem::file_size(png_path, ec) > 0 && !ec) return tool;
  }
  return "";
}

}  // namespace weft::launch
