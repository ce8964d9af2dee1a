// Generic tests of every registered model family (models/families.inc), each at every tiny configuration
// it lists in ModelFamily::test_configs, so a new family gets them by registering: causality (f32 and f64),
// an fp64 finite-difference check of the whole model (evaluation and training mode), auxiliary terms, taps,
// state across steps, max_seq_len, and the registry's consistency (conflicting flag declarations, defaults,
// errors that name the flag). The same configurations run through `weft train` in tests/cli/test_families_*.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "models/registry.h"
#include "tests/harness/gradcheck.h"

namespace weft::models {
namespace {

using test::error_of;
using test::random_ids;
using test::to_host_doubles;

constexpr int64_t kVocab = 11;   // --vocab-size of every in-process test
constexpr int64_t kSeqLen = 9;   // --seq-len: learned positions have exactly the rows the batches use
constexpr int64_t kB = 2, kT = 9;

struct FamilyCase {
  std::string family;
  TestConfig config;
};

// CTest names carry the parameter's printout: keep it short and stable.
void PrintTo(const FamilyCase& c, std::ostream* os) { *os << c.family << "/" << c.config.name; }

std::vector<FamilyCase> all_cases() {
  std::vector<FamilyCase> cases;
  for (const ModelFamily& f : model_families())
    for (const TestConfig& c : family_test_configs(f)) cases.push_back({f.name, c});
  return cases;
}

std::string case_name(const FamilyCase& c) {
  std::string s = c.family + "_" + c.config.name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// The value of one of the family's flags in this configuration (its override, else its default).
std::string flag_value(const FamilyCase& c, const std::string& key) {
  auto it = c.config.flags.find(key);
  if (it != c.config.flags.end()) return it->second;
  for (const Flag& f : model_flags(find_model_family(c.family)))
    if (f.key == key) return f.default_value;
  return "";
}

// A model of the case's configuration with initialised parameters in a store of dtype `dt`, perturbed
// (larger than the init, so every path carries a visible gradient), and a graph to run it on.
struct Instance {
  Instance(const FamilyCase& c, DType dt, int64_t seq_len = kSeqLen) : store(dt) {
    std::map<std::string, std::string> flags = c.config.flags;
    flags["vocab-size"] = std::to_string(kVocab);
    flags["seq-len"] = std::to_string(seq_len);
    model = build_model(c.family, flags);
    model->declare(store);
    store.finalize();
    store.initialize(11);
    Rng r(5, 1);
    for (int64_t i = 0; i < store.total(); ++i) {
      const double noise = 0.3 * (r.uniform() - 0.5);
      if (dt == DType::f64) store.values().ptr<double>()[i] += noise;
      else store.values().ptr<float>()[i] += static_cast<float>(noise);
    }
  }
  std::vector<double> logits(const Tensor& ids) {
    g.grad_enabled = false;
    std::vector<double> out = to_host_doubles(model->logits(g, store, ids)->value);
    g.clear();
    g.grad_enabled = true;
    return out;
  }
  // The total of loss_terms as a double; state is read and written when training with streams.
  double total(const Batch& batch, bool training, bool grad = false) {
    Rng rng(99, 0);
    g.grad_enabled = grad;
    LossTerms lt = model->loss_terms(g, store, batch, rng, training);
    const double v = to_host_doubles(lt.total->value)[0];
    if (grad) g.backward(lt.total);
    g.clear();
    g.grad_enabled = true;
    return v;
  }

  Exec ex = cpu_exec(1);
  Arena arena;
  ParamStore store;
  std::unique_ptr<Model> model;
  Graph g{ex, arena};
};

// Random (B, T) inputs and targets with one ignored target.
struct Data {
  explicit Data(uint64_t seed, int64_t T = kT)
      : ids(random_ids({kB, T}, seed, kVocab)), targets(random_ids({kB, T}, seed + 100, kVocab)) {
    targets.ptr<int32_t>()[3] = -100;
  }
  Batch batch(float normalizer = 0.0f, const int64_t* streams = nullptr) const {
    Batch b{ids, targets, normalizer};
    b.streams = streams;
    return b;
  }
  OwnedTensor ids, targets;
};

class Family : public ::testing::TestWithParam<FamilyCase> {};

// ---- causality: logits at positions < j never depend on token j, in f32 and f64, bit for bit (to the
// last bits for families whose rounding follows the batch: ModelFamily::batch_rounding).
TEST_P(Family, ChangingTokenJNeverChangesEarlierLogits) {
  const bool batch_rounding = find_model_family(GetParam().family).batch_rounding;
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = batch_rounding ? (dt == DType::f32 ? 1e-6 : 1e-12) : 0.0;
    Instance m(GetParam(), dt);
    Data d(1);
    const std::vector<double> base = m.logits(d.ids);
    ASSERT_EQ(base.size(), static_cast<size_t>(kB * kT * kVocab));
    for (int64_t j : {int64_t{1}, int64_t{4}, kT - 1}) {
      OwnedTensor ids(DType::i32, {kB, kT});
      std::copy(d.ids.ptr<int32_t>(), d.ids.ptr<int32_t>() + kB * kT, ids.ptr<int32_t>());
      for (int64_t b = 0; b < kB; ++b) {
        int32_t& id = ids.ptr<int32_t>()[b * kT + j];
        id = static_cast<int32_t>((id + 1 + b) % kVocab);
      }
      const std::vector<double> changed = m.logits(ids);
      double scale = 0;
      for (double x : base) scale = std::max(scale, std::fabs(x));
      for (int64_t b = 0; b < kB; ++b) {
        int64_t earlier_changed = 0, later_changed = 0;
        for (int64_t t = 0; t < kT; ++t)
          for (int64_t v = 0; v < kVocab; ++v) {
            const size_t i = static_cast<size_t>((b * kT + t) * kVocab + v);
            if (std::fabs(base[i] - changed[i]) > tol * scale) ++(t < j ? earlier_changed : later_changed);
          }
        EXPECT_EQ(earlier_changed, 0) << dtype_name(dt) << ": token " << j << " of row " << b << " changed "
                                      << earlier_changed << " logits at earlier positions";
        EXPECT_GT(later_changed, 0) << dtype_name(dt) << ": token " << j << " of row " << b
                                    << " changed no logit at positions >= " << j << " (the test would be vacuous)";
      }
    }
  }
}

// ---- fp64 gradient check of the whole model: every parameter tensor, a sample of its elements.
struct GradReport {
  double max_rel = 0.0;           // max |analytic - numeric| / max |numeric| over all sampled elements
  std::string silent;             // parameters whose sampled analytic gradients are all zero
  std::string worst;              // the parameter with the largest error
};

GradReport check_gradients(const FamilyCase& c, bool training) {
  Instance m(c, DType::f64);
  Data d(2);
  const int64_t streams[kB] = {0, 1};
  // Training mode: a normalizer other than the token count (aux terms scale by the token share) and the
  // streams; a stateful family first fills its state, restored before every evaluation.
  const Batch batch = training ? d.batch(1.5f * static_cast<float>(kB * kT), streams) : d.batch();
  std::vector<StateTensor> state;
  if (training && m.model->has_state()) {
    Data warm(3);
    m.total(warm.batch(0.0f, streams), true);
    state = m.model->save_state();
  }
  auto loss_at = [&](bool grad) {
    if (training && m.model->has_state()) m.model->load_state(state);
    return m.total(batch, training, grad);
  };
  m.store.zero_grads();
  loss_at(true);
  const std::vector<double> analytic = to_host_doubles(m.store.grads());
  GradReport r;
  double max_err = 0, max_num = 0, worst_err = -1;
  Rng pick(3, 3);
  const double eps = 1e-6;
  for (int id = 0; id < m.store.size(); ++id) {
    const ParamInfo& info = m.store.info(id);
    double tensor_err = 0, tensor_analytic = 0;
    for (int k = 0; k < 6; ++k) {
      const int64_t i = info.offset + static_cast<int64_t>(pick.next_u64() % static_cast<uint64_t>(info.shape.numel()));
      double* p = m.store.values().ptr<double>() + i;
      const double saved = *p;
      *p = saved + eps;
      const double fp = loss_at(false);
      *p = saved - eps;
      const double fm = loss_at(false);
      *p = saved;
      const double num = (fp - fm) / (2 * eps);
      tensor_err = std::max(tensor_err, std::fabs(num - analytic[i]));
      tensor_analytic = std::max(tensor_analytic, std::fabs(analytic[i]));
      max_num = std::max(max_num, std::fabs(num));
    }
    if (tensor_analytic == 0.0) r.silent += " " + info.name;
    if (tensor_err > worst_err) {
      worst_err = tensor_err;
      r.worst = info.name;
    }
    max_err = std::max(max_err, tensor_err);
  }
  r.max_rel = max_err / max_num;
  return r;
}

TEST_P(Family, Fp64GradientOfTheWholeModel) {
  for (bool training : {false, true}) {
    GradReport r = check_gradients(GetParam(), training);
    EXPECT_LT(r.max_rel, 1e-6) << (training ? "training" : "evaluation") << " mode; worst parameter " << r.worst;
    EXPECT_EQ(r.silent, "") << (training ? "training" : "evaluation")
                            << " mode: parameters without any gradient on the sampled elements";
  }
}

// ---- auxiliary terms: unique names, one element each, and what they add to the total.
double cross_entropy_of(const std::vector<double>& logits, const OwnedTensor& targets, double normalizer) {
  double sum = 0;
  int64_t counted = 0;
  for (int64_t n = 0; n < targets.numel(); ++n) {
    const int32_t y = targets.ptr<int32_t>()[n];
    if (y == -100) continue;
    const double* row = logits.data() + n * kVocab;
    const double mx = *std::max_element(row, row + kVocab);
    double s = 0;
    for (int64_t v = 0; v < kVocab; ++v) s += std::exp(row[v] - mx);
    sum += mx + std::log(s) - row[y];
    ++counted;
  }
  return sum / (normalizer > 0 ? normalizer : static_cast<double>(counted));
}

TEST_P(Family, AuxTermsAreNamedScalarsInsideTheTotal) {
  const FamilyCase& c = GetParam();
  Instance m(c, DType::f64);
  Data d(4);
  const float normalizer = 2.0f * static_cast<float>(kB * kT);  // token share 1/2
  const Batch batch = d.batch(normalizer);
  Rng rng(99, 0);
  m.g.grad_enabled = false;
  LossTerms lt = m.model->loss_terms(m.g, m.store, batch, rng, false);
  const double total = to_host_doubles(lt.total->value)[0];
  ASSERT_EQ(lt.total->value.numel(), 1);
  std::set<std::string> names;
  std::map<std::string, double> aux;
  for (const AuxTerm& a : lt.aux) {
    EXPECT_TRUE(names.insert(a.name).second) << "aux term '" << a.name << "' twice";
    EXPECT_FALSE(a.name.empty());
    ASSERT_NE(a.value, nullptr) << a.name;
    ASSERT_EQ(a.value->value.numel(), 1) << a.name << ": " << a.value->value.str();
    aux[a.name] = to_host_doubles(a.value->value)[0];
    EXPECT_TRUE(std::isfinite(aux[a.name])) << a.name;
  }
  m.g.clear();
  // The default loss() is the total of loss_terms().
  {
    Rng rng2(99, 0);
    m.g.grad_enabled = false;
    const double plain = to_host_doubles(m.model->loss(m.g, m.store, batch, rng2, false)->value)[0];
    m.g.clear();
    EXPECT_EQ(plain, total) << "loss() and loss_terms().total differ";
  }
  const double xent = cross_entropy_of(m.logits(d.ids), d.targets, normalizer);
  // ops::cross_entropy and ops::scale take f32 factors (1/normalizer, weight x share) even on an f64 graph,
  // so the f64 total matches an exact sum to about 1e-7 relative.
  const double tol = 1e-7 * std::fabs(total);
  if (c.family == "bag") {
    ASSERT_EQ(aux.count("bag_l2"), 1u);
    const double weight = std::stod(flag_value(c, "bag-l2"));
    const double expected = weight * batch.token_share() * aux["bag_l2"];
    EXPECT_GT(aux["bag_l2"], 0.0);
    EXPECT_GT(std::fabs(expected), 100 * tol) << "the aux term is too small to be seen";
    EXPECT_NEAR(total - xent, expected, tol) << "total = cross-entropy + l2 * share * bag_l2";
  } else if (aux.empty()) {
    EXPECT_NEAR(total, xent, tol) << "no aux terms: the total is the cross-entropy";
  }
}

// ---- taps: "embed" and "blocks.0.out" (B, T, C); gradients after a backward; the loss is unchanged.
TEST_P(Family, TapsOfferEmbedAndFirstBlockWithoutChangingTheLoss) {
  Instance m(GetParam(), DType::f32);
  Data d(5);
  const double plain = m.total(d.batch(), false, true);
  m.store.zero_grads();
  Taps taps({"embed", "blocks.0.out"});
  m.model->set_taps(&taps);
  Rng rng(99, 0);
  LossTerms lt = m.model->loss_terms(m.g, m.store, d.batch(), rng, false);
  const double tapped = to_host_doubles(lt.total->value)[0];
  EXPECT_EQ(tapped, plain) << "tapping changed the loss";
  Var embed = taps.find("embed"), out = taps.find("blocks.0.out");
  ASSERT_NE(embed, nullptr) << "no \"embed\" tap";
  ASSERT_NE(out, nullptr) << "no \"blocks.0.out\" tap";
  for (Var v : {embed, out}) {
    ASSERT_EQ(v->value.shape.rank, 3) << v->value.str();
    EXPECT_EQ(v->value.shape[0], kB);
    EXPECT_EQ(v->value.shape[1], kT);
  }
  EXPECT_EQ(embed->value.shape[2], out->value.shape[2]) << "embed and blocks.0.out differ in width";
  for (const auto& [name, v] : taps.captured()) EXPECT_TRUE(taps.wants(name)) << "captured unrequested " << name;
  m.g.backward(lt.total);
  for (Var v : {embed, out}) {
    ASSERT_TRUE(v->grad.defined()) << "a tap has no gradient after the backward";
    const std::vector<double> grad = to_host_doubles(v->grad);
    EXPECT_TRUE(std::any_of(grad.begin(), grad.end(), [](double x) { return x != 0.0; })) << "zero tap gradient";
  }
  m.g.clear();
  taps.clear();
  m.model->set_taps(nullptr);
  // A prefix pattern captures at least the two required names too.
  Taps all({"*"});
  m.model->set_taps(&all);
  EXPECT_EQ(m.total(d.batch(), false), plain);
  m.model->set_taps(nullptr);
}

// ---- state across steps
bool same_state(const std::vector<StateTensor>& a, const std::vector<StateTensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].stream != b[i].stream || a[i].name != b[i].name) return false;
    if (to_host_doubles(a[i].value) != to_host_doubles(b[i].value)) return false;
  }
  return true;
}

