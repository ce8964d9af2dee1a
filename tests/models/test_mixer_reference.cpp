// The masked mixer (every variant) and the transformer-mixer hybrid (serial, parallel) against the independent
// PyTorch reference (tools/reference/mixer_reference.py: Conv1d with tril-masked weights, Hugging Face's Llama
// layer): same parameters and tokens, the loss and every parameter gradient must match. The fixtures' mixing
// matrices have non-zero upper triangles, which weft must ignore (their gradient is zero on both sides), and
// some run at T < L (the top-left block). Compared in f32 (relative 1e-5 of each tensor's largest value) and
// in f64 (1e-6; the reference computes in float64 from float32-rounded parameters).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <map>
#include <string>

#include "models/registry.h"
#include "tests/harness/fixture.h"
#include "tests/harness/gradcheck.h"

namespace weft::models {
namespace {

using test::Fixture;

void check_against_reference(const std::string& name, DType dt, double tol) {
  Fixture fx = test::load_fixture(test::fixture_dir() + "/" + name + ".fix");
  // The fixture's configuration keys are weft's flags (plus `model`).
  std::map<std::string, std::string> flags = fx.config;
  const std::string family = flags.at("model");
  flags.erase("model");
  std::unique_ptr<Model> model = build_model(family, flags);
  ParamStore store(dt);
  model->declare(store);
  store.finalize();
  test::load_fixture_params(fx, store);
  const test::FixtureTokens tokens = test::fixture_tokens(fx);
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  Rng rng(1, 0);
  Var loss = model->loss(g, store, Batch{tokens.inputs, tokens.targets, 0.0f}, rng, true);
  g.backward(loss);
  const double ref_loss = fx.at("loss").f32[0], got_loss = test::to_host_doubles(loss->value)[0];
  EXPECT_NEAR(got_loss, ref_loss, tol * std::fabs(ref_loss)) << name;
  double worst = 0;
  std::string worst_name;
  int checked = 0;
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    const double err = test::max_rel_error(test::to_host_doubles(store.grad(id)), fx.at("grad." + info.name).f32);
    EXPECT_LT(err, tol) << name << ": gradient of " << info.name;
    if (err >= worst) worst = err, worst_name = info.name;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(fx.tensors.size() - 3) / 2) << "every reference parameter is in weft";
  std::printf("  %s %s: loss rel %.2e, worst gradient rel %.2e (%s)\n", name.c_str(), std::string(dtype_name(dt)).c_str(),
              std::fabs(got_loss - ref_loss) / std::fabs(ref_loss), worst, worst_name.c_str());
}

class MixerReference : public ::testing::TestWithParam<std::string> {};

TEST_P(MixerReference, LossAndGradientsF32) { check_against_reference(GetParam(), DType::f32, 1e-5); }
TEST_P(MixerReference, LossAndGradientsF64) { check_against_reference(GetParam(), DType::f64, 1e-6); }

INSTANTIATE_TEST_SUITE_P(PyTorch, MixerReference,
                         ::testing::Values("mixer_flat", "mixer_flat_full", "mixer_heads", "mixer_heads_short",
                                           "mixer_kernel", "mixer_kernel3", "mixer_expanded", "mixer_parallel",
                                           "hybrid_serial", "hybrid_serial_full", "hybrid_parallel"));

}  // namespace
}  // namespace weft::models
