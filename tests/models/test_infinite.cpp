// The infinity-former (models/infinite_memory/) against the independent PyTorch reference
// (tools/reference/infinite_reference.py: one memory update, one attention call, the sticky bin masses, a tiny
// model over three consecutive segments; f32 at 1e-5 of each tensor's largest value), the unit tests of spec
// B.9d (closed form vs numerical integration, ridge reconstruction, contraction, sticky bins), the state across
// steps (step 2 depends on step 1's segment; a document start removes the dependence) and the flag errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "models/infinite_memory/infinite.h"
#include "models/registry.h"
#include "tests/harness/fixture.h"
#include "tests/harness/gradcheck.h"

namespace weft::models {
namespace {

using test::Fixture;
using test::to_host_doubles;

using test::max_rel_error;

std::vector<double> doubles(const test::FixtureTensor& t) { return std::vector<double>(t.f32.begin(), t.f32.end()); }

struct Leaves {  // fixture tensors as f32 leaves that collect gradients
  Exec ex = cpu_exec(1);
  Arena arena;
  Graph g{ex, arena};
  std::vector<OwnedTensor> owned;
  Var leaf(const Fixture& fx, const std::string& name, bool grad = true) {
    const auto& t = fx.at(name);
    owned.push_back(test::from_values(DType::f32, t.shape, doubles(t)));
    return g.input(owned.back().tensor(), grad);
  }
  Var constant(const std::vector<double>& v, Shape s) { return ltm::arena_constant(g, v, s, DType::f32); }
};

std::vector<double> widths_of(const Fixture& fx) {
  std::vector<double> w;
  std::string s = fx.config.at("ltm-widths");
  for (size_t a = 0, b; a <= s.size(); a = b + 1) {
    b = s.find(',', a);
    if (b == std::string::npos) b = s.size();
    w.push_back(std::stod(s.substr(a, b - a)));
  }
  return w;
}

TEST(InfiniteReference, OneMemoryUpdateValuesAndGradients) {
  const Fixture fx = test::load_fixture(test::fixture_dir() + "/infinite_update.fix");
  const ltm::Basis basis = ltm::gaussian_basis(std::stoll(fx.config.at("ltm-basis")), widths_of(fx));
  const double lambda = std::stod(fx.config.at("ltm-ridge")), tau = std::stod(fx.config.at("ltm-tau"));
  Leaves lv;
  Var past = lv.leaf(fx, "coef_past"), x_new = lv.leaf(fx, "x_new");
  ltm::Weights w;
  w.mask_w = lv.leaf(fx, "mask.weight");
  w.mask_b = lv.leaf(fx, "mask.bias");
  const int64_t B = past->value.shape[0], N = basis.size(), L = x_new->value.shape[1];
  const auto& samples = fx.at("samples");
  const int64_t M = samples.shape[1];
  std::vector<double> psi;
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<double> p =
        ltm::evaluate(basis, std::vector<double>(samples.f32.begin() + b * M, samples.f32.begin() + (b + 1) * M));
    psi.insert(psi.end(), p.begin(), p.end());
  }
  Var xm = ltm::mask_gate(lv.g, w, x_new);
  Var G_inf = lv.constant(ltm::ridge_matrix(basis, ltm::contraction_design(M, L, tau), lambda), {M + L, N});
  Var G_first = lv.constant(ltm::ridge_matrix(basis, ltm::first_update_design(L), lambda), {L, N});
  Var coef = ltm::update(lv.g, ltm::sample_old(lv.g, lv.constant(psi, {B, M, N}), past), xm, G_inf);
  Var coef_first = ltm::update(lv.g, nullptr, xm, G_first);
  EXPECT_LT(max_rel_error(to_host_doubles(coef->value), fx.at("coef").f32), 1e-5);
  EXPECT_LT(max_rel_error(to_host_doubles(coef_first->value), fx.at("coef_first").f32), 1e-5);
  OwnedTensor R = test::from_values(DType::f32, fx.at("R").shape, doubles(fx.at("R")));
  lv.g.backward({coef, coef_first}, {R.tensor(), R.tensor()});
  for (const auto& [name, v] : {std::pair<std::string, Var>{"coef_past", past}, {"x_new", x_new},
                                {"mask.weight", w.mask_w}, {"mask.bias", w.mask_b}}) {
    const double err = max_rel_error(to_host_doubles(v->grad), fx.at("grad." + name).f32);
    EXPECT_LT(err, 1e-5) << "gradient of " << name;
    std::printf("  update: gradient of %s rel %.2e\n", name.c_str(), err);
  }
  // B.6: the sticky bin masses of given Gaussians.
  const std::vector<double> mu = doubles(fx.at("sticky.mu")), sigma = doubles(fx.at("sticky.sigma"));
  const std::vector<double> p = ltm::sticky_bin_mass(mu.data(), sigma.data(), static_cast<int64_t>(mu.size()),
                                                     std::stoll(fx.config.at("ltm-sticky-bins")));
  EXPECT_LT(max_rel_error(p, fx.at("sticky.p").f32), 1e-6);
}

TEST(InfiniteReference, OneAttentionCallValuesAndGradients) {
  const Fixture fx = test::load_fixture(test::fixture_dir() + "/infinite_attention.fix");
  const ltm::Basis basis = ltm::gaussian_basis(std::stoll(fx.config.at("ltm-basis")), widths_of(fx));
  Leaves lv;
  Var q = lv.leaf(fx, "q"), coef = lv.leaf(fx, "coef");
  ltm::Weights w{lv.leaf(fx, "key.weight"), lv.leaf(fx, "value.weight"), lv.leaf(fx, "out.weight"),
                 lv.leaf(fx, "mu.weight"),  lv.leaf(fx, "sigma.weight")};
  std::vector<double> var;
  for (double s : basis.sigma) var.push_back(s * s);
  const int64_t N = basis.size();
  ltm::Attention a = ltm::attend(lv.g, w, q, coef, lv.constant(basis.mu, {N}), lv.constant(var, {N}),
                                 std::stod(fx.config.at("ltm-sigma-floor")), std::stod(fx.config.at("ltm-sigma0")));
  EXPECT_LT(max_rel_error(to_host_doubles(a.z->value), fx.at("z").f32), 1e-5);
  EXPECT_LT(max_rel_error(to_host_doubles(a.mu->value), fx.at("mu").f32), 1e-5);
  EXPECT_LT(max_rel_error(to_host_doubles(a.sigma_sq->value), fx.at("sigma_sq").f32), 1e-5);
  EXPECT_LT(max_rel_error(to_host_doubles(a.kl->value), fx.at("kl").f32), 1e-5);
  OwnedTensor R = test::from_values(DType::f32, fx.at("R").shape, doubles(fx.at("R")));
  OwnedTensor one = test::from_values(DType::f32, {1}, {1.0});
  lv.g.backward({a.z, a.kl}, {R.tensor(), one.tensor()});
  for (const auto& [name, v] : {std::pair<std::string, Var>{"q", q}, {"coef", coef}, {"key.weight", w.key},
                                {"value.weight", w.value}, {"out.weight", w.out}, {"mu.weight", w.mu},
                                {"sigma.weight", w.sigma}}) {
    const double err = max_rel_error(to_host_doubles(v->grad), fx.at("grad." + name).f32);
    EXPECT_LT(err, 1e-5) << "gradient of " << name;
    std::printf("  attention: gradient of %s rel %.2e\n", name.c_str(), err);
  }
}

TEST(InfiniteReference, TinyModelOverThreeSegmentsLossesAndGradients) {
  const Fixture fx = test::load_fixture(test::fixture_dir() + "/infinite_model.fix");
  std::map<std::string, std::string> flags = fx.config;
  flags.erase("model");
  std::unique_ptr<Model> model = build_model("infinite", flags);
  ParamStore store(DType::f32);
  model->declare(store);
  store.finalize();
  int params = 0;
  for (int id = 0; id < store.size(); ++id, ++params) {
    const ParamInfo& info = store.info(id);
    const auto& t = fx.at(info.name);
    ASSERT_EQ(t.shape, info.shape) << info.name;
    OwnedTensor host = test::from_values(DType::f32, info.shape, doubles(t));
    device_copy(store.device(), store.value(id).data, Device::cpu, host.tensor().data, host.tensor().nbytes());
  }
  store.zero_grads();
  Exec ex = cpu_exec();
  Arena arena;
  Graph g(ex, arena);
  const int64_t streams[2] = {0, 1};
  for (int s = 1; s <= 3; ++s) {
    const auto& in = fx.at("inputs" + std::to_string(s));
    const auto& tg = fx.at("targets" + std::to_string(s));
    OwnedTensor ids = test::from_values(DType::i32, in.shape, std::vector<double>(in.i32.begin(), in.i32.end()));
    OwnedTensor tgt = test::from_values(DType::i32, tg.shape, std::vector<double>(tg.i32.begin(), tg.i32.end()));
    Batch batch{ids, tgt, 0.0f};
    batch.streams = streams;
    Rng rng(1, 0);
    LossTerms terms = model->loss_terms(g, store, batch, rng, true);
    g.backward(terms.total);
    const double loss = to_host_doubles(terms.total->value)[0], kl = to_host_doubles(terms.aux.at(0).value->value)[0];
    const double ref_loss = fx.at("loss" + std::to_string(s)).f32[0], ref_kl = fx.at("kl" + std::to_string(s)).f32[0];
    EXPECT_NEAR(loss, ref_loss, 1e-5 * std::fabs(ref_loss)) << "segment " << s;
    EXPECT_NEAR(kl, ref_kl, 1e-5 * std::max(1.0, std::fabs(ref_kl))) << "segment " << s;
    std::printf("  model segment %d: loss %.6f (reference %.6f), ltm_kl %.4f (reference %.4f)\n", s, loss, ref_loss,
                kl, ref_kl);
    g.clear();
  }
  double worst = 0;
  std::string worst_name;
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    const double err = max_rel_error(to_host_doubles(store.grad(id)), fx.at("grad." + info.name).f32);
    EXPECT_LT(err, 1e-5) << "gradient of " << info.name;
    if (err >= worst) worst = err, worst_name = info.name;
  }
  std::printf("  model: %d parameters, worst gradient rel %.2e (%s)\n", params, worst, worst_name.c_str());
}