TEST_P(Family, StateSavedAndLoadedResumesExactly) {
  Instance m(GetParam(), DType::f32);
  Data x(6), y(7), z(8);
  const int64_t s01[kB] = {0, 1}, s78[kB] = {7, 8};
  if (!m.model->has_state()) {  // stateless: repeated training calls see no hidden state
    const double a = m.total(z.batch(0.0f, s01), true), b = m.total(z.batch(0.0f, s01), true);
    EXPECT_EQ(a, b);
    EXPECT_TRUE(m.model->save_state().empty());
    return;
  }
  m.model->reset_state();
  m.total(x.batch(0.0f, s01), true);
  m.total(y.batch(0.0f, s01), true);
  const std::vector<StateTensor> saved = m.model->save_state();
  ASSERT_FALSE(saved.empty()) << "two training steps with streams left no state";
  for (const StateTensor& s : saved) EXPECT_TRUE(s.stream == -1 || s.stream == 0 || s.stream == 1) << s.stream;
  // Evaluation neither reads nor writes the state.
  const std::vector<double> logits_with_state = m.logits(z.ids);
  const double eval_with_state = m.total(z.batch(0.0f, s01), false);
  EXPECT_TRUE(same_state(m.model->save_state(), saved)) << "logits() or an evaluation loss changed the state";
  const double next = m.total(z.batch(0.0f, s01), true);
  m.model->reset_state();
  EXPECT_TRUE(m.model->save_state().empty()) << "reset_state() left state behind";
  EXPECT_EQ(m.logits(z.ids), logits_with_state) << "logits() reads the state";
  EXPECT_EQ(m.total(z.batch(0.0f, s01), false), eval_with_state) << "an evaluation loss reads the state";
  const double fresh = m.total(z.batch(0.0f, s01), true);
  EXPECT_NE(fresh, next) << "the state has no effect on the loss (the test would be vacuous)";
  m.model->reset_state();
  m.model->load_state(saved);
  EXPECT_TRUE(same_state(m.model->save_state(), saved)) << "save_state(load_state(s)) != s";
  EXPECT_EQ(m.total(z.batch(0.0f, s01), true), next) << "load_state did not restore the exact behaviour";
  // Streams absent from the state start from zero state.
  m.model->reset_state();
  m.model->load_state(saved);
  EXPECT_EQ(m.total(z.batch(0.0f, s78), true), fresh) << "streams absent from the state";
}

