// weft plot: --eval charts (one polyline per run, error lengths skipped, seeds as a mean line over a min-max
// band, log y past 10x), round tick labels read back from the SVG, point markers only on short curves, the
// trainer's interval-mean train loss (loss_avg) against per-step losses, the PNG converter search, and bad input
// exiting 2 with the file and line named.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;
using Result = weft::test::ProcessResult;
using Points = std::vector<std::pair<double, double>>;

Result run(const std::string& args, const std::string& env = "") {
  return weft::test::run_shell(env + std::string(WEFT_BINARY) + " " + args);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Points parse_points(const std::string& text) {
  Points p;
  std::stringstream ss(text);
  std::string pair;
  while (ss >> pair) {
    const size_t comma = pair.find(',');
    p.emplace_back(std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1)));
  }
  return p;
}

// The points of every element <tag class='cls' ...> in document order.
std::vector<Points> shapes(const std::string& svg, const std::string& tag, const std::string& cls) {
  std::vector<Points> out;
  const std::regex re("<" + tag + " class='" + cls + "'[^>]* points='([^']*)'");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back(parse_points((*it)[1]));
  return out;
}

std::vector<std::string> tick_labels(const std::string& svg, char axis) {
  std::vector<std::string> out;
  const std::regex re(std::string("<text class='tick ") + axis + "'[^>]*>([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Linear-axis labels: equally spaced by 1, 2 or 5 x 10^k, each a multiple of the step, with no more decimals
// than the step needs (no "0.1234567").
void expect_round_linear_ticks(const std::vector<std::string>& labels) {
  ASSERT_GE(labels.size(), 3u);
  const double step = std::stod(labels[1]) - std::stod(labels[0]);
  const double magnitude = std::pow(10.0, std::floor(std::log10(step) + 1e-9));
  const double mantissa = step / magnitude;
  EXPECT_TRUE(std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 || std::abs(mantissa - 5) < 1e-6)
      << "tick step " << step;
  const size_t decimals = step >= 1 ? 0 : static_cast<size_t>(std::ceil(-std::log10(step) - 1e-9));
  for (size_t i = 0; i < labels.size(); ++i) {
    const double v = std::stod(labels[i]);
    EXPECT_NEAR(v, std::stod(labels[0]) + step * static_cast<double>(i), step * 1e-6) << labels[i];
    EXPECT_NEAR(v / step, std::round(v / step), 1e-6) << labels[i];
    const size_t dot = labels[i].find('.');
    EXPECT_LE(dot == std::string::npos ? 0 : labels[i].size() - dot - 1, decimals) << labels[i];
  }
}

class Plot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_plot_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
    return path;
  }
  // An eval file: one line per (length, perplexity); a perplexity < 0 writes an `error` line for that length.
  static std::string eval_file(const std::string& name, const std::vector<std::pair<int, double>>& rows) {
    std::string text;
    for (auto [length, ppl] : rows)
      text += ppl < 0 ? "{\"length\": " + std::to_string(length) + ", \"error\": \"model 'gpt' supports sequences "
                            "of at most 256 tokens\"}\n"
                      : "{\"length\": " + std::to_string(length) + ", \"loss\": " + std::to_string(std::log(ppl)) +
                            ", \"tokens\": 4096, \"perplexity\": " + std::to_string(ppl) +
                            ", \"mode\": \"nonoverlap\", \"position_bins\": [0, 1, 2]}\n";
    return write(name, text);
  }
  // A metrics.jsonl of `train` log lines and `val` validation lines (steps 1.., losses decaying from 7.3).
  static std::string metrics_run(const std::string& name, int train, int val) {
    std::string text;
    for (int i = 1; i <= train; ++i)
      text += "{\"step\": " + std::to_string(i * 7) + ", \"loss\": " + std::to_string(2.3 + 5.0 / i) +
              ", \"lr\": 0.001}\n";
    for (int i = 1; i <= val; ++i)
      text += "{\"step\": " + std::to_string(i * 7 * train / std::max(val, 1)) +
              ", \"val_loss\": " + std::to_string(2.5 + 4.1 / i) + "}\n";
    write(name + "/metrics.jsonl", text);
    return dir_ + "/" + name;
  }
  static void expect_usage_error(const std::string& args, const std::string& fragment) {
    Result r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(fragment), std::string::npos) << args << "\n" << r.out;
  }
  static std::string dir_;
};
std::string Plot::dir_;