// ---- spec B.9d
TEST(InfiniteMemory, ClosedFormMatchesNumericalIntegration) {
  const ltm::Basis basis = ltm::gaussian_basis(8, {0.005, 0.05});
  for (const auto& [mu, var] : {std::pair{0.3, 1e-3}, {0.71, 0.02}, {0.05, 1e-4}}) {
    for (int64_t n = 0; n < basis.size(); ++n) {
      const double closed = ltm::normal_pdf(mu, basis.mu[n], var + basis.sigma[n] * basis.sigma[n]);
      const int64_t P = 100000;  // trapezoid over [-3, 4]
      const double h = 7.0 / static_cast<double>(P);
      double s = 0;
      for (int64_t i = 0; i <= P; ++i) {
        const double t = -3.0 + h * static_cast<double>(i);
        const double f = ltm::normal_pdf(t, mu, var) *
                         ltm::normal_pdf(t, basis.mu[n], basis.sigma[n] * basis.sigma[n]);
        s += (i == 0 || i == P ? 0.5 : 1.0) * f;
      }
      EXPECT_NEAR(s * h, closed, 1e-6 * std::max(1.0, closed)) << "mu " << mu << " var " << var << " basis " << n;
    }
  }
}

// X(t) = B^T psi(t) of a fit at the given design, for a scalar signal given at its real positions.
std::vector<double> fit(const ltm::Basis& basis, const ltm::Design& d, const std::vector<double>& y, double lambda) {
  const std::vector<double> G = ltm::ridge_matrix(basis, d, lambda);
  std::vector<double> coef(static_cast<size_t>(basis.size()), 0.0);
  for (int64_t i = 0; i < d.n_real; ++i)
    for (int64_t n = 0; n < basis.size(); ++n) coef[n] += G[i * basis.size() + n] * y[i];
  return coef;
}
double signal(const ltm::Basis& basis, const std::vector<double>& coef, double t) {
  const std::vector<double> p = ltm::evaluate(basis, {t});
  double s = 0;
  for (size_t n = 0; n < coef.size(); ++n) s += coef[n] * p[n];
  return s;
}

