// The MoEUT paper's dense pre-LN RoPE baseline as a transformer (spec moeut.md A.6, A.7): --head-dim,
// --attn-bias / --ffn-bias / --head-bias, --decay-all, --init scaled. The 44M and 126M configurations build
// with the exact parameter counts derived from their shapes, the presets in cluster/configs/ parse to those
// models, the scaled init has the right std per tensor (statistically), the defaults change nothing, and
// bad combinations name the flag.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "launch/model_options.h"
#include "models/registry.h"
#include "models/transformer/transformer.h"
#include "tests/harness/fixture.h"

namespace weft::models {
namespace {

// A.7's dense 44M: d 412, L 16, H 10, dh 41 (H dh = 410 != d), dff 2053, V 8000.
std::map<std::string, std::string> baseline_44m() {
  return {{"vocab-size", "8000"}, {"seq-len", "1024"},       {"d-model", "412"},      {"n-layers", "16"},
          {"n-heads", "10"},      {"head-dim", "41"},        {"d-ff", "2053"},        {"position", "rope"},
          {"rope-fraction", "0.5"}, {"activation", "relu"},  {"attn-bias", "false"},  {"tie-embeddings", "false"},
          {"head-bias", "true"},  {"init", "scaled"},        {"decay-all", "true"}};
}

int64_t declared_params(Model& m) {
  ParamStore store;
  m.declare(store);
  return store.numel();
}

// Per layer: 2 LayerNorms (2d each), q|k|v 3 H dh d, output d H dh (no attention bias), FFN dff d + dff and
// d dff + d; then embedding V d, final LayerNorm 2d, head V d + V.
int64_t formula(int64_t d, int64_t L, int64_t H, int64_t dh, int64_t F, int64_t V) {
  const int64_t layer = 4 * d + 3 * H * dh * d + d * H * dh + (F * d + F) + (d * F + d);
  return L * layer + V * d + 2 * d + (V * d + V);
}

TEST(DenseBaseline, The44MConfigurationHasTheDerivedParameterCount) {
  auto m = build_model("transformer", baseline_44m());
  auto& t = dynamic_cast<Transformer&>(*m);
  EXPECT_EQ(t.config().head_size(), 41);
  EXPECT_EQ(t.config().rope_channels(), 20);  // the even-rounded half of 41
  ParamStore store;
  m->declare(store);
  EXPECT_EQ(formula(412, 16, 10, 41, 2053, 8000), 44544264);
  EXPECT_EQ(store.numel(), 44544264);  // A.7: 44.5M
  EXPECT_EQ(store.info(store.find("blocks.0.attn.qkv.weight")).shape, (Shape{1230, 412}));
  EXPECT_EQ(store.info(store.find("blocks.0.attn.proj.weight")).shape, (Shape{412, 410}));
  EXPECT_EQ(store.find("blocks.0.attn.qkv.bias"), -1);
  EXPECT_EQ(store.find("blocks.0.attn.proj.bias"), -1);
  EXPECT_NE(store.find("blocks.0.mlp.fc.bias"), -1);
  EXPECT_NE(store.find("blocks.0.mlp.proj.bias"), -1);
  EXPECT_NE(store.find("blocks.0.ln1.bias"), -1);
  EXPECT_EQ(store.info(store.find("lm_head.bias")).shape, (Shape{8000}));
  for (int id = 0; id < store.size(); ++id)  // A.8: weight decay on every parameter
    EXPECT_TRUE(store.info(id).weight_decay) << store.info(id).name;
}

TEST(DenseBaseline, The126MConfigurationHasTheDerivedParameterCount) {
  auto f = baseline_44m();
  f["d-model"] = "768";
  f["n-heads"] = "16";
  f["head-dim"] = "48";
  f["d-ff"] = "3072";
  auto m = build_model("transformer", f);
  EXPECT_EQ(formula(768, 16, 16, 48, 3072, 8000), 125654336);
  EXPECT_EQ(declared_params(*m), 125654336);  // A.7: 125.7M
}

// The presets build exactly these models ([model] section through the launcher's config reader).
TEST(DenseBaseline, PresetsBuildTheBaselines) {
  for (const auto& [file, count] : {std::pair{"dense_44m.ini", int64_t{44544264}},
                                    std::pair{"dense_126m.ini", int64_t{125654336}}}) {
    std::ifstream in(test::fixture_dir() + "/../../cluster/configs/" + file);
    ASSERT_TRUE(in) << file;
    std::stringstream ss;
    ss << in.rdbuf();
    int64_t seq_len = 0;
    auto m = launch::make_model_from_ini(ss.str(), &seq_len);
    EXPECT_EQ(seq_len, 1024) << file;
    EXPECT_EQ(m->vocab_size(), 8000) << file;
    EXPECT_EQ(declared_params(*m), count) << file;
  }
}

double sample_std(const Tensor& t) {
  const float* p = t.ptr<float>();
  const int64_t n = t.numel();
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; ++i) s += p[i];
  const double mean = s / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) s2 += (p[i] - mean) * (p[i] - mean);
  return std::sqrt(s2 / static_cast<double>(n - 1));
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(static_cast<double>(t.ptr<float>()[i])));
  return m;
}

