// StepLosses: the loss and the named auxiliary terms of one optimizer step, summed over micro-batches on
// the device (one device-to-host copy per step) and over ranks in fp64. The loss enters as it is (each
// micro-batch's total is already normalised by the global token count, so the sum is the global mean);
// an auxiliary term enters weighted by its micro-batch's token share (models::Batch::token_share), so its
// sum is the mean over micro-batches and ranks.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "models/model.h"
#include "parallel/comm.h"
#include "runtime/memory.h"

namespace weft::launch {

class StepLosses {
 public:
  explicit StepLosses(Device dev);
  void begin_step(Exec& ex);  // zero the sums
  void add(Exec& ex, const models::LossTerms& terms, double token_share);
  struct Totals {
    double loss = 0.0;
    std::vector<std::pair<std::string, double>> aux;  // in the model's order
  };
  // Sums over ranks (collective over `comm`, a host communicator).
  Totals finish(par::Communicator& comm);

 private:
  static constexpr int kMaxTerms = 15;  // auxiliary terms a model may report
  Device dev_;
  OwnedTensor sums_;     // (1 + kMaxTerms) f32 on the device: loss, then each aux term
  OwnedTensor scratch_;  // (1) f32: an aux value widened to f32
  std::vector<std::string> names_;  // aux names seen this run (fixed after the first micro-batch)
  bool named_ = false;
};

}  // namespace weft::launch
