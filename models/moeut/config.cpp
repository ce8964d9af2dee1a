// MoEUT's configuration (models/moeut/moeut.h): flags, validation, the registry entry, and the spec's
// size formulas (A.7): the logical parameter count and the paper's MACs per token.
#include <cmath>

#include "models/moeut/moeut.h"
#include "models/registry.h"
#include "runtime/check.h"

namespace weft::models {

std::vector<Flag> MoeutConfig::flags() {
  return {
      Flag::integer("d-model", 128, "model width"),
      Flag::integer("n-layers", 4, "number of layers"),
      Flag::integer("n-groups", 2, "G unique layers, each applied L / G times in ABAB order (G = L: sigma-MoE)"),
      Flag::integer("n-heads", 4, "attention heads"),
      Flag::integer("head-dim", 0, "attention head size dh (0: d-model / n-heads)"),
      Flag::integer("n-experts", 16, "sigma-MoE experts per layer N_E"),
      Flag::integer("expert-size", 128, "sigma-MoE expert width es"),
      Flag::integer("top-k", 4, "sigma-MoE experts active per token K"),
      Flag::integer("att-experts", 4, "SwitchHead V/O experts per head N_A (1: dense V, O with an output gate)"),
      Flag::integer("att-top-k", 2, "SwitchHead experts active per head K_A"),
      Flag::text("norm-layout", "peri", "peri (V and experts read the raw residual) | pre (they read the norm)"),
      Flag::real("entropy-reg", 0.01, "gamma: weight of the sigma-MoE selection entropy regulariser"),
      Flag::real("att-entropy-reg", 0.001, "delta: weight of the SwitchHead selection entropy regulariser"),
  };
}

MoeutConfig MoeutConfig::from_flags(const FlagValues& v) {
  MoeutConfig c;
  c.vocab_size = v.integer("vocab-size");
  c.seq_len = v.integer("seq-len");
  c.d_model = v.integer("d-model");
  c.n_layers = v.integer("n-layers");
  c.n_groups = v.integer("n-groups");
  c.n_heads = v.integer("n-heads");
  c.head_dim = v.integer("head-dim");
  if (c.head_dim == 0) {
    WEFT_CHECK(c.n_heads >= 1 && c.d_model % c.n_heads == 0, "--head-dim 0 means d-model / n-heads, but --n-heads ",
               c.n_heads, " does not divide --d-model ", c.d_model, ": give --head-dim");
    c.head_dim = c.d_model / c.n_heads;
  }
  c.n_experts = v.integer("n-experts");
  c.expert_size = v.integer("expert-size");
  c.top_k = v.integer("top-k");
  c.att_experts = v.integer("att-experts");
  c.att_top_k = v.integer("att-top-k");
  const std::string layout = v.text("norm-layout");
  WEFT_CHECK(layout == "peri" || layout == "pre", "--norm-layout must be peri or pre, got '", layout, "'");
  c.peri = layout == "peri";
  c.entropy_reg = v.real("entropy-reg");
  c.att_entropy_reg = v.real("att-entropy-reg");
  c.validate();
  return c;
}

void MoeutConfig::validate() const {
  WEFT_CHECK(vocab_size >= 2, "--vocab-size must be >= 2, got ", vocab_size);
  WEFT_CHECK(seq_len >= 1, "--seq-len must be positive, got ", seq_len);
  WEFT_CHECK(d_model >= 1, "--d-model must be positive, got ", d_model);
  WEFT_CHECK(n_layers >= 1, "--n-layers must be positive, got ", n_layers);
  WEFT_CHECK(n_groups >= 1 && n_layers % n_groups == 0, "--n-groups ", n_groups, " must divide --n-layers ",
             n_layers);
  WEFT_CHECK(n_heads >= 1, "--n-heads must be positive, got ", n_heads);
  WEFT_CHECK(head_dim >= 1, "--head-dim must be positive, got ", head_dim);
  WEFT_CHECK(n_experts >= 1, "--n-experts must be positive, got ", n_experts);
  WEFT_CHECK(expert_size >= 1, "--expert-size must be positive, got ", expert_size);
  WEFT_CHECK(top_k >= 1 && top_k <= n_experts, "--top-k must be in [1, --n-experts ", n_experts, "], got ", top_k);
  WEFT_CHECK(att_experts >= 1, "--att-experts must be positive, got ", att_experts);
  WEFT_CHECK(att_top_k >= 1 && att_top_k <= att_experts, "--att-top-k must be in [1, --att-experts ", att_experts,
             "], got ", att_top_k);
  WEFT_CHECK(entropy_reg >= 0.0 && att_entropy_reg >= 0.0, "--entropy-reg and --att-entropy-reg must be >= 0");
}

int64_t MoeutConfig::rope_channels() const {
  const int64_t n = head_dim / 2;  // int(0.5 * dh)
  return n - n % 2;                // the training code's even-rounding (A.3): 82 -> 40, 41 -> 20
}

int64_t MoeutConfig::param_count() const {
  const int64_t d = d_model, H = n_heads, dh = head_dim, NA = att_experts, V = vocab_size;
  const int64_t ffn = n_experts * (2 * d * expert_size + d);
  const int64_t att = NA > 1 ? H * NA * 2 * d * dh + 2 * H * d * dh + 2 * H * NA * d  // V, O experts; Q, K; sel
                             : 4 * H * d * dh + H * d;                                // Q, K, V, O; output gate
  return n_groups * (ffn + att + 4 * d) + 2 * V * d + V + 2 * d;
}

double MoeutConfig::macs_per_token(int64_t T) const {
  // [mtc:paper/moe_universal/common.py] get_attention_flops / get_ff_flops, per token, x L.
  const double d = static_cast<double>(d_model), H = static_cast<double>(n_heads), dh = static_cast<double>(head_dim);
  const double NA = static_cast<double>(att_experts), KA = static_cast<double>(att_top_k);
  const double att = 2 * H * dh * static_cast<double>(T) + (2 * KA + 2) * d * H * dh + 2 * H * KA * dh + 2 * NA * d;
  const double ff = 2 * d * static_cast<double>(expert_size * top_k) + d * static_cast<double>(n_experts);
  return static_cast<double>(n_layers) * (att + ff);
}

namespace moeut {
ModelFamily family() {
  ModelFamily f{"moeut",
                "MoEUT: shared-layer transformer with sigma-MoE feed-forward and SwitchHead attention experts",
                &MoeutConfig::flags, [](const FlagValues& v) -> std::unique_ptr<Model> {
                  return std::make_unique<Moeut>(MoeutConfig::from_flags(v));
                }};
  f.batch_rounding = true;  // experts batch the rows routed to them (ModelFamily::batch_rounding)
  f.test_configs = [] {
    const std::map<std::string, std::string> tiny{
        {"d-model", "8"},     {"n-layers", "4"},     {"n-groups", "2"},  {"n-heads", "2"},
        {"head-dim", "6"},    {"n-experts", "4"},    {"expert-size", "4"}, {"top-k", "2"},
        {"att-experts", "3"}, {"att-top-k", "2"}};
    auto with = [&](std::map<std::string, std::string> extra) {
      extra.insert(tiny.begin(), tiny.end());
      return extra;
    };
    return std::vector<TestConfig>{{"peri", tiny},
                                   {"na1", with({{"att-experts", "1"}, {"att-top-k", "1"}})},
                                   {"pre", with({{"norm-layout", "pre"}})}};
  };
  return f;
}
}  // namespace moeut

}  // namespace weft::models
