// InfoNceObjective: the micro-batches of `weft train --objective infonce` (spec masked-mixer.md A.10 item 10).
// A step has G = --batch-size x --grad-accum x ranks groups; global group j of step s is sample
// k = s G + j of a SlotSampler over the train pairs (launch/retrieval_samples.h: pair order shuffled per epoch,
// the match at a uniform slot 1 .. N-1, N - 2 negatives drawn from the other train pairs without replacement,
// every draw a Philox function of (seed, epoch, pair)), so the groups depend on nothing but the seed and the
// step: a resumed run draws what the uninterrupted one would have. Row b of micro-batch m on rank r is global
// group (m x ranks + r) x B + b (launch/model_state.h's stream order), so any split into ranks and micro-batches
// sees the same groups. Each micro-batch embeds its B x N texts (launch/embedding_tap.h), and its loss is the
// sum of its groups' InfoNCE losses divided by G (models/common/infonce.h), so accumulated gradients are those
// of the step's mean. The auxiliary term "accuracy" is the share of groups whose match has the highest cosine.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "launch/embedding_tap.h"
#include "launch/objective_options.h"
#include "launch/pairs_file.h"
#include "launch/retrieval_samples.h"
#include "models/model.h"

namespace weft::launch {

class InfoNceObjective {
 public:
  // groups: B (groups per micro-batch per rank); world: ranks. Reads and checks --pairs, the tap and the pool
  // size (UsageErrors naming the flag); tokenizer: --data's.
  InfoNceObjective(const InfoNceOptions& opt, std::unique_ptr<data::Tokenizer> tokenizer, models::Model& model,
                   ParamStore& params, Exec& ex, int64_t seq_len, int64_t groups, int64_t grad_accum, int world,
                   uint64_t seed);
  // Micro-batch `micro` of this rank for step `step` (0-based: the step being taken).
  models::LossTerms loss_terms(Graph& g, ParamStore& params, int64_t step, int64_t micro, int rank);
  // The micro-batch's share of the step's groups (its aux terms' weight in the step's mean).
  double share() const;
  int64_t groups_per_step() const { return groups_ * accum_ * world_; }
  int64_t group_size() const { return opt_.group; }
  int64_t train_pairs() const { return static_cast<int64_t>(pool_.size()); }
  const EmbeddingTap& tap() const { return tap_; }

 private:
  InfoNceOptions opt_;
  std::unique_ptr<data::Tokenizer> tok_;
  models::Model& model_;
  int64_t L_, groups_, accum_;
  int world_;
  std::vector<PairText> pool_;  // the train pairs, in file order
  SlotSampler sampler_;
  EmbeddingTap tap_;
  std::vector<int32_t> ids_host_;      // (B N, L)
  std::vector<int64_t> positions_;     // (B N) the position read in each row
  std::vector<int32_t> targets_host_;  // (B)
  OwnedTensor ids_, targets_;          // their copies on the model's device
  std::vector<float> scores_host_;     // (B, N - 1)
};

}  // namespace weft::launch
