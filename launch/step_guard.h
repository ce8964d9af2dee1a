// StepGuard: whether a training step's update is applied or skipped (numeric faults). The trainer asks after
// the gradients are reduced and before AdamW touches anything (weights, moments, the optimizer's step count):
//   - a non-finite loss or global gradient norm skips the update;
//   - --spike-guard Z: a loss more than Z standard deviations above the mean of the last --spike-window
//     accepted losses skips it (once the window holds kSpikeMinEntries losses).
// Every rank judges its own view and the trainer all-reduces the verdict (the worst reason wins), so all ranks
// skip together. A skipped step still consumes its data and advances the step counter (the LR schedule, the data
// cursor and --steps stay in step; a resume is bit-exact); the optimizer's own step count (bias correction) does
// not advance. After --max-skipped-steps consecutive skips the run saves its last good state and exits with
// kExitSkippedSteps. The counters and the loss window live in TrainState, so checkpoints carry them (the
// give-up checkpoint stores a streak of 0, so a run resumed from it counts afresh).
// What a skip does not undo: the step's forward already ran, so a model with state across steps (memory under
// --pack segments) keeps the state that forward left, and the step's dropout draws are consumed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launch/checkpoint.h"

namespace weft::launch {

// Exit code of `weft train` after --max-skipped-steps consecutive skipped updates (a checkpoint of the last
// good weights was saved). 2 is a usage or data error, 3 a stop signal (launch/signals.h).
constexpr int kExitSkippedSteps = 4;

// Ordered by severity: when ranks disagree the largest wins.
enum class SkipReason : int64_t { none = 0, loss_spike = 1, grad_nonfinite = 2, loss_nonfinite = 3 };

class StepGuard {
 public:
  static constexpr int64_t kSpikeMinEntries = 20;  // accepted losses before the spike guard judges

  // max_skipped: consecutive skips that end the run (0: never); spike_z: 0 = no spike guard; spike_window:
  // accepted losses the guard keeps (the window is kept even without the guard, so it can be turned on at a
  // resume).
  StepGuard(int64_t max_skipped, double spike_z, int64_t spike_window);

  // This rank's verdict on a step: loss and grad_norm as reduced over ranks.
  SkipReason judge(double loss, double grad_norm, const TrainState& s) const;
  // Bookkeeping once the ranks agreed: an accepted loss enters the window and ends a streak of skips.
  void accept(double loss, TrainState& s) const;
  void skip(TrainState& s) const;
  // The streak of skips reached --max-skipped-steps.
  bool exhausted(const TrainState& s) const { return max_skipped_ > 0 && s.skipped_in_row >= max_skipped_; }
  int64_t max_skipped() const { return max_skipped_; }

  // "loss is nan", "gradient norm is inf", "loss 9.13 is 7.2 standard deviations above the mean 4.18 of the
  // last 100 accepted losses", or, when only another rank saw the fault, what it saw.
  std::string describe(SkipReason reason, double loss, double grad_norm, const TrainState& s) const;

  // Mean and (population) standard deviation of the last `window` losses of s.loss_window.
  struct WindowStats {
    double mean = 0, stddev = 0;
    int64_t n = 0;
  };
  WindowStats window_stats(const TrainState& s) const;

 private:
  int64_t max_skipped_;
  double spike_z_;
  int64_t window_;
};

// The loss far above a model's starting level (ln of the vocabulary): more than kDivergenceFactor x ln(V).
constexpr double kDivergenceFactor = 3.0;
bool loss_far_above_start(double loss, int64_t vocab_size);

// --inject-nan-at / --inject-spike-at: "3,7" (and the flag repeated) into sorted step numbers; a UsageError
// naming the flag on anything but positive integers.
std::vector<int64_t> parse_step_list(const std::vector<std::string>& values, const std::string& flag);

}  // namespace weft::launch
