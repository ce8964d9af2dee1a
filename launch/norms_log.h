// `weft train --log-norms-every N`: the token-norm diagnostics of `weft analyze norms` (launch/analyze_norms.h)
// recorded during training at steps 0, N, 2N, ... and the last, into OUT/norms.h5 (launch/norms_file.h).
// The held-out batch is analyze norms' default (B = 8 windows of the training length from the val split,
// seed 1), so a run's file and `weft analyze norms` on its checkpoints measure the same tokens. Every rank
// runs the measurement (an expert-parallel model's forward is collective); rank 0 alone counts the training
// tokens and writes. A step already in the file is skipped on every rank (a resumed run appends, no duplicates).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launch/analyze_norms.h"
#include "parallel/comm.h"

namespace weft::launch {

class NormsLog {
 public:
  static constexpr int64_t kBatch = 8;
  static constexpr uint64_t kSeed = 1;
  // Draws the batch and, on rank 0, opens (or creates) run_dir/norms.h5. Errors name --log-norms-every.
  NormsLog(const std::string& run_dir, const std::string& data_dir, const models::Model& model,
           const std::string& config_ini, int64_t seq_len, par::Communicator& comm);
  // Collective. Measures and appends `step` unless the file already holds it.
  void record(int64_t step, models::Model& model, ParamStore& store, Exec& ex, Arena& arena);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  par::Communicator& comm_;
  NormBatch batch_;
  std::vector<int64_t> counts_;  // rank 0
  HostAttentionBias bias_;
};

}  // namespace weft::launch