// ---- max_seq_len: a finite limit refuses longer inputs with a weft::Error; unbounded runs longer.
TEST_P(Family, MaxSeqLenIsEnforced) {
  Instance m(GetParam(), DType::f32);
  const int64_t limit = m.model->max_seq_len();
  if (limit == kUnboundedLength) {
    Data longer(9, 2 * kSeqLen + 1);
    EXPECT_EQ(m.logits(longer.ids).size(), static_cast<size_t>(kB * (2 * kSeqLen + 1) * kVocab));
    EXPECT_TRUE(std::isfinite(m.total(longer.batch(), false)));
    return;
  }
  ASSERT_GE(limit, kT);
  ASSERT_LT(limit, 64) << "a finite limit far above --seq-len " << kSeqLen;
  Data at(9, limit), over(9, limit + 1);
  EXPECT_EQ(m.logits(at.ids).size(), static_cast<size_t>(kB * limit * kVocab));
  std::string e = error_of([&] { m.logits(over.ids); });
  m.g.clear();
  EXPECT_NE(e, "") << "logits() at length " << limit + 1 << " > max_seq_len " << limit;
  e = error_of([&] { m.total(over.batch(), true); });
  m.g.clear();
  EXPECT_NE(e, "") << "loss at length " << limit + 1 << " > max_seq_len " << limit;
  EXPECT_NE(e.find(std::to_string(limit)), std::string::npos) << e;
}

