// LR schedule implementation.
#include "runtime/optim/lr_schedule.h"

#include <cmath>

#include "runtime/check.h"

namespace weft::optim {

LrSchedule::LrSchedule(const std::string& k, double lr_, double min_lr_, int64_t warmup_, int64_t total_)
    : lr(lr_), min_lr(min_lr_), warmup(warmup_), total(total_) {
  if (k == "constant") kind = Kind::constant;
  else if (k == "cosine") kind = Kind::cosine;
  else if (k == "linear") kind = Kind::linear;
  else WEFT_FAIL("--schedule must be constant, cosine or linear, got '", k, "'");
  WEFT_CHECK(lr > 0 && std::isfinite(lr), "--lr must be positive, got ", lr);
  WEFT_CHECK(min_lr >= 0 && min_lr <= lr, "--min-lr must be in [0, --lr], got ", min_lr);
  WEFT_CHECK(total >= 1, "--steps must be positive, got ", total);
  WEFT_CHECK(warmup >= 0 && warmup <= total, "--warmup must be in [0, --steps = ", total, "], got ", warmup);
}

double LrSchedule::at(int64_t step) const {
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (kind == Kind::constant) return lr;
  if (step >= total) return min_lr;
  double p = total > warmup ? static_cast<double>(step - warmup) / static_cast<double>(total - warmup) : 1.0;
  if (kind == Kind::cosine) return min_lr + 0.5 * (1.0 + std::cos(M_PI * p)) * (lr - min_lr);
  return lr - p * (lr - min_lr);
}

}  // namespace weft::optim
