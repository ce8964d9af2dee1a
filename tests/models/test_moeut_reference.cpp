// MoEUT against the independent PyTorch reference (tools/reference/moeut_reference.py, written from spec
// moeut.md part A): same parameters and tokens; the total loss, the cross-entropy and the entropy
// regulariser (aux terms "ce" and "reg") and every parameter gradient must match. Fixtures: peri-LN (the
// model), N_A = 1 (dense V/O with output gates), G = L (sigma-MoE, one repeat, head size 10), pre-LN, and
// a sequence shorter than seq-len. Compared in f32 (relative 1e-5 of each tensor's largest value) and f64
// (1e-6; the reference computes in float64 from float32-rounded parameters).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "models/registry.h"
#include "tests/harness/fixture.h"
#include "tests/harness/gradcheck.h"

namespace weft::models {
namespace {

using test::Fixture;

double aux_value(const LossTerms& t, const std::string& name) {
  for (const AuxTerm& a : t.aux)
    if (a.name == name) return test::to_host_doubles(a.value->value)[0];
  ADD_FAILURE() << "no aux term " << name;
  return 0;
}

void check_against_reference(const std::string& name, DType dt, double tol) {
  Fixture fx = test::load_fixture(test::fixture_dir() + "/" + name + ".fix");
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
  LossTerms terms = model->loss_terms(g, store, Batch{tokens.inputs, tokens.targets, 0.0f}, rng, true);
  g.backward(terms.total);
  const double loss = test::to_host_doubles(terms.total->value)[0];
  for (const auto& [key, got] : {std::pair<std::string, double>{"loss", loss}, {"ce", aux_value(terms, "ce")},
                                 {"reg", aux_value(terms, "reg")}}) {
    const double ref = fx.at(key).f32[0];
    EXPECT_NEAR(got, ref, tol * std::fabs(ref)) << name << " " << key;
  }
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
  EXPECT_EQ(checked, static_cast<int>(fx.tensors.size() - 5) / 2) << "every reference parameter is in weft";
  std::printf("  %s %s: loss %.6f (reference %.6f), worst gradient rel %.2e (%s)\n", name.c_str(),
              std::string(dtype_name(dt)).c_str(), loss, fx.at("loss").f32[0], worst, worst_name.c_str());
}

class MoeutReference : public ::testing::TestWithParam<std::string> {};

TEST_P(MoeutReference, LossRegulariserAndGradientsF32) { check_against_reference(GetParam(), DType::f32, 1e-5); }
TEST_P(MoeutReference, LossRegulariserAndGradientsF64) { check_against_reference(GetParam(), DType::f64, 1e-6); }

INSTANTIATE_TEST_SUITE_P(PyTorch, MoeutReference,
                         ::testing::Values("moeut_peri", "moeut_na1", "moeut_sigma", "moeut_pre", "moeut_short"));

}  // namespace
}  // namespace weft::models
