// SVG line charts for `weft plot`: round axis ticks (1-2-5 x 10^k on linear and log10 axes, given ticks on a
// log2 axis), polylines with optional point markers, min-max bands, dashed reference lines and a legend.
// Element classes name what each is ('curve', 'marker', 'band', 'tick', 'reference') so tests can read a chart
// back. write_svg_with_png writes the file and a PNG next to it when a converter is on the PATH.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace weft::launch {

// Round tick values covering [lo, hi]: consecutive multiples of one 1-2-5 x 10^k step, at most about
// max_ticks + 1 of them; the first is <= lo and the last >= hi (the axis spans them).
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 6);
// Ticks of a log10 axis over [lo, hi] (0 < lo <= hi): the 1-2-5 x 10^k values from the largest <= lo to the
// smallest >= hi; powers of ten alone when that would be more than about 8 ticks.
std::vector<double> log_ticks(double lo, double hi);
// A tick label with no more decimals than `step` needs ("0.5", "2", "1500", "0.02"); no "-0".
std::string tick_label(double value, double step);
std::string xml_escape(const std::string& s);
// The colour of the i-th run (8 colours, then repeating).
const char* series_color(size_t i);

enum class Scale { linear, log2, log10 };

struct Axis {
  Scale scale = Scale::linear;
  std::string label;
  std::vector<double> ticks;  // given ticks (a log2 axis: the lengths); empty: round ticks over the data
};

struct Series {
  std::string name;  // legend text ("": no legend entry)
  std::string color;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
  double width = 1.5;
  double opacity = 1.0;
  bool markers = false;  // a dot on every point (curves of few points)
};

// A filled region between lo(x) and hi(x) (the min-max spread of several seeds).
struct Band {
  std::string color;
  std::vector<double> x, lo, hi;
};

class SvgChart {
 public:
  SvgChart(std::string title, Axis x, Axis y) : title_(std::move(title)), x_(std::move(x)), y_(std::move(y)) {}
  void add_series(Series s) { series_.push_back(std::move(s)); }
  void add_band(Band b) { bands_.push_back(std::move(b)); }
  void add_vline(double x, std::string label) { vlines_.emplace_back(x, std::move(label)); }
  // The SVG document. Throws naming the plot when there is nothing to draw or a log axis gets a value <= 0.
  std::string render() const;

 private:
  std::string title_;
  Axis x_, y_;
  std::vector<Series> series_;
  std::vector<Band> bands_;
  std::vector<std::pair<double, std::string>> vlines_;  // dashed vertical lines (x, label)
};

// Writes svg_text to svg_path (throws naming the file). png: also writes the same path with .png by the first
// of rsvg-convert, convert (ImageMagick) and inkscape found on the PATH that succeeds. Returns the name of the
// converter used, "" when none was found or none succeeded (the SVG is written regardless).
std::string write_svg_with_png(const std::string& svg_text, const std::string& svg_path, bool png);

}  // namespace weft::launch