INSTANTIATE_TEST_SUITE_P(Registered, Family, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return case_name(info.param); });

TEST(FamilyLimits, TransformerWithLearnedPositionsHasAFiniteLength) {
  auto learned = build_model("transformer", {{"vocab-size", "11"}, {"seq-len", "7"}, {"position", "learned"}});
  EXPECT_EQ(learned->max_seq_len(), 7);
  auto rope = build_model("transformer", {{"vocab-size", "11"}, {"seq-len", "7"}, {"position", "rope"}});
  EXPECT_EQ(rope->max_seq_len(), kUnboundedLength);
}

// ---- the registry
TEST(Registry, RegisteredFamiliesDoNotConflict) {
  const std::vector<std::string> problems = registry_conflicts(model_families());
  std::string all;
  for (const std::string& p : problems) all += p + "\n";
  EXPECT_TRUE(problems.empty()) << all;
}

TEST(Registry, NamesAreUniqueAndEveryFamilyHasATestConfiguration) {
  const std::vector<std::string> names = model_names();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  EXPECT_EQ(names.front(), shared_model_flags().front().default_value) << "--model's default is the first family";
  for (const ModelFamily& f : model_families()) {
    EXPECT_EQ(&find_model_family(f.name), &f);
    std::set<std::string> configs;
    for (const TestConfig& c : family_test_configs(f)) {
      EXPECT_TRUE(configs.insert(c.name).second) << f.name << ": test configuration '" << c.name << "' twice";
      for (const auto& [key, value] : c.flags)
        EXPECT_TRUE(key != "vocab-size" && key != "seq-len" && key != "model")
            << f.name << "/" << c.name << " sets --" << key << " (the tests set it)";
    }
  }
  EXPECT_NE(error_of([] { find_model_family("no-such-model"); }).find("--model"), std::string::npos);
}