TEST(DenseBaseline, ScaledInitHasTheSpecStdPerTensor) {
  // Small but with every kind of tensor: d 64, L 4, H 4, dh 24 (H dh = 96), dff 160, V 512.
  const int64_t d = 64, L = 4, A = 96, F = 160, V = 512;
  auto f = baseline_44m();
  f["vocab-size"] = "512";
  f["d-model"] = "64";
  f["n-layers"] = "4";
  f["n-heads"] = "4";
  f["head-dim"] = "24";
  f["d-ff"] = "160";
  auto m = build_model("transformer", f);
  ParamStore store;
  m->declare(store);
  store.finalize();
  store.initialize(1234);
  auto expect_std = [&](const std::string& name, double want) {
    const double got = sample_std(store.value(store.find(name)));
    EXPECT_NEAR(got / want, 1.0, 0.05) << name << ": std " << got << ", want " << want;
  };
  auto scaled = [&](int64_t fan_in) { return std::sqrt(2.0 / (static_cast<double>(L) * static_cast<double>(fan_in))); };
  for (int l = 0; l < L; ++l) {
    const std::string p = "blocks." + std::to_string(l);
    expect_std(p + ".attn.qkv.weight", scaled(d));
    expect_std(p + ".attn.proj.weight", scaled(A));
    expect_std(p + ".mlp.fc.weight", scaled(d));
    expect_std(p + ".mlp.proj.weight", scaled(F));
    EXPECT_EQ(max_abs(store.value(store.find(p + ".mlp.fc.bias"))), 0.0);
    EXPECT_EQ(max_abs(store.value(store.find(p + ".mlp.proj.bias"))), 0.0);
    EXPECT_EQ(max_abs(store.value(store.find(p + ".ln1.bias"))), 0.0);
  }
  expect_std("tok_emb.weight", 1.0 / std::sqrt(static_cast<double>(d)));  // kaiming_normal fan_in on (V, d)
  const double bound = 1.0 / std::sqrt(static_cast<double>(d));           // nn.Linear default head
  expect_std("lm_head.weight", bound / std::sqrt(3.0));
  EXPECT_LE(max_abs(store.value(store.find("lm_head.weight"))), bound);
  EXPECT_LE(max_abs(store.value(store.find("lm_head.bias"))), bound);
  EXPECT_GT(max_abs(store.value(store.find("lm_head.bias"))), 0.5 * bound);
  (void)V;
}

TEST(DenseBaseline, DefaultsAreTodaysTransformer) {
  // No new flag given: GPT-2 init, biases everywhere per --bias, no head bias, norms and biases not decayed,
  // square heads; --bias false still removes every linear bias.
  auto m = build_model("transformer", {{"vocab-size", "64"}, {"d-model", "32"}, {"n-layers", "2"}, {"n-heads", "4"}});
  ParamStore store;
  m->declare(store);
  store.finalize();
  store.initialize(7);
  EXPECT_EQ(store.info(store.find("blocks.0.attn.qkv.weight")).shape, (Shape{96, 32}));
  EXPECT_NE(store.find("blocks.0.attn.qkv.bias"), -1);
  EXPECT_NE(store.find("blocks.0.mlp.fc.bias"), -1);
  EXPECT_EQ(store.find("lm_head.weight"), -1);
  EXPECT_FALSE(store.info(store.find("blocks.0.mlp.fc.bias")).weight_decay);
  EXPECT_FALSE(store.info(store.find("blocks.0.ln1.weight")).weight_decay);
  EXPECT_EQ(store.info(store.find("blocks.0.attn.qkv.weight")).init.a, 0.02);
  EXPECT_EQ(store.info(store.find("blocks.0.attn.proj.weight")).init.a, 0.02 / std::sqrt(4.0));
  EXPECT_EQ(store.info(store.find("tok_emb.weight")).init.a, 0.02);
  auto nobias = build_model("transformer", {{"vocab-size", "64"}, {"d-model", "32"}, {"n-heads", "4"}, {"bias", "false"}});
  ParamStore s2;
  nobias->declare(s2);
  for (int id = 0; id < s2.size(); ++id)
    EXPECT_EQ(s2.info(id).name.find(".bias"), std::string::npos) << s2.info(id).name;
  // attn-bias / ffn-bias override --bias either way.
  auto mixed = build_model("transformer", {{"vocab-size", "64"}, {"d-model", "32"}, {"n-heads", "4"}, {"bias", "false"},
                                           {"ffn-bias", "true"}});
  ParamStore s3;
  mixed->declare(s3);
  EXPECT_EQ(s3.find("blocks.0.attn.qkv.bias"), -1);
  EXPECT_NE(s3.find("blocks.0.mlp.proj.bias"), -1);
  EXPECT_EQ(s3.find("blocks.0.ln1.bias"), -1);  // LayerNorm biases follow --bias
}

void expect_error(std::map<std::string, std::string> f, const std::string& text) {
  f.emplace("vocab-size", "64");
  try {
    build_model("transformer", f);
    ADD_FAILURE() << "accepted; wanted an error containing '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(DenseBaseline, BadCombinationsNameTheFlag) {
  expect_error({{"head-bias", "true"}}, "--head-bias needs --tie-embeddings false");
  expect_error({{"head-bias", "true"}, {"tie-embeddings", "true"}}, "--head-bias");
  expect_error({{"head-dim", "-1"}}, "--head-dim must be >= 0");
  expect_error({{"d-model", "30"}, {"n-heads", "4"}}, "--n-heads 4 does not divide --d-model 30");
  expect_error({{"attn-bias", "maybe"}}, "--attn-bias must be true, false or auto, got 'maybe'");
  expect_error({{"ffn-bias", "2"}}, "--ffn-bias");
  expect_error({{"init", "xavier"}}, "--init must be gpt2 or scaled");
  // A head size that does not divide d is fine once given explicitly.
  EXPECT_NO_THROW(build_model("transformer", {{"vocab-size", "64"}, {"d-model", "30"}, {"n-heads", "4"}, {"head-dim", "7"}}));
}

}  // namespace
}  // namespace weft::models