TEST(InfiniteMemory, RidgeReconstructsASmoothSignal) {
  const ltm::Basis basis = ltm::gaussian_basis(64, {0.02, 0.05});
  const int64_t L = 40;
  const ltm::Design d = ltm::first_update_design(L);
  ASSERT_EQ(static_cast<int64_t>(d.positions.size()), 2 * L);
  EXPECT_NEAR(d.positions[d.first_real], 0.5 / L, 1e-12);
  EXPECT_EQ(static_cast<int64_t>(ltm::first_update_design(7).positions.size()), 13);  // odd: 2L - 1
  std::vector<double> y;
  for (int64_t i = 0; i < L; ++i) y.push_back(std::sin(2.0 * M_PI * (i + 0.5) / L) * 0.8 + 0.3);
  const std::vector<double> coef = fit(basis, d, y, 1e-3);
  double err = 0;
  for (int64_t i = 0; i < L; ++i) err = std::max(err, std::fabs(signal(basis, coef, (i + 0.5) / L) - y[i]));
  EXPECT_LT(err, 0.1) << "ridge fit of a smooth signal (the pads pull the ends towards zero)";
  EXPECT_LT(std::fabs(signal(basis, coef, 1.4)), 0.05) << "the padded margins pull the signal to zero outside [0, 1]";
}