TEST_F(Plot, EvalFilesOnePolylinePerRunErrorLengthsSkipped) {
  const std::string a = eval_file("learned.jsonl", {{64, 9.1}, {128, 8.2}, {256, 8.9}, {512, -1}});
  const std::string b = eval_file("alibi.jsonl", {{64, 9.4}, {128, 8.5}, {256, 8.0}, {512, 7.9}});
  const std::string svg = dir_ + "/eval.svg";
  Result r = run("plot --eval " + a + " " + b + " --output " + svg + " --train-length 128 --no-png");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("2 runs, 7 points, 1 error length skipped"), std::string::npos) << r.out;
  const std::string text = read_file(svg);
  const std::vector<Points> curves = shapes(text, "polyline", "curve");
  ASSERT_EQ(curves.size(), 2u) << text;
  EXPECT_EQ(curves[0].size(), 3u) << "the error length is skipped, the others kept";
  EXPECT_EQ(curves[1].size(), 4u);
  EXPECT_NE(text.find("data-name='learned'"), std::string::npos) << "labelled by the file stem";
  EXPECT_NE(text.find("data-name='alibi'"), std::string::npos);
  EXPECT_EQ(tick_labels(text, 'x'), (std::vector<std::string>{"64", "128", "256", "512"})) << "ticks at the lengths";
  // log2 x axis: the lengths are equally spaced
  EXPECT_NEAR(curves[1][1].first - curves[1][0].first, curves[1][3].first - curves[1][2].first, 1e-3);
  EXPECT_EQ(count(text, "class='reference'"), 1u) << "the --train-length line";
  EXPECT_EQ(count(text, "class='band'"), 0u);
  EXPECT_EQ(count(text, "class='marker'"), 7u);
  expect_round_linear_ticks(tick_labels(text, 'y'));  // 7.9 .. 9.4: linear
  EXPECT_EQ(text.find("log scale)"), std::string::npos);
}

TEST_F(Plot, GroupedSeedsMeanLineOverMinMaxBandAndLogY) {
  const std::string s1 = eval_file("sin1.jsonl", {{128, 8.0}, {256, 40.0}, {512, 300.0}});
  const std::string s2 = eval_file("sin2.jsonl", {{128, 9.0}, {256, 60.0}, {512, 500.0}});
  const std::string s3 = eval_file("sin3.jsonl", {{128, 8.5}, {256, 50.0}, {512, -1}});
  const std::string rope = eval_file("rope.jsonl", {{128, 8.0}, {256, 8.3}, {512, 8.9}});
  const std::string svg = dir_ + "/seeds.svg";
  Result r = run("plot --eval sinusoidal=" + s1 + "," + s2 + "," + s3 + " " + rope + " --output " + svg + " --no-png");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("log y"), std::string::npos) << r.out;
  const std::string text = read_file(svg);
  const std::vector<Points> curves = shapes(text, "polyline", "curve"), bands = shapes(text, "polygon", "band");
  ASSERT_EQ(curves.size(), 2u);
  ASSERT_EQ(bands.size(), 1u) << "one band, for the grouped run only";
  ASSERT_EQ(curves[0].size(), 3u);
  ASSERT_EQ(bands[0].size(), 6u) << "upper edge forward, lower edge back";
  EXPECT_NE(text.find("data-name='sinusoidal (mean of 3, min-max band)'"), std::string::npos) << text;
  for (size_t i = 0; i < 3; ++i) {  // the mean lies between max (upper edge) and min (lower edge); y grows down
    const auto [x, y] = curves[0][i];
    const auto [xh, yh] = bands[0][i];
    const auto [xl, yl] = bands[0][5 - i];
    EXPECT_NEAR(x, xh, 1e-3);
    EXPECT_NEAR(x, xl, 1e-3);
    EXPECT_LT(yh, y) << i;
    EXPECT_LT(y, yl) << i;
  }
  // 8 .. 500 spans more than 10x: a log10 axis, its ticks 1, 2 or 5 x 10^k
  EXPECT_NE(text.find("perplexity (log scale)"), std::string::npos);
  const std::vector<std::string> y = tick_labels(text, 'y');
  ASSERT_GE(y.size(), 3u);
  for (const std::string& label : y) {
    const double v = std::stod(label), m = v / std::pow(10.0, std::floor(std::log10(v) + 1e-9));
    EXPECT_TRUE(std::abs(m - 1) < 1e-9 || std::abs(m - 2) < 1e-9 || std::abs(m - 5) < 1e-9) << label;
  }
  EXPECT_LE(std::stod(y.front()), 8.0);
  EXPECT_GE(std::stod(y.back()), 500.0);
  r = run("plot --eval sinusoidal=" + s1 + "," + s2 + " --output " + svg + " --no-png --y-scale linear --metric loss");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string linear = read_file(svg);
  EXPECT_EQ(linear.find("log scale)"), std::string::npos);
  expect_round_linear_ticks(tick_labels(linear, 'y'));
}

