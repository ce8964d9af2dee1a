// Learning-rate schedules: a pure function of the step (0-based), so a resumed run needs only the step.
// Linear warmup from lr/warmup to lr over `warmup` steps, then constant, cosine or linear decay to
// min_lr at `total` steps, and min_lr after that.
#pragma once

#include <cstdint>
#include <string>

namespace weft::optim {

struct LrSchedule {
  enum class Kind { constant, cosine, linear } kind = Kind::cosine;
  double lr = 3e-4, min_lr = 0.0;
  int64_t warmup = 0, total = 1;

  // Validates (errors name the flag: --lr, --min-lr, --warmup, --steps, --schedule).
  LrSchedule(const std::string& kind, double lr, double min_lr, int64_t warmup, int64_t total);
  double at(int64_t step) const;
};

}  // namespace weft::optim