TEST(InfiniteMemory, ContractionKeepsTheOldSignalInZeroTau) {
  const ltm::Basis basis = ltm::gaussian_basis(64, {0.02, 0.05});
  const int64_t L = 32, M = 48;
  const double tau = 0.5, lambda = 1e-3;
  std::vector<double> y;
  for (int64_t i = 0; i < L; ++i) y.push_back(std::cos(2.0 * M_PI * (i + 0.5) / L));
  const std::vector<double> old = fit(basis, ltm::first_update_design(L), y, lambda);
  const ltm::Design d = ltm::contraction_design(M, L, tau);
  EXPECT_EQ(d.first_real, (M + L) / 2);
  std::vector<double> x;  // old samples at m/M, then new vectors (a constant 0.5)
  for (double u : ltm::uniform_samples(M)) x.push_back(signal(basis, old, u));
  for (int64_t j = 0; j < L; ++j) x.push_back(0.5);
  const std::vector<double> now = fit(basis, d, x, lambda);
  double err_old = 0, err_new = 0;
  for (double u = 0.1; u <= 0.9; u += 0.05) err_old = std::max(err_old, std::fabs(signal(basis, now, tau * u) - signal(basis, old, u)));
  for (int64_t j = 2; j <= L - 2; ++j) err_new = std::max(err_new, std::fabs(signal(basis, now, tau + (1 - tau) * j / L) - 0.5));
  EXPECT_LT(err_old, 0.1) << "X_new(tau u) ~ X_old(u)";
  EXPECT_LT(err_new, 0.1) << "new vectors recovered near tau + (1 - tau) j / L";
}

TEST(InfiniteMemory, StickySamplesLandInTheAttendedBin) {
  std::vector<double> mu(24, 0.3), sigma(24, 1e-5);
  const std::vector<double> p = ltm::sticky_bin_mass(mu.data(), sigma.data(), 24, 128);
  const int64_t bin = static_cast<int64_t>(std::floor(0.3 * 128));
  EXPECT_NEAR(p[bin], 1.0, 1e-9);
  const std::vector<double> u = ltm::sticky_samples(p, 64, PhiloxKey{7, 0}, 3, 0);
  for (double x : u) EXPECT_DOUBLE_EQ(x, static_cast<double>(bin) / 128.0);
  // Two modes: samples split between their bins, sorted, reproducible from (key, stream, offset).
  std::vector<double> mu2{0.15, 0.85}, sigma2{1e-4, 1e-4};
  const std::vector<double> p2 = ltm::sticky_bin_mass(mu2.data(), sigma2.data(), 2, 10);
  const std::vector<double> a = ltm::sticky_samples(p2, 200, PhiloxKey{1, 2}, 5, 10);
  EXPECT_EQ(a, ltm::sticky_samples(p2, 200, PhiloxKey{1, 2}, 5, 10));
  EXPECT_NE(a, ltm::sticky_samples(p2, 200, PhiloxKey{1, 2}, 6, 10));
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  const auto low = std::count(a.begin(), a.end(), 0.1), high = std::count(a.begin(), a.end(), 0.8);
  EXPECT_EQ(low + high, 200);
  EXPECT_GT(low, 70);
  EXPECT_GT(high, 70);
}

