// The transformer against the independent PyTorch reference (tools/reference/transformer_reference.py):
// same parameters and tokens, the loss and every parameter gradient must match, for every position
// scheme, the activation / norm / untied variants and windowed attention (alibi W 3, rope W 1). Compared in f32 (relative 1e-5 of each tensor's
// largest value) and in f64 (1e-6; the reference computes in float64).
#include <gtest/gtest.h>

#include <cmath>

#include "models/transformer/transformer.h"
#include "tests/harness/fixture.h"
#include "tests/harness/gradcheck.h"

namespace weft::models {
namespace {

using test::Fixture;

TransformerConfig config_of(const Fixture& fx) {
  auto num = [&](const char* k) { return std::stoll(fx.config.at(k)); };
  TransformerConfig c;
  c.vocab_size = num("vocab");
  c.d_model = num("d_model");
  c.n_layers = num("n_layers");
  c.n_heads = num("n_heads");
  c.d_ff = num("d_ff");
  c.max_seq_len = num("seq_len");
  c.activation = fx.config.at("activation");
  c.norm = fx.config.at("norm");
  c.tie_embeddings = num("tie") != 0;
  c.position = parse_position_scheme(fx.config.at("position"));
  c.rope_fraction = std::stof(fx.config.at("rope_fraction"));
  c.sandwich_dim = num("sandwich_dim");
  c.attention_window = fx.config.count("attention_window") ? num("attention_window") : 0;
  return c;
}

void check_against_reference(const std::string& name, DType dt, double tol) {
  Fixture fx = test::load_fixture(test::fixture_dir() + "/transformer_" + name + ".fix");
  Transformer model(config_of(fx));
  ParamStore store(dt);
  model.declare(store);
  store.finalize();
  Exec ex = cpu_exec();
  test::load_fixture_params(fx, store);
  const test::FixtureTokens tokens = test::fixture_tokens(fx);
  Arena arena;
  Graph g(ex, arena);
  Rng rng(1, 0);
  Var loss = model.loss(g, store, Batch{tokens.inputs, tokens.targets, 0.0f}, rng, true);
  g.backward(loss);
  double ref_loss = fx.at("loss").f32[0];
  EXPECT_NEAR(test::to_host_doubles(loss->value)[0], ref_loss, tol * std::fabs(ref_loss)) << name;
  int checked = 0;
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    double err = test::max_rel_error(test::to_host_doubles(store.grad(id)), fx.at("grad." + info.name).f32);
    EXPECT_LT(err, tol) << name << ": gradient of " << info.name;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(fx.tensors.size() - 3) / 2) << "every reference parameter is in weft";
}

class TransformerReference : public ::testing::TestWithParam<std::string> {};

TEST_P(TransformerReference, LossAndGradientsF32) { check_against_reference(GetParam(), DType::f32, 1e-5); }
TEST_P(TransformerReference, LossAndGradientsF64) { check_against_reference(GetParam(), DType::f64, 1e-6); }

INSTANTIATE_TEST_SUITE_P(PyTorch, TransformerReference,
                         ::testing::Values("learned", "sinusoidal", "rope", "alibi", "sandwich", "none",
                                           "rope_half_swiglu_rmsnorm_untied", "alibi_relu_3heads", "alibi_window3",
                                           "rope_window1"));

}  // namespace
}  // namespace weft::models
