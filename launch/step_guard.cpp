// StepGuard implementation.
#include "launch/step_guard.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "launch/options.h"

namespace weft::launch {

namespace {
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}
}  // namespace

StepGuard::StepGuard(int64_t max_skipped, double spike_z, int64_t spike_window)
    : max_skipped_(max_skipped), spike_z_(spike_z), window_(spike_window) {
  WEFT_CHECK(max_skipped >= 0, "--max-skipped-steps must be >= 0, got ", max_skipped);
  WEFT_CHECK(spike_z >= 0, "--spike-guard must be >= 0, got ", spike_z);
  WEFT_CHECK(spike_window >= kSpikeMinEntries, "--spike-window must be >= ", kSpikeMinEntries, ", got ", spike_window);
}

StepGuard::WindowStats StepGuard::window_stats(const TrainState& s) const {
  WindowStats w;
  const size_t n = std::min(s.loss_window.size(), static_cast<size_t>(window_));
  if (n == 0) return w;
  const auto first = s.loss_window.end() - static_cast<std::ptrdiff_t>(n);
  double sum = 0;
  for (auto it = first; it != s.loss_window.end(); ++it) sum += *it;
  w.n = static_cast<int64_t>(n);
  w.mean = sum / static_cast<double>(n);
  double ss = 0;
  for (auto it = first; it != s.loss_window.end(); ++it) ss += (*it - w.mean) * (*it - w.mean);
  w.stddev = std::sqrt(ss / static_cast<double>(n));
  return w;
}

SkipReason StepGuard::judge(double loss, double grad_norm, const TrainState& s) const {
  if (!std::isfinite(loss)) return SkipReason::loss_nonfinite;
  if (!std::isfinite(grad_norm)) return SkipReason::grad_nonfinite;
  if (spike_z_ > 0) {
    const WindowStats w = window_stats(s);
    if (w.n >= kSpikeMinEntries && loss > w.mean + spike_z_ * w.stddev) return SkipReason::loss_spike;
  }
  return SkipReason::none;
}

void StepGuard::accept(double loss, TrainState& s) const {
  s.skipped_in_row = 0;
  s.loss_window.push_back(loss);
  const size_t cap = static_cast<size_t>(window_);
  if (s.loss_window.size() > cap)
    s.loss_window.erase(s.loss_window.begin(), s.loss_window.end() - static_cast<std::ptrdiff_t>(cap));
}

void StepGuard::skip(TrainState& s) const {
  ++s.skipped_in_row;
  ++s.skipped_total;
}

std::string StepGuard::describe(SkipReason reason, double loss, double grad_norm, const TrainState& s) const {
  switch (reason) {
    case SkipReason::loss_nonfinite:
      if (!std::isfinite(loss)) return "loss is " + number(loss);
      return "another rank saw a non-finite loss";
    case SkipReason::grad_nonfinite:
      if (!std::isfinite(grad_norm)) return "gradient norm is " + number(grad_norm);
      return "another rank saw a non-finite gradient norm";
    case SkipReason::loss_spike: {
      const WindowStats w = window_stats(s);
      if (w.n < kSpikeMinEntries || !(loss > w.mean + spike_z_ * w.stddev)) return "another rank saw a loss spike";
      const double z = w.stddev > 0 ? (loss - w.mean) / w.stddev : INFINITY;
      return "loss " + number(loss) + " is " + number(z) + " standard deviations above the mean " + number(w.mean) +
             " of the last " + std::to_string(w.n) + " accepted losses (--spike-guard " + number(spike_z_) + ")";
    }
    case SkipReason::none: break;
  }
  return "update applied";
}

bool loss_far_above_start(double loss, int64_t vocab_size) {
  return vocab_size > 1 && std::isfinite(loss) && loss > kDivergenceFactor * std::log(static_cast<double>(vocab_size));
}

std::vector<int64_t> parse_step_list(const std::vector<std::string>& values, const std::string& flag) {
  std::vector<int64_t> steps;
  for (const std::string& value : values) {
    for (size_t begin = 0, end = 0; end != std::string::npos; begin = end + 1) {  // empty items are errors too
      end = value.find(',', begin);
      const std::string item = value.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
      size_t used = 0;
      long long step = 0;
      try {
        step = std::stoll(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != item.size() || step <= 0)
        throw UsageError("--" + flag + ": '" + item + "' is not a step number (positive integers, comma-separated)");
      steps.push_back(step);
    }
  }
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

}  // namespace weft::launch
