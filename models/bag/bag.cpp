// The bag-of-embeddings LM (models/bag/bag.h): its flags, configuration, forward pass and state.
#include "models/bag/bag.h"

#include <algorithm>

#include "models/common/constants.h"
#include "models/common/blocks.h"
#include "models/registry.h"
#include "runtime/check.h"
#include "runtime/kernels.h"

namespace weft::models {

std::vector<Flag> BagConfig::flags() {
  return {
      Flag::integer("d-model", 128, "model width"),
      Flag::integer("bag-window", 8, "bag model: tokens averaged per position"),
      Flag::real("bag-l2", 1e-3, "bag model: weight of the auxiliary term bag_l2 (mean squared bag entry)"),
      Flag::boolean("bag-carry", false, "bag model: carry each stream's last bag vector into its next window"),
  };
}

BagConfig BagConfig::from_flags(const FlagValues& v) {
  BagConfig c;
  c.vocab_size = v.integer("vocab-size");
  c.seq_len = v.integer("seq-len");
  c.d_model = v.integer("d-model");
  c.window = v.integer("bag-window");
  c.l2 = v.real("bag-l2");
  c.carry = v.boolean("bag-carry");
  c.validate();
  return c;
}

void BagConfig::validate() const {
  WEFT_CHECK(vocab_size >= 2, "--vocab-size must be >= 2, got ", vocab_size);
  WEFT_CHECK(seq_len >= 1, "--seq-len must be positive, got ", seq_len);
  WEFT_CHECK(d_model >= 1, "--d-model must be positive, got ", d_model);
  WEFT_CHECK(window >= 1, "--bag-window must be positive, got ", window);
  WEFT_CHECK(l2 >= 0.0, "--bag-l2 must be >= 0, got ", l2);
}

namespace bag {
ModelFamily family() {
  return {"bag", "bag-of-embeddings LM (the template family: mean of the last w embeddings, one MLP)",
          &BagConfig::flags,
          [](const FlagValues& v) -> std::unique_ptr<Model> { return std::make_unique<BagModel>(BagConfig::from_flags(v)); },
          []() -> std::vector<TestConfig> {  // a large l2 weight so the aux term visibly moves the loss
            return {{"tiny", {{"d-model", "8"}, {"bag-window", "3"}, {"bag-l2", "0.5"}}},
                    {"carry", {{"d-model", "8"}, {"bag-window", "3"}, {"bag-l2", "0.5"}, {"bag-carry", "true"}}}};
          }};
}
}  // namespace bag

BagModel::BagModel(BagConfig cfg) : cfg_(cfg) { cfg_.validate(); }

void BagModel::declare(ParamStore& store) {
  const int64_t C = cfg_.d_model, V = cfg_.vocab_size;
  emb_ = store.add("tok_emb.weight", {V, C}, Init::Normal(0.02));
  fc_w_ = store.add("mlp.fc.weight", {C, C}, Init::Normal(0.02));
  fc_b_ = store.add("mlp.fc.bias", {C}, Init::Zeros(), false);
  proj_w_ = store.add("mlp.proj.weight", {C, C}, Init::Normal(0.02));
  head_w_ = store.add("head.weight", {V, C}, Init::Normal(0.02));
  head_b_ = store.add("head.bias", {V}, Init::Zeros(), false);
}

Var BagModel::averaging(Graph& g, DType dt, int64_t T) {
  const Tensor& cur = avg_.tensor();
  if (!(cur.defined() && cur.shape == Shape{T, T} && cur.dtype == dt && cur.device == g.device())) {
    std::vector<double> a(static_cast<size_t>(T * T), 0.0);  // row t: 1/n over the n = min(w, t+1) last tokens
    for (int64_t t = 0; t < T; ++t) {
      const int64_t first = std::max<int64_t>(0, t - cfg_.window + 1);
      for (int64_t j = first; j <= t; ++j) a[t * T + j] = 1.0 / static_cast<double>(t - first + 1);
    }
    avg_ = device_constant(a, {T, T}, dt, g.device());
  }
  return g.constant(avg_.tensor());
}

BagModel::Forward BagModel::forward(Graph& g, ParamStore& store, const Tensor& ids, const int64_t* streams) {
  WEFT_CHECK(ids.shape.rank == 2 && ids.dtype == DType::i32, "[bag] ids must be i32 (B, T), got ", ids.str());
  const int64_t B = ids.shape[0], T = ids.shape[1], C = cfg_.d_model;
  const DType dt = store.dtype();
  Var x = ops::embedding(g, g.constant(ids), g.param(store, emb_));  // (B, T, C)
  if (tapping()) tap("embed", x);
  // bag = A x per sequence, as (x^T A^T)^T so that A is the shared right-hand operand: (B, C, T) @ (T, T)^T.
  Var xt = ops::reshape(g, ops::transpose12(g, ops::reshape(g, x, {B, T, C, 1})), {B, C, T});
  Var bag_t = ops::matmul(g, xt, averaging(g, dt, T), false, true);                        // (B, C, T)
  Var bag = ops::reshape(g, ops::transpose12(g, ops::reshape(g, bag_t, {B, C, T, 1})), {B, T, C});
  if (tapping()) tap("blocks.0.bag", bag);
  Var h = bag;
  if (streams) {  // training with --bag-carry: each stream's previous bag vector, a constant (B, 1, C)
    std::vector<double> carry(static_cast<size_t>(B * C), 0.0);
    for (int64_t b = 0; b < B; ++b) {
      auto it = carry_.find(streams[b]);
      if (it != carry_.end()) std::copy(it->second.begin(), it->second.end(), carry.begin() + b * C);
    }
    OwnedTensor c = device_constant(carry, {B, 1, C}, dt, g.device());
    Tensor kept = g.alloc(dt, {B, 1, C});  // the step arena owns what the graph references
    device_copy(g.device(), kept.data, g.device(), c.tensor().data, c.tensor().nbytes());
    h = ops::add(g, bag, g.constant(kept));
  }
  Var u = ops::relu(g, ops::linear(g, h, g.param(store, fc_w_), g.param(store, fc_b_)));
  Var z = ops::add(g, h, ops::linear(g, u, g.param(store, proj_w_)));                        // (B, T, C)
  if (tapping()) tap("blocks.0.out", z);
  return {ops::linear(g, z, g.param(store, head_w_), g.param(store, head_b_)), bag};          // (B, T, V)
}

void BagModel::update_carry(const Tensor& bag, const int64_t* streams) {
  const int64_t B = bag.shape[0], T = bag.shape[1], C = bag.shape[2];
  const size_t es = dtype_size(bag.dtype);
  std::vector<char> raw(static_cast<size_t>(C) * es);
  Exec ex = host_exec();
  for (int64_t b = 0; b < B; ++b) {
    device_copy(Device::cpu, raw.data(), bag.device, static_cast<const char*>(bag.data) + ((b * T + T - 1) * C) * es,
                raw.size());
    std::vector<double>& dst = carry_[streams[b]];
    dst.assign(static_cast<size_t>(C), 0.0);
    cpu::cast(ex, DType::f64, dst.data(), bag.dtype, raw.data(), C, false);
  }
}

LossTerms BagModel::loss_terms(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
  (void)rng;
  const bool carry = cfg_.carry && training && batch.streams;
  Forward f = forward(g, store, batch.inputs, carry ? batch.streams : nullptr);
  Var xent = next_token_loss(g, f.logits, batch);
  const double elements = static_cast<double>(f.bag->value.numel());
  Var l2 = ops::scale(g, ops::sum_all(g, ops::mul(g, f.bag, f.bag)), static_cast<float>(1.0 / elements));
  if (l2->value.dtype != xent->value.dtype) l2 = ops::cast(g, l2, xent->value.dtype);
  Var total = ops::add(g, xent, ops::scale(g, l2, static_cast<float>(cfg_.l2 * batch.token_share())));
  if (carry) update_carry(f.bag->value, batch.streams);
  return LossTerms{total, {AuxTerm{"bag_l2", l2}}};
}

Var BagModel::loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
  return loss_terms(g, store, batch, rng, training).total;
}

