// InfoNceObjective (launch/infonce_objective.h).
#include "launch/infonce_objective.h"

#include <algorithm>

#include "models/common/infonce.h"

namespace weft::launch {

InfoNceObjective::InfoNceObjective(const InfoNceOptions& opt, std::unique_ptr<data::Tokenizer> tokenizer,
                                   models::Model& model, ParamStore& params, Exec& ex, int64_t seq_len, int64_t groups,
                                   int64_t grad_accum, int world, uint64_t seed)
    : opt_(opt),
      tok_(std::move(tokenizer)),
      model_(model),
      L_(seq_len),
      groups_(groups),
      accum_(grad_accum),
      world_(world),
      sampler_(0, opt.group, seed, true) {
  if (model.has_state())
    throw UsageError("--objective infonce: model '" + model.name() +
                     "' keeps state across steps (memories per stream); InfoNCE groups have no streams");
  for (PairText& p : read_pairs(opt.pairs, opt.query_field, opt.document_field, opt.val_fraction))
    if (p.split == 0) pool_.push_back(std::move(p));
  const int64_t N = opt.group, P = train_pairs();
  if (P < N)
    throw UsageError("--infonce-group " + std::to_string(N) + " needs " + std::to_string(N - 1) +
                     " documents besides each query's own, but --pairs " + opt.pairs + " has " + std::to_string(P) +
                     " train pairs (at most --infonce-group " + std::to_string(P) + ")");
  sampler_ = SlotSampler(P, N, seed, true);
  tap_ = choose_embedding_tap(opt.tap, offered_taps(model, params, ex, L_, tok_->eot()), model.name(), L_);
  ids_host_.resize(static_cast<size_t>(groups_ * N * L_));
  positions_.resize(static_cast<size_t>(groups_ * N));
  targets_host_.resize(static_cast<size_t>(groups_));
  scores_host_.resize(static_cast<size_t>(groups_ * (N - 1)));
  ids_ = OwnedTensor(DType::i32, {groups_ * N, L_}, ex.device);
  targets_ = OwnedTensor(DType::i32, {groups_}, ex.device);
}

double InfoNceObjective::share() const {
  return static_cast<double>(groups_) / static_cast<double>(groups_per_step());
}

models::LossTerms InfoNceObjective::loss_terms(Graph& g, ParamStore& params, int64_t step, int64_t micro, int rank) {
  const int64_t N = opt_.group, B = groups_;
  std::vector<int64_t> slots(static_cast<size_t>(N));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t k = step * groups_per_step() + (micro * world_ + rank) * B + b;  // the global sample
    targets_host_[static_cast<size_t>(b)] = sampler_.sample(k, slots.data());
    for (int64_t s = 0; s < N; ++s) {
      const PairText& p = pool_[static_cast<size_t>(slots[static_cast<size_t>(s)])];
      const int64_t row = b * N + s;
      positions_[static_cast<size_t>(row)] =
          encode_for_embedding(*tok_, s == 0 ? p.query : p.document, L_, tap_, ids_host_.data() + row * L_);
    }
  }
  Exec& ex = g.exec();
  device_copy(ex.device, ids_.tensor().data, Device::cpu, ids_host_.data(), ids_host_.size() * sizeof(int32_t));
  device_copy(ex.device, targets_.tensor().data, Device::cpu, targets_host_.data(),
              targets_host_.size() * sizeof(int32_t));
  Var emb = models::tap_embeddings(g, model_, params, ids_.tensor(), tap_.tap, positions_);  // (B N, C)
  models::InfoNce nce = models::infonce_loss(g, emb, N, g.constant(targets_.tensor()), static_cast<float>(opt_.tau),
                                             static_cast<float>(groups_per_step()));
  // In-group top-1 accuracy of this micro-batch (the scores are B x (N - 1) values: one small copy).
  const Tensor& s = nce.scores->value;  // (B, N - 1) f32 (f64 in tests)
  std::vector<double> scores(static_cast<size_t>(B * (N - 1)));
  if (s.dtype == DType::f64) {
    device_copy(Device::cpu, scores.data(), s.device, s.data, s.nbytes());
  } else {
    device_copy(Device::cpu, scores_host_.data(), s.device, s.data, s.nbytes());
    std::copy(scores_host_.begin(), scores_host_.end(), scores.begin());
  }
  int64_t correct = 0;
  for (int64_t b = 0; b < B; ++b) {
    const double* row = scores.data() + b * (N - 1);
    correct += std::max_element(row, row + N - 1) - row == targets_host_[static_cast<size_t>(b)];
  }
  const float accuracy = static_cast<float>(correct) / static_cast<float>(B);
  Tensor acc = g.alloc(DType::f32, Shape{1});
  device_copy(acc.device, acc.data, Device::cpu, &accuracy, sizeof(float));
  return models::LossTerms{nce.loss, {models::AuxTerm{"accuracy", g.constant(acc)}}};
}

}  // namespace weft::launch
