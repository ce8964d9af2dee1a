// Training telemetry: a JSONL metrics file (one object per logged step or evaluation) and the
// progress line printed to the terminal (step/total, loss, lr, tokens/s, ETA).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace weft::launch {

// One JSON object built field by field: numbers and strings, written as one line.
class JsonLine {
 public:
  JsonLine& num(const std::string& key, double v);
  JsonLine& integer(const std::string& key, int64_t v);
  JsonLine& nums(const std::string& key, const std::vector<double>& v);  // [..]; non-finite values as null
  JsonLine& integers(const std::string& key, const std::vector<int64_t>& v);
  JsonLine& str(const std::string& key, const std::string& v);
  std::string text() const { return "{" + body_ + "}"; }

 private:
  void key(const std::string& k);
  std::string body_;
};

std::string json_escape(const std::string& s);

class MetricsWriter {
 public:
  MetricsWriter() = default;
  // Opens path for appending (a resumed run continues the same file). Throws naming the file.
  explicit MetricsWriter(const std::string& path);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  void write(const JsonLine& line);  // writes and flushes

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
};

// "step 120/2000 | loss 2.3412 | lr 5.00e-04 | 41.2k tok/s | ETA 1m32s"
std::string progress_line(int64_t step, int64_t total, double loss, double lr, double tokens_per_s, double eta_s);
std::string format_duration(double seconds);

// Reads the train and validation loss series of a metrics.jsonl file: (step, loss_avg) where a line has the
// mean over its logging interval (written since the interval mean was added), else (step, loss) (older files:
// the loss of the logged step alone); (step, val_loss).
struct LossCurves {
  std::vector<std::pair<double, double>> train, val;
  bool train_is_interval_mean = false;  // every train point is a loss_avg
};
LossCurves read_loss_curves(const std::string& metrics_path);
// Several runs on one plot (same axes, round ticks), one colour per run: train loss thin, validation loss thick,
// each run labelled by its name (one run: train blue, validation red). Curves of fewer than kMarkerPoints points
// get a dot on every point. val_only: only the validation curves (runs of different batch noise compare
// better). png: a PNG next to the SVG (launch/svg_plot.h); returns the converter used or "". Throws naming the
// file.
struct NamedCurves {
  std::string name;
  LossCurves curves;
};
constexpr size_t kMarkerPoints = 30;
std::string write_runs_svg(const std::vector<NamedCurves>& runs, const std::string& title, const std::string& svg_path,
                           bool val_only = false, bool png = false);

}  // namespace weft::launch