// ---- state across steps and resets
struct Tiny {
  explicit Tiny(const std::string& reset, const std::string& layers = "all", const std::string& integration = "gpt2",
                const std::string& segment = "0") {
    model = build_model("infinite", {{"vocab-size", "11"}, {"seq-len", "6"}, {"d-model", "8"}, {"n-layers", "2"},
                                     {"n-heads", "2"}, {"ltm-basis", "6"}, {"ltm-widths", "0.1,0.3"},
                                     {"ltm-samples", "4"}, {"memory-reset", reset}, {"ltm-layers", layers},
                                     {"integration", integration}, {"ltm-segment", segment}});
    model->declare(store);
    store.finalize();
    store.initialize(3);
  }
  double step(uint64_t seed, const uint8_t* starts) {
    OwnedTensor ids = test::random_ids({2, 6}, seed, 11), tgt = test::random_ids({2, 6}, seed + 1, 11);
    Batch b{ids, tgt, 0.0f};
    b.streams = streams;
    b.starts = starts;
    Rng rng(1, 0);
    const double v = to_host_doubles(model->loss_terms(g, store, b, rng, true).total->value)[0];
    g.clear();
    return v;
  }
  const int64_t streams[2] = {4, 9};
  Exec ex = cpu_exec(1);
  Arena arena;
  ParamStore store{DType::f32};
  std::unique_ptr<Model> model;
  Graph g{ex, arena};
};

TEST(InfiniteMemory, StepTwoDependsOnStepOneUnlessADocumentStarts) {
  const uint8_t none[2] = {0, 0}, both[2] = {1, 1};
  Tiny a("document"), b("document");
  a.step(10, nullptr);
  b.step(20, nullptr);  // another first segment
  const double after_a = a.step(30, none), after_b = b.step(30, none);
  EXPECT_NE(after_a, after_b) << "step 2 does not depend on step 1's segment";
  Tiny c("document"), d("document");
  c.step(10, nullptr);
  d.step(20, nullptr);
  EXPECT_EQ(c.step(30, both), d.step(30, both)) << "a document start did not clear the memory";
  Tiny fresh("document");
  EXPECT_EQ(fresh.step(30, nullptr), c.step(30, both)) << "after a reset the segment sees an empty memory";
  // tokens:N: the coefficients go after N vectors (memory in layer 0 only, whose inputs are the embeddings, so
  // no earlier segment reaches the memory inputs through a lower layer); never: the memory stays.
  Tiny t1("tokens:6", "0"), t2("tokens:6", "0"), n1("never"), n2("never");
  for (Tiny* m : {&t1, &n1}) m->step(10, nullptr), m->step(11, nullptr);
  for (Tiny* m : {&t2, &n2}) m->step(20, nullptr), m->step(11, nullptr);
  EXPECT_EQ(t1.step(12, nullptr), t2.step(12, nullptr)) << "tokens:6 kept coefficients older than 6 vectors";
  EXPECT_NE(n1.step(12, both), n2.step(12, both)) << "--memory-reset never reset at a document start";
}

TEST(InfiniteMemory, EvaluationStreamsCarryMemoryAndAreNeverSaved) {
  Tiny m("document");
  OwnedTensor x = test::random_ids({2, 6}, 40, 11), y = test::random_ids({2, 6}, 41, 11), z = test::random_ids({2, 6}, 42, 11);
  const int64_t eval[2] = {kEvalStreamBase, kEvalStreamBase + 1};
  const uint8_t start[2] = {1, 1}, cont[2] = {0, 0};
  auto run = [&](const OwnedTensor& ids, const uint8_t* starts) {
    Batch b{ids, ids, 0.0f};
    b.streams = eval;
    b.starts = starts;
    std::vector<double> v = to_host_doubles(m.model->stream_logits(m.g, m.store, b)->value);
    m.g.clear();
    return v;
  };
  const std::vector<double> plain = run(z, start);
  EXPECT_EQ(plain, [&] {
    std::vector<double> v = to_host_doubles(m.model->logits(m.g, m.store, z)->value);
    m.g.clear();
    return v;
  }()) << "a stream's first segment sees an empty memory";
  run(x, start);
  const std::vector<double> after_x = run(z, cont);
  run(y, start);
  EXPECT_NE(after_x, run(z, cont)) << "the next segment does not depend on the previous one";
  EXPECT_TRUE(m.model->save_state().empty()) << "evaluation streams were saved";
}

