// Whole-model fp64 gradient check of the transformer on tiny configurations: every position scheme,
// each activation and norm, tied and untied embeddings, dropout on (the mask is replayed from the
// same Philox state, so the function is deterministic). Parameters are perturbed in the ParamStore.
#include <gtest/gtest.h>

#include <cmath>

#include "models/transformer/transformer.h"
#include "tests/harness/gradcheck.h"

namespace weft::models {
namespace {

using test::random_ids;

struct Case {
  std::string name;
  TransformerConfig cfg;
};

double max_rel_error_of_model(TransformerConfig cfg) {
  Exec ex = cpu_exec(1);
  Transformer model(cfg);
  ParamStore store(DType::f64);
  model.declare(store);
  store.finalize();
  store.initialize(11);
  // Larger weights than the GPT-2 init so every path carries a visible gradient.
  {
    double* p = store.values().ptr<double>();
    Rng r(5, 1);
    for (int64_t i = 0; i < store.total(); ++i) p[i] += 0.3 * (r.uniform() - 0.5);
  }
  const int64_t B = 2, T = 5;
  OwnedTensor ids = random_ids({B, T}, 1, static_cast<int32_t>(cfg.vocab_size));
  OwnedTensor targets = random_ids({B, T}, 2, static_cast<int32_t>(cfg.vocab_size));
  targets.ptr<int32_t>()[3] = -100;  // one ignored target
  Batch batch{ids, targets, 0.0f};
  Arena arena;
  Graph g(ex, arena);
  auto loss_at = [&](bool grad) {
    Rng rng(99, 0);
    g.grad_enabled = grad;
    Var l = model.loss(g, store, batch, rng, true);
    double v = l->value.ptr<double>()[0];
    if (grad) g.backward(l);
    g.clear();
    return v;
  };
  store.zero_grads();
  loss_at(true);
  std::vector<double> analytic(store.grads().ptr<double>(), store.grads().ptr<double>() + store.total());
  double max_err = 0, max_num = 0;
  Rng pick(3, 3);
  const double eps = 1e-6;
  for (int id = 0; id < store.size(); ++id) {  // a few elements of every parameter
    const ParamInfo& info = store.info(id);
    for (int k = 0; k < 4; ++k) {
      int64_t i = info.offset + static_cast<int64_t>(pick.next_u64() % info.shape.numel());
      double* p = store.values().ptr<double>() + i;
      double saved = *p;
      *p = saved + eps;
      double fp = loss_at(false);
      *p = saved - eps;
      double fm = loss_at(false);
      *p = saved;
      double num = (fp - fm) / (2 * eps);
      max_err = std::max(max_err, std::fabs(num - analytic[i]));
      max_num = std::max(max_num, std::fabs(num));
    }
  }
  return max_err / max_num;
}

TransformerConfig tiny(PositionScheme p) {
  TransformerConfig c;
  c.vocab_size = 11;
  c.d_model = 12;
  c.n_layers = 2;
  c.n_heads = 3;
  c.d_ff = 7;
  c.max_seq_len = 8;
  c.position = p;
  c.sandwich_dim = 8;
  return c;
}

class TransformerGrad : public ::testing::TestWithParam<Case> {};

TEST_P(TransformerGrad, Fp64FiniteDifference) {
  double err = max_rel_error_of_model(GetParam().cfg);
  EXPECT_LT(err, 1e-6) << GetParam().name;
}

std::vector<Case> cases() {
  std::vector<Case> cs;
  for (PositionScheme p : {PositionScheme::learned, PositionScheme::sinusoidal, PositionScheme::rope,
                           PositionScheme::alibi, PositionScheme::sandwich, PositionScheme::none})
    cs.push_back({position_scheme_name(p), tiny(p)});
  TransformerConfig c = tiny(PositionScheme::rope);
  c.rope_fraction = 0.5f;
  c.activation = "swiglu";
  c.norm = "rmsnorm";
  c.tie_embeddings = false;
  cs.push_back({"rope_half_swiglu_rmsnorm_untied", c});
  c = tiny(PositionScheme::alibi);
  c.activation = "relu";
  c.bias = false;
  c.dropout = 0.2f;
  cs.push_back({"alibi_relu_nobias_dropout", c});
  // The MoEUT dense baseline's shape (spec moeut A.7): head size != d / H, RoPE on the even-rounded half of
  // an odd head, attention without bias, ReLU FFN with bias, untied head with bias, the scaled init.
  c = tiny(PositionScheme::rope);
  c.head_dim = 5;
  c.rope_fraction = 0.5;
  c.activation = "relu";
  c.attn_bias = "false";
  c.tie_embeddings = false;
  c.head_bias = true;
  c.init = "scaled";
  cs.push_back({"rope_half_headdim5_attn_nobias_head_bias", c});
  return cs;
}

INSTANTIATE_TEST_SUITE_P(Tiny, TransformerGrad, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(TransformerConfig, InvalidValuesNameTheFlag) {
  TransformerConfig c = tiny(PositionScheme::learned);
  c.n_heads = 5;
  try {
    c.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--n-heads 5 does not divide --d-model 12"), std::string::npos);
  }
  c = tiny(PositionScheme::learned);
  c.activation = "tanh";
  EXPECT_THROW(c.validate(), Error);
  c = tiny(PositionScheme::learned);
  c.dropout = 1.0f;
  EXPECT_THROW(c.validate(), Error);
}

}  // namespace
}  // namespace weft::models