Var BagModel::logits(Graph& g, ParamStore& store, const Tensor& ids) { return forward(g, store, ids, nullptr).logits; }

double BagModel::flops_per_token(int64_t T) const {
  const double C = static_cast<double>(cfg_.d_model), V = static_cast<double>(cfg_.vocab_size);
  const double n = 2.0 * C * C + V * C;      // matrices touched per token (the embedding lookup is free)
  return 6.0 * n + 6.0 * static_cast<double>(T) * C;  // + the (T, T) averaging product
}

std::vector<StateTensor> BagModel::save_state() const {
  std::vector<StateTensor> out;
  for (const auto& [stream, vec] : carry_) {
    OwnedTensor t(DType::f64, {static_cast<int64_t>(vec.size())});
    std::copy(vec.begin(), vec.end(), t.ptr<double>());
    out.push_back(StateTensor{stream, "carry", std::move(t)});
  }
  return out;
}

void BagModel::load_state(const std::vector<StateTensor>& state) {
  carry_.clear();
  for (const StateTensor& s : state) {
    WEFT_CHECK(s.name == "carry" && s.stream >= 0 && s.value.tensor().dtype == DType::f64 &&
                   s.value.numel() == cfg_.d_model,
               "[bag] unexpected state tensor '", s.name, "' of stream ", s.stream, ": ", s.value.tensor().str(),
               " (a checkpoint of another configuration?)");
    carry_[s.stream].assign(s.value.ptr<double>(), s.value.ptr<double>() + s.value.numel());
  }
}

}  // namespace weft::models