TEST_F(Plot, LossCurveTicksAreRoundAndMarkersOnlyOnShortCurves) {
  const std::string long_run = metrics_run("long", 137, 6), short_run = metrics_run("short", 12, 3);
  Result r = run("plot " + long_run + " --no-png");
  ASSERT_EQ(r.code, 0) << r.out;
  std::string text = read_file(long_run + "/loss.svg");
  expect_round_linear_ticks(tick_labels(text, 'x'));
  expect_round_linear_ticks(tick_labels(text, 'y'));
  EXPECT_EQ(shapes(text, "polyline", "curve").size(), 2u);
  EXPECT_EQ(count(text, "class='marker'"), 6u) << "137 train points: no markers; 6 validation points: markers";
  r = run("plot " + short_run + " " + long_run + " --output " + dir_ + "/both.svg --no-png");
  ASSERT_EQ(r.code, 0) << r.out;
  text = read_file(dir_ + "/both.svg");
  EXPECT_EQ(count(text, "class='marker'"), 12u + 3u + 6u);
  expect_round_linear_ticks(tick_labels(text, 'y'));
}

TEST_F(Plot, PngByTheFirstConverterOnThePath) {
  const std::string a = eval_file("png/run.jsonl", {{64, 9.1}, {128, 8.2}});
  const std::string bin = dir_ + "/fakebin", empty = dir_ + "/emptybin";
  fs::create_directories(empty);
  write("fakebin/rsvg-convert", "#!/bin/sh\n[ \"$1\" = -o ] && printf 'PNG' > \"$2\"\n");
  fs::permissions(bin + "/rsvg-convert", fs::perms::owner_all);
  Result r = run("plot --eval " + a, "PATH=" + bin + " ");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("run.png (via rsvg-convert)"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir_ + "/png/run.svg")) << "default output: next to the single file";
  EXPECT_EQ(read_file(dir_ + "/png/run.png"), "PNG");
  r = run("plot --eval " + a, "PATH=" + empty + " ");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find(".png"), std::string::npos) << "no converter: silently none\n" << r.out;
  r = run("plot --eval " + a + " --no-png", "PATH=" + bin + " ");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find(".png"), std::string::npos) << r.out;
}

