// Metrics JSONL, progress line, loss-curve SVG.
#include "launch/metrics.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "data/jsonl.h"
#include "launch/svg_plot.h"
#include "runtime/check.h"

namespace weft::launch {

std::string json_escape(const std::string& s) { return data::json_escape_string(s); }

void JsonLine::key(const std::string& k) {
  if (!body_.empty()) body_ += ", ";
  body_ += '"';
  body_ += json_escape(k);
  body_ += "\": ";
}

namespace {

void append_number(std::string& body, double v) {
  if (!std::isfinite(v)) {
    body += "null";  // JSON has no NaN/Inf
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);  // round-trips a double exactly
    body += buf;
  }
}

}  // namespace

JsonLine& JsonLine::num(const std::string& k, double v) {
  key(k);
  append_number(body_, v);
  return *this;
}

JsonLine& JsonLine::nums(const std::string& k, const std::vector<double>& v) {
  key(k);
  body_ += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) body_ += ", ";
    append_number(body_, v[i]);
  }
  body_ += ']';
  return *this;
}

JsonLine& JsonLine::integers(const std::string& k, const std::vector<int64_t>& v) {
  key(k);
  body_ += '[';
  for (size_t i = 0; i < v.size(); ++i) body_ += (i > 0 ? ", " : "") + std::to_string(v[i]);
  body_ += ']';
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
  size_t interval_means = 0;
  std::string line;
  while (std::getline(in, line)) {
    double step, v;
    if (!find_number(line, "step", step)) continue;
    if (find_number(line, "val_loss", v)) {
      c.val.emplace_back(step, v);
    } else if (find_number(line, "loss_avg", v)) {
      c.train.emplace_back(step, v);
      ++interval_means;
    } else if (find_number(line, "loss", v)) {
      c.train.emplace_back(step, v);
    }
  }
  c.train_is_interval_mean = !c.train.empty() && interval_means == c.train.size();
  return c;
}

std::string write_runs_svg(const std::vector<NamedCurves>& runs, const std::string& title, const std::string& path,
                           bool val_only, bool png) {
  SvgChart chart(title, Axis{Scale::linear, "step", {}}, Axis{Scale::linear, "loss", {}});
  auto add = [&](const std::vector<std::pair<double, double>>& points, const char* color, double width,
                 double opacity, const std::string& name) {
    if (!points.empty()) chart.add_series({name, color, points, width, opacity, points.size() < kMarkerPoints});
  };
  if (runs.size() == 1) {  // one run: train blue, validation red, as always
    const LossCurves& c = runs[0].curves;
    add(c.train, series_color(0), 1.5, 1.0, c.train_is_interval_mean ? "train loss (interval mean)" : "train loss");
    add(c.val, series_color(1), 1.5, 1.0, "val loss");
  } else {
    for (size_t i = 0; i < runs.size(); ++i) {
      if (!val_only) add(runs[i].curves.train, series_color(i), 1.0, 0.45, runs[i].name + " train");
      add(runs[i].curves.val, series_color(i), 2.5, 1.0, runs[i].name + " val");
    }
  }
  return write_svg_with_png(chart.render(), path, png);
}

}  // namespace weft::launch
