// tap_embeddings and infonce_loss (models/common/infonce.h): gather_rows, square, sum, rsqrt, mul, split,
// matmul, scale and cross_entropy; every one of them has CPU and CUDA kernels, gradient checks and parity cases.
#include "models/common/infonce.h"

namespace weft::models {

Var tap_embeddings(Graph& g, Model& model, ParamStore& store, const Tensor& ids, const std::string& tap,
                   const std::vector<int64_t>& positions) {
  const int64_t S = ids.shape[0], L = ids.shape[1];
  WEFT_CHECK(static_cast<int64_t>(positions.size()) == S, "[tap_embeddings] ", positions.size(), " positions for ",
             S, " sequences");
  Taps taps({tap});
  model.set_taps(&taps);
  model.logits(g, store, ids);
  model.set_taps(nullptr);
  Var states = taps.find(tap);  // (S, L, C)
  WEFT_CHECK(states && states->value.shape.rank == 3 && states->value.shape[0] == S && states->value.shape[1] == L,
             "[tap_embeddings] model '", model.name(), "' offers no (S, L, C) tap '", tap, "'");
  const int64_t C = states->value.shape[2];
  std::vector<int32_t> rows(static_cast<size_t>(S));  // row s * L + position of the flat (S * L, C) states
  for (int64_t s = 0; s < S; ++s) {
    const int64_t p = positions[static_cast<size_t>(s)];
    WEFT_CHECK(p >= 0 && p < L, "[tap_embeddings] position ", p, " outside the ", L, " positions");
    rows[static_cast<size_t>(s)] = static_cast<int32_t>(s * L + p);
  }
  Tensor idx = g.alloc(DType::i32, Shape{S});
  device_copy(idx.device, idx.data, Device::cpu, rows.data(), rows.size() * sizeof(int32_t));
  return ops::gather_rows(g, ops::reshape(g, states, Shape{S * L, C}), g.constant(idx));  // (S, C)
}

InfoNce infonce_loss(Graph& g, Var embeddings, int64_t group, Var targets, float tau, float normalizer) {
  const Tensor& E = embeddings->value;
  WEFT_CHECK(E.shape.rank == 2 && group >= 2 && E.shape[0] % group == 0, "[infonce_loss] embeddings ", E.shape.str(),
             " are not groups of ", group, " rows");
  WEFT_CHECK(tau > 0.0f, "[infonce_loss] tau must be positive, got ", tau);
  const int64_t G = E.shape[0] / group, C = E.shape[1];
  WEFT_CHECK(targets->value.shape.rank == 1 && targets->value.shape[0] == G, "[infonce_loss] targets ",
             targets->value.shape.str(), " for ", G, " groups");
  Var x = E.dtype == DType::bf16 ? ops::cast(g, embeddings, DType::f32) : embeddings;  // (G N, C)
  Tensor eps = g.alloc(x->value.dtype, Shape{1});
  const double eps_value = 1e-12;
  if (eps.dtype == DType::f64) {
    device_copy(eps.device, eps.data, Device::cpu, &eps_value, sizeof(double));
  } else {
    const float f = static_cast<float>(eps_value);
    device_copy(eps.device, eps.data, Device::cpu, &f, sizeof(float));
  }
  Var sq = ops::sum(g, ops::unary(g, UnaryOp::square, x), -1, true);                     // (G N, 1)
  Var inv_norm = ops::unary(g, UnaryOp::rsqrt, ops::add(g, sq, g.constant(eps)));        // (G N, 1)
  Var unit = ops::reshape(g, ops::mul(g, x, inv_norm), Shape{G, group, C});             // (G, N, C)
  std::vector<Var> parts = ops::split(g, unit, {1, group - 1}, 1);                      // (G, 1, C), (G, N-1, C)
  Var cos = ops::matmul(g, parts[0], parts[1], false, true);                            // (G, 1, N-1)
  Var scores = ops::scale(g, ops::reshape(g, cos, Shape{G, group - 1}), 1.0f / tau);    // (G, N-1)
  return InfoNce{ops::cross_entropy(g, scores, targets, -100, normalizer), scores};
}

}  // namespace weft::models
