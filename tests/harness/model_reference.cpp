// check_family_against_fixture (tests/harness/model_reference.h).
#include "tests/harness/model_reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "models/registry.h"
#include "tests/harness/fixture.h"
#include "tests/harness/gradcheck.h"

namespace weft::test {

void check_family_against_fixture(const std::string& fixture, DType dt, double tol,
                                  const std::vector<std::string>& aux) {
  const Fixture fx = load_fixture(fixture_dir() + "/" + fixture + ".fix");
  std::map<std::string, std::string> flags = fx.config;
  const std::string family = flags.at("model");
  flags.erase("model");
  std::unique_ptr<models::Model> model = models::build_model(family, flags);
  ParamStore store(dt);
  model->declare(store);
  store.finalize();
  load_fixture_params(fx, store);
  const FixtureTokens tokens = fixture_tokens(fx);
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  Rng rng(1, 0);
  models::LossTerms terms =
      model->loss_terms(g, store, models::Batch{tokens.inputs, tokens.targets, 0.0f}, rng, true);
  g.backward(terms.total);
  const double ref_loss = fx.at("loss").f32[0], got_loss = to_host_doubles(terms.total->value)[0];
  EXPECT_NEAR(got_loss, ref_loss, tol * std::fabs(ref_loss)) << fixture << " loss";
  for (const std::string& name : aux) {
    const models::AuxTerm* term = nullptr;
    for (const models::AuxTerm& a : terms.aux)
      if (a.name == name) term = &a;
    ASSERT_NE(term, nullptr) << fixture << ": no aux term " << name;
    const double ref = fx.at(name).f32[0];
    EXPECT_NEAR(to_host_doubles(term->value->value)[0], ref, tol * std::fabs(ref)) << fixture << " " << name;
  }
  double worst = 0;
  std::string worst_name;
  int checked = 0;
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    const double err = max_rel_error(to_host_doubles(store.grad(id)), fx.at("grad." + info.name).f32);
    EXPECT_LT(err, tol) << fixture << ": gradient of " << info.name;
    if (err >= worst) worst = err, worst_name = info.name;
    ++checked;
  }
  // inputs, targets, loss and the aux values, then every parameter and its gradient
  EXPECT_EQ(checked, static_cast<int>(fx.tensors.size() - 3 - aux.size()) / 2) << "every reference parameter is in weft";
  std::printf("  %s %s: loss %.6f (reference %.6f, rel %.2e), worst gradient rel %.2e (%s)\n", fixture.c_str(),
              std::string(dtype_name(dt)).c_str(), got_loss, ref_loss, std::fabs(got_loss - ref_loss) / std::fabs(ref_loss),
              worst, worst_name.c_str());
}

}  // namespace weft::test