std::vector<Flag> fake_a() {
  return {Flag::integer("width", 8, "width"), Flag::real("rate", 0.5, "rate"), Flag::text("kind", "x", "kind")};
}
std::vector<Flag> fake_same() { return {Flag::integer("width", 8, "width")}; }
std::vector<Flag> fake_default() { return {Flag::integer("width", 16, "width")}; }
std::vector<Flag> fake_type() { return {Flag::real("rate", 0.5, "rate"), Flag::integer("kind", 0, "kind")}; }
std::vector<Flag> fake_help() { return {Flag::real("rate", 0.5, "learning rate")}; }
std::vector<Flag> fake_twice() { return {Flag::integer("depth", 2, "depth"), Flag::integer("depth", 2, "depth")}; }
std::vector<Flag> fake_shared() { return {Flag::integer("seq-len", 512, "training context length")}; }

std::string conflicts_of(std::vector<std::vector<Flag> (*)()> flag_lists) {
  std::vector<ModelFamily> fams;
  for (size_t i = 0; i < flag_lists.size(); ++i) fams.push_back({"fake" + std::to_string(i), "", flag_lists[i], nullptr});
  std::string all;
  for (const std::string& p : registry_conflicts(fams)) all += p + "\n";
  return all;
}

TEST(Registry, ConflictingDeclarationsAreReportedByKey) {
  EXPECT_EQ(conflicts_of({&fake_a, &fake_same}), "") << "the same key with the same meaning is shared";
  std::string m = conflicts_of({&fake_a, &fake_default});
  EXPECT_NE(m.find("--width"), std::string::npos) << "another default: " << m;
  EXPECT_NE(m.find("'16'"), std::string::npos) << m;
  m = conflicts_of({&fake_a, &fake_type});
  EXPECT_NE(m.find("--kind"), std::string::npos) << "another type: " << m;
  EXPECT_EQ(m.find("--rate"), std::string::npos) << m;
  m = conflicts_of({&fake_a, &fake_help});
  EXPECT_NE(m.find("--rate"), std::string::npos) << "another help: " << m;
  m = conflicts_of({&fake_twice});
  EXPECT_NE(m.find("--depth"), std::string::npos) << "one family, one key twice: " << m;
  EXPECT_NE(m.find("twice"), std::string::npos) << m;
  m = conflicts_of({&fake_shared});
  EXPECT_NE(m.find("--seq-len"), std::string::npos) << "a shared flag redeclared: " << m;
  // Every registered family against a fake that redeclares each of its keys with another default.
  for (const ModelFamily& f : model_families()) {
    for (const Flag& flag : f.flags()) {
      std::vector<ModelFamily> fams = model_families();
      static Flag changed;
      changed = flag;
      changed.default_value += "0";
      fams.push_back({"fake", "", [] { return std::vector<Flag>{changed}; }, nullptr});
      std::string all;
      for (const std::string& p : registry_conflicts(fams)) all += p;
      EXPECT_NE(all.find("--" + flag.key), std::string::npos) << f.name << " --" << flag.key;
    }
  }
}

