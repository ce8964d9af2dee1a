// NormsLog (launch/norms_log.h): the trainer's token-norm diagnostics, appended step by step.
#include "launch/norms_log.h"

#include <cstdio>

#include "launch/norms_file.h"
#include "launch/options.h"

namespace weft::launch {

NormsLog::NormsLog(const std::string& run_dir, const std::string& data_dir, const models::Model& model,
                   const std::string& config_ini, int64_t seq_len, par::Communicator& comm)
    : path_(run_dir + "/norms.h5"), comm_(comm), bias_(attention_bias_of(model.name(), config_ini, seq_len)) {
  try {
    batch_ = norm_eval_batch(data_dir, model.vocab_size(), kBatch, seq_len, kSeed);
  } catch (const UsageError& e) {
    throw UsageError(std::string("--log-norms-every: ") + e.what());
  }
  if (comm_.rank() == 0) {
    counts_ = token_counts(data_dir, model.vocab_size());
    open_norms_file(path_, NormsFileHeader{model.name(), kSeed, &batch_, &counts_}, false);
  }
}

void NormsLog::record(int64_t step, models::Model& model, ParamStore& store, Exec& ex, Arena& arena) {
  int64_t have = comm_.rank() == 0 && norms_file_has_step(path_, step) ? 1 : 0;
  if (comm_.size() > 1) comm_.all_reduce(&have, 1, DType::i64, par::ReduceOp::max);
  if (have) return;
  const NormDiagnostics d = measure_norms(model, store, ex, arena, batch_, counts_, bias_);
  if (comm_.rank() != 0) return;
  write_norms_step(path_, step, d);
  std::printf("norms step %lld | final ||h|| %.4g | rho(h, log freq) %.3f | rho(emb, log freq) %.3f -> %s\n",
              static_cast<long long>(step), d.mean_final_norm, d.rho_h_tok, d.rho_emb, path_.c_str());
  std::fflush(stdout);
}

}  // namespace weft::launch