// ---- --integration xl (Transformer-XL: the STM over the previous segment's layer inputs, the offset attention)
TEST(InfiniteXl, StepTwoDependsOnStepOneThroughTheStmUnlessADocumentStarts) {
  const uint8_t none[2] = {0, 0}, both[2] = {1, 1}, first[2] = {1, 0};
  for (const char* layers : {"none", "all"}) {  // STM only (the Transformer-XL baseline), and with the LTM
    SCOPED_TRACE(layers);
    Tiny a("document", layers, "xl"), b("document", layers, "xl");
    EXPECT_TRUE(a.model->has_state());
    a.step(10, nullptr);
    b.step(20, nullptr);
    EXPECT_NE(a.step(30, none), b.step(30, none)) << "step 2 does not depend on step 1's segment";
    Tiny c("document", layers, "xl"), d("document", layers, "xl"), fresh("document", layers, "xl");
    c.step(10, nullptr);
    d.step(20, nullptr);
    const double reset = c.step(30, both);
    EXPECT_EQ(reset, d.step(30, both)) << "a document start did not clear the STM";
    EXPECT_EQ(fresh.step(30, nullptr), reset) << "after a reset the segment sees no mems";
    // One row continues, one starts (the row-by-row STM path): row 0 equals a fresh row 0.
    Tiny e("document", layers, "xl"), f("document", layers, "xl");
    e.step(10, nullptr);
    f.step(20, nullptr);
    EXPECT_NE(e.step(30, first), f.step(30, first)) << "the continuing row lost its mems";
  }
}

// Within one window of two segments, the second segment's logits depend on the first only through the STM
// (no LTM): they change with the first segment's tokens under xl, and not under gpt2.
TEST(InfiniteXl, SecondSegmentAttendsToTheFirst) {
  for (const char* integration : {"gpt2", "xl"}) {
    Tiny m("document", "none", integration, "3");
    OwnedTensor x = test::random_ids({2, 6}, 50, 11), y = test::random_ids({2, 6}, 50, 11);
    y.ptr<int32_t>()[0] = (x.ptr<int32_t>()[0] + 1) % 11;  // row 0, token 0 (segment 0) differs
    auto last = [&](const OwnedTensor& ids) {
      std::vector<double> v = to_host_doubles(m.model->logits(m.g, m.store, ids)->value);
      m.g.clear();
      return std::vector<double>(v.begin() + 3 * 11, v.begin() + 6 * 11);  // row 0, segment 1
    };
    if (std::string(integration) == "xl") EXPECT_NE(last(x), last(y)) << "xl: segment 1 does not see segment 0";
    else EXPECT_EQ(last(x), last(y)) << "gpt2 without LTM: segment 1 sees segment 0";
  }
}

// The saved state holds every layer's mems ("ltm.<l>.stm"), and a model that loads it continues exactly.
TEST(InfiniteXl, ResumeFromSavedStateIsExact) {
  Tiny a("document", "1", "xl"), b("document", "1", "xl");
  const uint8_t none[2] = {0, 0};
  a.step(10, nullptr);
  a.step(11, none);
  const std::vector<StateTensor> saved = a.model->save_state();
  int stm = 0;
  for (const StateTensor& t : saved) stm += t.name.find(".stm") != std::string::npos;
  EXPECT_EQ(stm, 4) << "two streams x two layers of mems";
  b.model->load_state(saved);
  EXPECT_EQ(a.step(12, none), b.step(12, none));
  EXPECT_EQ(a.step(13, none), b.step(13, none));
  Tiny gpt2("document");
  EXPECT_NE(test::error_of([&] { gpt2.model->load_state(saved); }).find("is an --integration xl memory"),
            std::string::npos);
}

TEST(InfiniteMemory, FlagErrorsNameTheFlag) {
  auto error = [](std::map<std::string, std::string> f) {
    f["vocab-size"] = "11";
    return test::error_of([&] { build_model("infinite", f); });
  };
  EXPECT_NE(error({{"integration", "xl"}, {"d-model", "6"}, {"n-heads", "2"}}).find("--integration xl rotates"),
            std::string::npos);
  EXPECT_NE(error({{"integration", "gpt3"}}).find("--integration must be gpt2 or xl"), std::string::npos);
  EXPECT_NE(error({{"ltm-basis", "7"}}).find("--ltm-basis"), std::string::npos);
  EXPECT_NE(error({{"ltm-tau", "1.5"}}).find("--ltm-tau"), std::string::npos);
  EXPECT_NE(error({{"memory-reset", "tokens:x"}}).find("--memory-reset"), std::string::npos);
  EXPECT_NE(error({{"ltm-layers", "0,7"}}).find("--ltm-layers"), std::string::npos);
  EXPECT_NE(error({{"ltm-widths", "0.1,a"}}).find("--ltm-widths"), std::string::npos);
}

}  // namespace
}  // namespace weft::models