TEST(Registry, EveryFamilyBuildsWithDefaultsAndErrorsNameTheFlag) {
  for (const ModelFamily& f : model_families()) {
    SCOPED_TRACE(f.name);
    // Every default parses as its type.
    FlagValues defaults = FlagValues::defaults(model_flags(f));
    for (const Flag& flag : model_flags(f)) {
      switch (flag.type) {
        case Flag::Type::integer: EXPECT_NO_THROW(defaults.integer(flag.key)) << flag.key; break;
        case Flag::Type::real: EXPECT_NO_THROW(defaults.real(flag.key)) << flag.key; break;
        case Flag::Type::boolean: EXPECT_NO_THROW(defaults.boolean(flag.key)) << flag.key; break;
        case Flag::Type::text: break;
      }
    }
    std::unique_ptr<Model> model;
    ASSERT_EQ(error_of([&] { model = build_model(f.name, {{"vocab-size", "13"}}); }), "");
    EXPECT_EQ(model->name(), f.name);
    EXPECT_EQ(model->vocab_size(), 13);
    EXPECT_GT(model->flops_per_token(16), 0.0);
    ParamStore store;
    model->declare(store);
    store.finalize();
    EXPECT_GT(store.numel(), 0);
    // A value that does not parse, or fails validation, names its flag.
    for (const Flag& flag : f.flags()) {
      if (flag.type == Flag::Type::text) continue;
      const std::string e = error_of([&] { build_model(f.name, {{"vocab-size", "13"}, {flag.key, "x?"}}); });
      EXPECT_NE(e.find("--" + flag.key), std::string::npos) << "--" << flag.key << " x?: '" << e << "'";
    }
    if (model_flags(f).size() > 3 && FlagValues::defaults(model_flags(f)).has("d-model")) {
      const std::string e = error_of([&] { build_model(f.name, {{"vocab-size", "13"}, {"d-model", "-3"}}); });
      EXPECT_NE(e.find("--d-model"), std::string::npos) << "'" << e << "'";
    }
    EXPECT_NE(error_of([&] { build_model(f.name, {{"vocab-size", "1"}}); }).find("--vocab-size"), std::string::npos);
    // A key the family does not declare (another family's, or none at all) is refused by name.
    EXPECT_NE(error_of([&] { build_model(f.name, {{"no-such-flag", "1"}}); }).find("--no-such-flag"), std::string::npos);
    for (const ModelFamily& other : model_families()) {
      for (const Flag& flag : other.flags()) {
        if (defaults.has(flag.key)) continue;
        const std::string e = error_of([&] { build_model(f.name, {{flag.key, flag.default_value}}); });
        EXPECT_NE(e.find("--" + flag.key), std::string::npos) << other.name << "'s --" << flag.key << ": '" << e << "'";
      }
    }
  }
}

}  // namespace
}  // namespace weft::models
