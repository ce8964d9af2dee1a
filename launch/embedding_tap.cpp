// The embedding tap (launch/embedding_tap.h): flags, defaults, tokenization.
#include "launch/embedding_tap.h"

#include <algorithm>

namespace weft::launch {

void add_embedding_tap_options(OptionSet& set, const std::string& group) {
  set.group(group).add_options()
      ("tap", po::value<std::string>()->default_value(""),
       "tap to read (default: \"final\" where the model has it, else its last block's output)")
      ("index", po::value<int64_t>(), "position to read, negative from the end (default: -1 for final, else -2)")
      ("last-token", po::value<bool>()->default_value(false)->implicit_value(true),
       "read each text's last real (non-pad) token instead of --index (not the spec's position: a small model's "
       "state deep in the padding collapses; an embeddings file's tap attribute gets the suffix @last)")
      ("mean-pool", po::value<bool>()->default_value(false)->implicit_value(true),
       "average the tap over each text's real (non-pad) tokens instead of reading one position (not the spec's "
       "embedding; weft embed only; the tap attribute gets the suffix @mean)");
}

std::vector<std::string> offered_taps(models::Model& model, ParamStore& params, Exec& ex, int64_t L, int32_t eot) {
  OwnedTensor ids(DType::i32, {1, L}, ex.device);
  std::vector<int32_t> host(static_cast<size_t>(L), eot);
  device_copy(ex.device, ids.tensor().data, Device::cpu, host.data(), host.size() * sizeof(int32_t));
  Arena arena(ex.device);
  Graph g(ex, arena);
  g.grad_enabled = false;
  models::Taps taps({"*"});
  model.set_taps(&taps);
  model.logits(g, params, ids.tensor());
  model.set_taps(nullptr);
  std::vector<std::string> names;
  for (const auto& [name, v] : taps.captured()) names.push_back(name);
  return names;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& x : names) s += (s.empty() ? "" : ", ") + x;
  return s;
}

EmbeddingTapFlags embedding_tap_flags(const po::variables_map& vm) {
  EmbeddingTapFlags f;
  f.tap = get<std::string>(vm, "tap");
  f.has_index = vm.count("index") > 0;
  if (f.has_index) f.index = vm["index"].as<int64_t>();
  f.last_token = get<bool>(vm, "last-token");
  f.mean_pool = get<bool>(vm, "mean-pool");
  if (f.last_token && f.mean_pool) throw UsageError("--last-token and --mean-pool exclude each other");
  return f;
}

EmbeddingTap choose_embedding_tap(const EmbeddingTapFlags& flags, const std::vector<std::string>& offered,
                                  const std::string& model_name, int64_t L) {
  EmbeddingTap t;
  t.tap = flags.tap;
  t.last_token = flags.last_token;
  t.mean_pool = flags.mean_pool;
  const bool has_index = flags.has_index;
  t.index = has_index ? flags.index : -1;
  if (t.tap.empty()) {
    const bool has_final = std::find(offered.begin(), offered.end(), "final") != offered.end();
    std::string last_block;
    for (const std::string& n : offered)
      if (n.rfind("blocks.", 0) == 0 && n.size() > 4 && n.compare(n.size() - 4, 4, ".out") == 0) last_block = n;
    if (!has_final && last_block.empty())
      throw UsageError("model '" + model_name + "' offers neither a \"final\" tap nor a block output (taps: " +
                       join_names(offered) + "); choose one with --tap");
    t.tap = has_final ? "final" : last_block;
    if (!has_index) t.index = has_final ? -1 : -2;
  } else if (std::find(offered.begin(), offered.end(), t.tap) == offered.end()) {
    throw UsageError("--tap " + t.tap + ": model '" + model_name + "' offers " + join_names(offered));
  }
  t.position = t.index < 0 ? L + t.index : t.index;
  if (t.position < 0 || t.position >= L)
    throw UsageError("--index " + std::to_string(t.index) + " is outside the " + std::to_string(L) + " positions");
  return t;
}

int64_t encode_for_embedding(const data::Tokenizer& tok, const std::string& text, int64_t L, const EmbeddingTap& tap,
                             int32_t* out) {
  std::vector<int32_t> ids = tok.encode(text);
  const int64_t real = std::min<int64_t>(static_cast<int64_t>(ids.size()), L);
  ids.resize(static_cast<size_t>(L), tok.eot());  // truncate, or right-pad with end-of-text
  std::copy(ids.begin(), ids.end(), out);
  if (tap.mean_pool) return std::max<int64_t>(1, real);
  return tap.last_token ? std::max<int64_t>(0, real - 1) : tap.position;
}

}  // namespace weft::launch
