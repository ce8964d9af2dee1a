// Zero-shot scoring (`weft eval --task pairs|choice FILE.jsonl`, docs/zero-shot.md): sequences of tokens whose
// last tokens (a sentence, a continuation) are scored by the model's summed log-probability.
//   pairs:  {"good", "bad"} (+ optional "context", "phenomenon"): right when log p(good) > log p(bad), ties
//           wrong (BLiMP). Each sentence follows the end-of-text token (and the context when given).
//   choice: {"context", "choices": [...], "answer": k} (+ optional "phenomenon"): each choice's log-likelihood
//           given end-of-text + context; accuracy by the raw sum, accuracy_norm by the sum over the choice's
//           byte length (lm-evaluation-harness's acc_norm); ties wrong.
// Context and continuation are tokenised separately and concatenated. A sequence longer than the window
// (the model's context) keeps its last `window` input tokens, so only context is cut; a scored part longer
// than the window is an error naming the file, line and field.
#pragma once

#include <cstdint>
#include <vector>

#include "launch/options.h"
#include "models/model.h"
#include "parallel/comm.h"
#include "runtime/arena.h"

namespace weft::launch {

struct ScoredSequence {
  std::vector<int32_t> tokens;  // end-of-text, context, continuation
  int64_t scored = 0;           // the last `scored` tokens are summed (each given everything before it)
};

// Summed log-probabilities (nats, fp64, in token order) of every sequence's scored tokens. Batches of
// batch_size consecutive sequences are dealt to ranks round-robin, every batch right-padded to one length
// (the longest sequence, at most `window`), so a sequence's value depends neither on the batch size nor on
// the rank count; the values are all-reduced, every rank returns all of them. Collective over `comm`.
std::vector<double> sequence_log_probs(models::Model& model, ParamStore& params, Exec& ex, Arena& arena,
                                       const std::vector<ScoredSequence>& sequences, int64_t window,
                                       int64_t batch_size, int32_t pad, par::Communicator& comm);

// `weft eval --task KIND FILE` with the flags of `weft eval` already parsed (launch/cmd_eval_sample.cpp).
int cmd_eval_task(const po::variables_map& vm);

}  // namespace weft::launch