TEST_F(Plot, BadInputExitsTwoNamingFileAndLine) {
  const std::string good = eval_file("good.jsonl", {{64, 9.1}, {128, 8.2}});
  const std::string no_length = write("nolength.jsonl", "{\"length\": 64, \"perplexity\": 9.0}\n{\"perplexity\": 8}\n");
  expect_usage_error("plot --eval " + no_length + " --output x.svg", no_length + ":2: no 'length' field");
  const std::string not_json = write("notjson.jsonl", "{\"length\": 64, \"perplexity\": 9.0}\nlength 128\n");
  expect_usage_error("plot --eval " + not_json + " --output x.svg", not_json + ":2: not a JSON object line");
  const std::string twice = write("twice.jsonl", "{\"length\": 64, \"perplexity\": 9}\n{\"length\": 64, \"loss\": 2}\n");
  expect_usage_error("plot --eval " + twice + " --output x.svg", twice + ":2: length 64 already on line 1");
  const std::string no_value = write("novalue.jsonl", "{\"length\": 64, \"tokens\": 9}\n");
  expect_usage_error("plot --eval " + no_value + " --output x.svg", no_value + ":1: no 'perplexity' or 'loss' field");
  expect_usage_error("plot --eval " + good + " " + dir_ + "/missing.jsonl --output x.svg",
                     "cannot open '" + dir_ + "/missing.jsonl'");
  expect_usage_error("plot --eval seeds= --output x.svg", "--eval 'seeds=': no files after '='");
  expect_usage_error("plot --eval =" + good + " --output x.svg", "no label before '='");
  expect_usage_error("plot --eval " + good + " " + good + " --no-png", "--output is required");
  expect_usage_error("plot --eval " + good + " --metric bpc --output x.svg", "--metric: 'bpc'");
  const std::string all_errors = eval_file("allerr.jsonl", {{512, -1}});
  expect_usage_error("plot --eval " + all_errors + " --output x.svg", "no length with a value");
  expect_usage_error("plot", "give run folders");
}

// The trainer's loss_avg is the mean of the per-step losses over each --log-every interval: 10 steps logged
// every 5 against the same run logged every step.
TEST_F(Plot, TrainerIntervalMeanEqualsMeanOfStepLosses) {
  Result r = run("prepare --builtin stories --out " + dir_ + "/data --tokens 30000");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string common = "train --data " + dir_ + "/data --d-model 16 --n-layers 1 --n-heads 2 --seq-len 16 "
                             "--batch-size 2 --threads 1 --warmup 0 --eval-batches 1 --eval-every 0 --steps 10 ";
  std::map<int, std::map<int64_t, std::pair<double, double>>> logged;  // log-every -> step -> (loss, loss_avg)
  for (int every : {1, 5}) {
    const std::string out = dir_ + "/every" + std::to_string(every);
    r = run(common + "--log-every " + std::to_string(every) + " --out " + out);
    ASSERT_EQ(r.code, 0) << r.out;
    std::ifstream m(out + "/metrics.jsonl");
    const std::regex re("\"step\": (\\d+), \"loss\": ([-0-9.e+]+), \"loss_avg\": ([-0-9.e+]+)");
    std::smatch match;
    for (std::string line; std::getline(m, line);)
      if (std::regex_search(line, match, re))
        logged[every][std::stoll(match[1])] = {std::stod(match[2]), std::stod(match[3])};
  }
  ASSERT_EQ(logged[1].size(), 10u);
  ASSERT_EQ(logged[5].size(), 2u);
  for (int64_t end : {5, 10}) {
    double sum = 0;
    for (int64_t s = end - 4; s <= end; ++s) {
      sum += logged[1][s].first;
      EXPECT_EQ(logged[1][s].second, logged[1][s].first) << "an interval of one step: its own loss";
    }
    EXPECT_EQ(logged[5][end].first, logged[1][end].first) << "loss stays the logged step's loss";
    EXPECT_NEAR(logged[5][end].second, sum / 5, 1e-12) << "step " << end;
    EXPECT_NE(logged[5][end].second, logged[5][end].first);
  }
  r = run("plot " + dir_ + "/every5 --no-png");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(read_file(dir_ + "/every5/loss.svg").find("train loss (interval mean)"), std::string::npos);
}

}  // namespace
