// Metrics JSONL, progress line, loss-curve SVG.
#include "launch/metrics.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "data/jsonl.h"
#include "runtime/check.h"

namespace weft::launch {

std::string json_escape(const std::string& s) { return data::json_escape_string(s); }

void JsonLine::key(const std::string& k) {
  if (!body_.empty()) body_ += ", ";
  body_ += '"';
  body_ += json_escape(k);
  body_ += "\": ";
}

JsonLine& JsonLine::num(const std::string& k, double v) {
  key(k);
  if (!std::isfinite(v)) {
    body_ += "null";  // JSON has no NaN/Inf
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);  // round-trips a double exactly
    body_ += buf;
  }
  return *this;
}

JsonLine& JsonLine::integer(const std::string& k, int64_t v) {
  key(k);
  body_ += std::to_string(v);
  return *this;
}

JsonLine& JsonLine::str(const std::string& k, const std::string& v) {
  key(k);
  body_ += '"';
  body_ += json_escape(v);
  body_ += '"';
  return *this;
}

MetricsWriter::MetricsWriter(const std::string& path) : path_(path) {
  f_ = std::fopen(path.c_str(), "a");
  WEFT_CHECK(f_, "[metrics] cannot open '", path, "' for writing: ", std::strerror(errno));
}

MetricsWriter::~MetricsWriter() {
  if (f_) std::fclose(f_);
}

void MetricsWriter::write(const JsonLine& line) {
  if (!f_) return;
  std::string t = line.text() + "\n";
  WEFT_CHECK(std::fwrite(t.data(), 1, t.size(), f_) == t.size() && std::fflush(f_) == 0,
             "[metrics] write to '", path_, "' failed: ", std::strerror(errno));
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(t / 3600), (long long)(t % 3600 / 60));
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(t / 60), (long long)(t % 60));
  else std::snprintf(buf, sizeof buf, "%llds", (long long)t);
  return buf;
}

std::string progress_line(int64_t step, int64_t total, double loss, double lr, double tps, double eta) {
  char buf[160], rate[32];
  if (tps >= 1e4) std::snprintf(rate, sizeof rate, "%.1fk", tps / 1e3);
  else std::snprintf(rate, sizeof rate, "%.0f", tps);
  std::snprintf(buf, sizeof buf, "step %lld/%lld | loss %.4f | lr %.2e | %s tok/s | ETA %s", (long long)step,
                (long long)total, loss, lr, rate, format_duration(eta).c_str());
  return buf;
}

namespace {
// The number after "key": in a flat JSON line, if present.
bool find_number(const std::string& line, const std::string& key, double& out) {
  std::string pat = "\"" + key + "\": ";
  size_t p = line.find(pat);
  if (p == std::string::npos) return false;
  const char* s = line.c_str() + p + pat.size();
  char* end = nullptr;
  out = std::strtod(s, &end);
  return end != s;
}
}  // namespace

LossCurves read_loss_curves(const std::string& path) {
  std::ifstream in(path);
  WEFT_CHECK(in, "[plot] cannot open '", path, "'");
  LossCurves c;
  std::string line;
  while (std::getline(in, line)) {
    double step, v;
    if (!find_number(line, "step", step)) continue;
    if (find_number(line, "val_loss", v)) c.val.emplace_back(step, v);
    else if (find_number(line, "loss", v)) c.train.emplace_back(step, v);
  }
  return c;
}

void write_loss_svg(const LossCurves& c, const std::string& title, const std::string& path) {
  write_runs_svg({NamedCurves{"", c}}, title, path);
}

void write_runs_svg(const std::vector<NamedCurves>& runs, const std::string& title, const std::string& path,
                    bool val_only) {
  const double W = 800, H = 500, L = 70, R = 20, T = 40, B = 50;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const NamedCurves& r : runs)
    for (const auto* s : {&r.curves.train, &r.curves.val}) {
      if (val_only && s == &r.curves.train) continue;
      for (auto [x, y] : *s) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  WEFT_CHECK(x0 <= x1, "[plot] no loss values to plot");
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return T + (y1 - y) / (y1 - y0) * (H - T - B); };
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' "
     << "font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  os << "<text x='" << W / 2 << "' y='22' text-anchor='middle' font-size='15'>" << json_escape(title) << "</text>\n";
  for (int i = 0; i <= 5; ++i) {
    double yv = y0 + (y1 - y0) * i / 5, xv = x0 + (x1 - x0) * i / 5;
    os << "<line x1='" << L << "' x2='" << W - R << "' y1='" << py(yv) << "' y2='" << py(yv) << "' stroke='#ddd'/>\n";
    os << "<text x='" << L - 6 << "' y='" << py(yv) + 4 << "' text-anchor='end'>" << std::round(yv * 1000) / 1000
       << "</text>\n";
    os << "<text x='" << px(xv) << "' y='" << H - B + 18 << "' text-anchor='middle'>" << std::llround(xv) << "</text>\n";
  }
  os << "<text x='" << W / 2 << "' y='" << H - 10 << "' text-anchor='middle'>step</text>\n";
  os << "<text x='16' y='" << H / 2 << "' transform='rotate(-90 16 " << H / 2 << ")' text-anchor='middle'>loss</text>\n";
  int legend = 0;
  auto poly = [&](const std::vector<std::pair<double, double>>& s, const char* color, double width, double opacity,
                  const std::string& name) {
    if (s.empty()) return;
    os << "<polyline fill='none' stroke='" << color << "' stroke-width='" << width << "' stroke-opacity='" << opacity
       << "' points='";
    for (auto [x, y] : s) os << px(x) << "," << py(y) << " ";
    os << "'/>\n<text x='" << W - R - 190 << "' y='" << T + 16 * ++legend << "' fill='" << color << "'>"
       << json_escape(name) << "</text>\n";
  };
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
  if (runs.size() == 1) {  // one run: train blue, validation red, as always
    poly(runs[0].curves.train, kColors[0], 1.5, 1.0, "train loss");
    poly(runs[0].curves.val, kColors[1], 1.5, 1.0, "val loss");
  } else {
    for (size_t i = 0; i < runs.size(); ++i) {
      const char* color = kColors[i % 8];
      if (!val_only) poly(runs[i].curves.train, color, 1.0, 0.45, runs[i].name + " train");
      poly(runs[i].curves.val, color, 2.5, 1.0, runs[i].name + " val");
    }
  }
  os << "</svg>\n";
  std::ofstream out(path);
  WEFT_CHECK(out, "[plot] cannot write '", path, "'");
  out << os.str();
  WEFT_CHECK(out.good(), "[plot] write to '", path, "' failed");
}

}  // namespace weft::launch
