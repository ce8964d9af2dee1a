// The infinite family's flags (the transformer's declarations where the meaning is the same; the memory's
// named after spec infinite-memory.md part B), its configuration, validation and registry entry.
#include <cmath>
#include <sstream>

#include "models/infinite_memory/infinite.h"
#include "models/registry.h"
#include "runtime/check.h"

namespace weft::models {

std::vector<Flag> InfiniteConfig::flags() {
  return {
      Flag::integer("d-model", 128, "model width"),
      Flag::integer("n-layers", 4, "number of layers"),
      Flag::integer("n-heads", 4, "attention heads"),
      Flag::integer("d-ff", 0, "feed-forward width (0: 4 x d-model)"),
      Flag::text("integration", "gpt2",
                 "infinite: gpt2 (STM = the current segment, LTM fed with the previous segment's layer inputs) | xl "
                 "(Transformer-XL: STM over the previous segment's layer inputs and the current one, RoPE; LTM fed "
                 "with the segment that left the STM)"),
      Flag::integer("ltm-segment", 0, "infinite: tokens per segment; a window runs as consecutive segments (0: seq-len)"),
      Flag::text("ltm-layers", "all", "infinite: layers with a long-term memory: all | none | comma-separated indices"),
      Flag::integer("ltm-basis", 256, "infinite: Gaussian basis functions N (a multiple of the number of widths)"),
      Flag::text("ltm-widths", "0.005,0.01", "infinite: basis widths sigma_n, comma-separated"),
      Flag::real("ltm-ridge", 0.5, "infinite: ridge penalty lambda of the memory's regression"),
      Flag::integer("ltm-samples", 256, "infinite: samples M of the old memory per update"),
      Flag::real("ltm-tau", 0.5, "infinite: contraction factor tau (the old memory moves into [0, tau])"),
      Flag::boolean("ltm-sticky", true, "infinite: sticky memories (sample where the last attention looked)"),
      Flag::integer("ltm-sticky-bins", 128, "infinite: histogram bins D of the sticky sampler"),
      Flag::real("ltm-sigma-floor", 1e-4, "infinite: floor of the attention variance sigma^2"),
      Flag::real("ltm-sigma0", 0.05, "infinite: sigma_0 of the KL regulariser"),
      Flag::real("ltm-kl", 1e-6, "infinite: weight of the aux term ltm_kl"),
      Flag::boolean("ltm-mask", true, "infinite: gate new memory vectors by sigmoid(Conv1d k=3)"),
      Flag::boolean("ltm-detach", true,
                    "infinite: no gradient through earlier segments' memory within a window (across steps: never)"),
      Flag::text("memory-reset", "document", "infinite: when a stream's memory is cleared: document | tokens:N | never"),
  };
}

InfiniteConfig InfiniteConfig::from_flags(const FlagValues& v) {
  InfiniteConfig c;
  c.vocab_size = v.integer("vocab-size");
  c.seq_len = v.integer("seq-len");
  c.d_model = v.integer("d-model");
  c.n_layers = v.integer("n-layers");
  c.n_heads = v.integer("n-heads");
  c.d_ff = v.integer("d-ff");
  c.integration = v.text("integration");
  c.segment = v.integer("ltm-segment");
  c.layers = v.text("ltm-layers");
  c.basis = v.integer("ltm-basis");
  c.widths.clear();
  std::stringstream ws(v.text("ltm-widths"));
  for (std::string item; std::getline(ws, item, ',');) {
    try {
      size_t used = 0;
      c.widths.push_back(std::stod(item, &used));
      WEFT_CHECK(used == item.size(), "");
    } catch (...) {
      WEFT_FAIL("--ltm-widths must be comma-separated numbers, got '", v.text("ltm-widths"), "'");
    }
  }
  c.ridge = v.real("ltm-ridge");
  c.samples = v.integer("ltm-samples");
  c.tau = v.real("ltm-tau");
  c.sticky = v.boolean("ltm-sticky");
  c.sticky_bins = v.integer("ltm-sticky-bins");
  c.sigma_floor = v.real("ltm-sigma-floor");
  c.sigma0 = v.real("ltm-sigma0");
  c.kl = v.real("ltm-kl");
  c.mask = v.boolean("ltm-mask");
  c.detach = v.boolean("ltm-detach");
  c.memory_reset = v.text("memory-reset");
  if (c.memory_reset.rfind("tokens:", 0) == 0) {
    try {
      size_t used = 0;
      const std::string n = c.memory_reset.substr(7);
      c.reset_tokens = std::stoll(n, &used);
      WEFT_CHECK(used == n.size(), "");
    } catch (...) {
      c.reset_tokens = -1;
    }
  }
  c.validate();
  return c;
}

std::vector<bool> InfiniteConfig::memory_layers() const {
  std::vector<bool> on(static_cast<size_t>(n_layers), layers == "all");
  if (layers == "all" || layers == "none") return on;
  std::stringstream ss(layers);
  for (std::string item; std::getline(ss, item, ',');) {
    int64_t l = -1;
    try {
      size_t used = 0;
      l = std::stoll(item, &used);
      if (used != item.size()) l = -1;
    } catch (...) {
      l = -1;
    }
    WEFT_CHECK(l >= 0 && l < n_layers, "--ltm-layers must be all, none or layer indices in [0, ", n_layers,
               "), got '", layers, "'");
    on[static_cast<size_t>(l)] = true;
  }
  return on;
}

void InfiniteConfig::validate() const {
  WEFT_CHECK(vocab_size >= 2, "--vocab-size must be >= 2, got ", vocab_size);
  WEFT_CHECK(seq_len >= 1, "--seq-len must be positive, got ", seq_len);
  WEFT_CHECK(d_model >= 1, "--d-model must be positive, got ", d_model);
  WEFT_CHECK(n_layers >= 1, "--n-layers must be positive, got ", n_layers);
  WEFT_CHECK(n_heads >= 1 && d_model % n_heads == 0, "--n-heads ", n_heads, " must divide --d-model ", d_model);
  WEFT_CHECK(d_ff >= 0, "--d-ff must be >= 0 (0 means 4 * d_model), got ", d_ff);
  WEFT_CHECK(integration == "gpt2" || integration == "xl", "--integration must be gpt2 or xl, got '", integration, "'");
  WEFT_CHECK(integration != "xl" || (d_model / n_heads) % 2 == 0, "--integration xl rotates queries and keys "
             "(RoPE) and needs an even head size (--d-model / --n-heads), got ", d_model / n_heads);
  WEFT_CHECK(segment >= 0, "--ltm-segment must be >= 0 (0: --seq-len), got ", segment);
  (void)memory_layers();
  WEFT_CHECK(!widths.empty(), "--ltm-widths needs at least one width");
  for (double w : widths) WEFT_CHECK(w > 0.0 && std::isfinite(w), "--ltm-widths must be positive, got ", w);
  const int64_t W = static_cast<int64_t>(widths.size());
  WEFT_CHECK(basis >= 2 * W && basis % W == 0, "--ltm-basis ", basis, " must be a multiple of the ", W,
             " --ltm-widths with at least two centres");
  WEFT_CHECK(ridge > 0.0, "--ltm-ridge must be positive, got ", ridge);
  WEFT_CHECK(samples >= 1, "--ltm-samples must be positive, got ", samples);
  WEFT_CHECK(tau > 0.0 && tau < 1.0, "--ltm-tau must be in (0, 1), got ", tau);
  WEFT_CHECK(sticky_bins >= 1, "--ltm-sticky-bins must be positive, got ", sticky_bins);
  WEFT_CHECK(sigma_floor > 0.0, "--ltm-sigma-floor must be positive, got ", sigma_floor);
  WEFT_CHECK(sigma0 > 0.0, "--ltm-sigma0 must be positive, got ", sigma0);
  WEFT_CHECK(kl >= 0.0, "--ltm-kl must be >= 0, got ", kl);
  WEFT_CHECK(memory_reset == "document" || memory_reset == "never" || (memory_reset.rfind("tokens:", 0) == 0 &&
                                                                      reset_tokens >= 1),
             "--memory-reset must be document, tokens:N (N >= 1) or never, got '", memory_reset, "'");
}

namespace infinite_memory {
ModelFamily family() {
  return {"infinite", "infinity-former: GPT-2 decoder with a continuous unbounded long-term memory (sticky memories)",
          &InfiniteConfig::flags,
          [](const FlagValues& v) -> std::unique_ptr<Model> {
            return std::make_unique<InfiniteModel>(InfiniteConfig::from_flags(v));
          },
          // Windows of 9 tokens in segments of 5 (then 4), so evaluation uses the memory too; the first with
          // uniform samples and one memory layer, the second sticky in every layer. xl: segments of 4, 4, 1 (the
          // STM over the previous segment; the LTM of layer 1 fed with segment 0 at segment 2), layer 0 STM only.
          []() -> std::vector<TestConfig> {
            const std::map<std::string, std::string> tiny{
                {"d-model", "8"},       {"n-layers", "2"},    {"n-heads", "2"},          {"d-ff", "12"},
                {"ltm-segment", "5"},   {"ltm-basis", "6"},   {"ltm-widths", "0.1,0.3"}, {"ltm-samples", "4"},
                {"ltm-detach", "false"}, {"ltm-kl", "0.05"}, {"ltm-sigma-floor", "0.01"}};
            std::map<std::string, std::string> uniform = tiny, sticky = tiny;
            uniform["ltm-sticky"] = "false";
            uniform["ltm-layers"] = "1";
            sticky["ltm-sticky-bins"] = "8";
            std::map<std::string, std::string> xl = sticky;
            xl["integration"] = "xl";
            xl["ltm-segment"] = "4";
            xl["ltm-layers"] = "1";
            return {{"uniform", uniform}, {"sticky", sticky}, {"xl", xl}};
          }};
}
}  // namespace infinite_memory

}  // namespace weft::models
