// The transformer family's flags, its typed configuration read from them, and validation.
#include <cmath>
#include <utility>

#include "models/registry.h"
#include "models/transformer/config.h"
#include "models/transformer/transformer.h"
#include "runtime/check.h"

namespace weft::models {

std::vector<Flag> TransformerConfig::flags() {
  return {
      Flag::integer("d-model", 128, "model width"),
      Flag::integer("n-layers", 4, "number of layers"),
      Flag::integer("n-heads", 4, "attention heads"),
      Flag::integer("head-dim", 0, "attention head size dh (0: d-model / n-heads)"),
      Flag::integer("d-ff", 0, "feed-forward width (0: 4 x d-model)"),
      Flag::text("position", "learned", "learned | sinusoidal | rope | alibi | sandwich | none"),
      Flag::real("rope-fraction", 1.0, "share of each head's channels RoPE rotates"),
      Flag::real("rope-base", 10000.0, "RoPE frequency base"),
      Flag::integer("sandwich-dim", 128, "Sandwich d-bar"),
      Flag::integer("attention-window", 0,
                    "windowed attention: each token attends to its W latest positions, itself included (0: all)"),
      Flag::text("activation", "gelu", "gelu (tanh) | relu | swiglu"),
      Flag::text("norm", "layernorm", "layernorm | rmsnorm"),
      Flag::real("norm-eps", 1e-5, "epsilon of the model's LayerNorm/RMSNorm"),
      Flag::boolean("tie-embeddings", true, "share input and output embeddings"),
      Flag::boolean("bias", true, "biases in linear layers and LayerNorm"),
      Flag::text("attn-bias", "auto", "biases of the q|k|v and output projections: true | false | auto (= --bias)"),
      Flag::text("ffn-bias", "auto", "biases of the feed-forward linears: true | false | auto (= --bias)"),
      Flag::boolean("head-bias", false, "a bias on the LM head (needs --tie-embeddings false)"),
      Flag::boolean("decay-all", false, "AdamW weight decay on every parameter, norms and biases included"),
      Flag::text("init", "gpt2", "gpt2 (N(0, 0.02), residual outputs / sqrt(2 L)) | scaled (N(0, 2 / (L fan_in)))"),
      Flag::real("dropout", 0.0, "dropout probability"),
  };
}

TransformerConfig TransformerConfig::from_flags(const FlagValues& v) {
  TransformerConfig c;
  c.vocab_size = v.integer("vocab-size");
  c.max_seq_len = v.integer("seq-len");
  c.d_model = v.integer("d-model");
  c.n_layers = v.integer("n-layers");
  c.n_heads = v.integer("n-heads");
  c.head_dim = v.integer("head-dim");
  c.d_ff = v.integer("d-ff");
  c.position = parse_position_scheme(v.text("position"));
  c.rope_fraction = v.real("rope-fraction");
  c.rope_base = static_cast<float>(v.real("rope-base"));
  c.sandwich_dim = v.integer("sandwich-dim");
  c.attention_window = v.integer("attention-window");
  c.activation = v.text("activation");
  c.norm = v.text("norm");
  c.norm_eps = static_cast<float>(v.real("norm-eps"));
  c.tie_embeddings = v.boolean("tie-embeddings");
  c.bias = v.boolean("bias");
  auto tri = [&](const std::string& key) -> std::string {  // true | false | auto, with --bias's spellings
    const std::string& t = v.text(key);
    if (t == "auto") return t;
    for (const char* yes : {"true", "1", "yes", "on"}) if (t == yes) return "true";
    for (const char* no : {"false", "0", "no", "off"}) if (t == no) return "false";
    WEFT_FAIL("--", key, " must be true, false or auto, got '", t, "'");
  };
  c.attn_bias = tri("attn-bias");
  c.ffn_bias = tri("ffn-bias");
  c.head_bias = v.boolean("head-bias");
  c.decay_all = v.boolean("decay-all");
  c.init = v.text("init");
  c.dropout = static_cast<float>(v.real("dropout"));
  c.validate();
  return c;
}

int64_t TransformerConfig::rope_channels() const {
  const double x = rope_fraction * static_cast<double>(head_size());
  const double nearest = std::round(x);
  auto n = static_cast<int64_t>(std::fabs(x - nearest) < 1e-6 ? nearest : std::floor(x));
  return n - n % 2;
}

void TransformerConfig::validate() const {
  WEFT_CHECK(vocab_size >= 2, "--vocab-size must be >= 2, got ", vocab_size);
  WEFT_CHECK(d_model >= 1, "--d-model must be positive, got ", d_model);
  WEFT_CHECK(n_layers >= 1, "--n-layers must be positive, got ", n_layers);
  WEFT_CHECK(n_heads >= 1, "--n-heads must be positive, got ", n_heads);
  WEFT_CHECK(head_dim >= 0, "--head-dim must be >= 0 (0 means d-model / n-heads), got ", head_dim);
  if (head_dim == 0)
    WEFT_CHECK(d_model % n_heads == 0, "--n-heads ", n_heads, " does not divide --d-model ", d_model,
               " (set --head-dim for another head size)");
  for (const auto& [key, val] : {std::pair{"attn-bias", &attn_bias}, std::pair{"ffn-bias", &ffn_bias}})
    WEFT_CHECK(*val == "auto" || *val == "true" || *val == "false", "--", key, " must be true, false or auto, got '",
               *val, "'");
  WEFT_CHECK(!head_bias || !tie_embeddings,
             "--head-bias needs --tie-embeddings false (the tied LM head is the embedding matrix, with no bias)");
  WEFT_CHECK(init == "gpt2" || init == "scaled", "--init must be gpt2 or scaled, got '", init, "'");
  WEFT_CHECK(d_ff >= 0, "--d-ff must be >= 0 (0 means 4 * d_model), got ", d_ff);
  WEFT_CHECK(max_seq_len >= 1, "--seq-len must be positive, got ", max_seq_len);
  WEFT_CHECK(activation == "gelu" || activation == "relu" || activation == "swiglu",
             "--activation must be gelu, relu or swiglu, got '", activation, "'");
  WEFT_CHECK(norm == "layernorm" || norm == "rmsnorm", "--norm must be layernorm or rmsnorm, got '", norm, "'");
  WEFT_CHECK(norm_eps > 0.0f && std::isfinite(norm_eps), "--norm-eps must be positive, got ", norm_eps);
  WEFT_CHECK(dropout >= 0.0f && dropout < 1.0f, "--dropout must be in [0, 1), got ", dropout);
  WEFT_CHECK(attention_window >= 0, "--attention-window must be >= 0 (0: no window), got ", attention_window);
  if (position == PositionScheme::rope) {
    WEFT_CHECK(rope_fraction > 0.0f && rope_fraction <= 1.0f, "--rope-fraction must be in (0, 1], got ",
               rope_fraction);
    WEFT_CHECK(rope_channels() >= 2, "--rope-fraction ", rope_fraction, " rotates fewer than 2 channels of a ",
               head_size(), "-channel head");
    WEFT_CHECK(rope_base > 1.0f, "--rope-base must be > 1, got ", rope_base);
  }
  if (position == PositionScheme::sandwich)
    WEFT_CHECK(sandwich_dim >= 2 && sandwich_dim % 2 == 0, "--sandwich-dim must be even and >= 2, got ",
               sandwich_dim);
}

namespace transformer {
ModelFamily family() {
  return {"transformer", "GPT-style decoder (pre-LN) with learned, sinusoidal, RoPE, ALiBi, Sandwich or no positions",
          &TransformerConfig::flags,
          [](const FlagValues& v) -> std::unique_ptr<Model> {
            return std::make_unique<Transformer>(TransformerConfig::from_flags(v));
          },
          // Learned positions (a finite max_seq_len); the other schemes have their own gradient checks.
          []() -> std::vector<TestConfig> {
            return {{"tiny", {{"d-model", "8"}, {"n-layers", "2"}, {"n-heads", "2"}, {"d-ff", "12"}}}};
          }};
}
}  // namespace transformer

}  // namespace weft::models
