// [model] flags.
#include "launch/model_options.h"

#include "models/registry.h"

namespace weft::launch {

void add_model_options(OptionSet& set) {
  set.group("model").add_options()
      ("model", po::value<std::string>()->default_value("transformer"), "architecture: transformer")
      ("vocab-size", po::value<int64_t>()->default_value(0), "vocabulary size (0: the data's tokenizer)")
      ("d-model", po::value<int64_t>()->default_value(128), "model width")
      ("n-layers", po::value<int64_t>()->default_value(4), "number of layers")
      ("n-heads", po::value<int64_t>()->default_value(4), "attention heads")
      ("d-ff", po::value<int64_t>()->default_value(0), "feed-forward width (0: 4 x d-model)")
      ("seq-len", po::value<int64_t>()->default_value(256), "training context length")
      ("position", po::value<std::string>()->default_value("learned"),
       "learned | sinusoidal | rope | alibi | sandwich | none")
      ("rope-fraction", po::value<float>()->default_value(1.0f), "share of each head's channels RoPE rotates")
      ("rope-base", po::value<float>()->default_value(10000.0f), "RoPE frequency base")
      ("sandwich-dim", po::value<int64_t>()->default_value(128), "Sandwich d-bar")
      ("activation", po::value<std::string>()->default_value("gelu"), "gelu (tanh) | relu | swiglu")
      ("norm", po::value<std::string>()->default_value("layernorm"), "layernorm | rmsnorm")
      ("tie-embeddings", po::value<bool>()->default_value(true)->implicit_value(true), "share input and output embeddings")
      ("bias", po::value<bool>()->default_value(true)->implicit_value(true), "biases in linear layers and LayerNorm")
      ("dropout", po::value<float>()->default_value(0.0f), "dropout probability");
}

models::TransformerConfig transformer_config(const po::variables_map& vm) {
  models::TransformerConfig c;
  c.vocab_size = get<int64_t>(vm, "vocab-size");
  c.d_model = get<int64_t>(vm, "d-model");
  c.n_layers = get<int64_t>(vm, "n-layers");
  c.n_heads = get<int64_t>(vm, "n-heads");
  c.d_ff = get<int64_t>(vm, "d-ff");
  c.max_seq_len = get<int64_t>(vm, "seq-len");
  c.position = models::parse_position_scheme(get<std::string>(vm, "position"));
  c.rope_fraction = get<float>(vm, "rope-fraction");
  c.rope_base = get<float>(vm, "rope-base");
  c.sandwich_dim = get<int64_t>(vm, "sandwich-dim");
  c.activation = get<std::string>(vm, "activation");
  c.norm = get<std::string>(vm, "norm");
  c.tie_embeddings = get<bool>(vm, "tie-embeddings");
  c.bias = get<bool>(vm, "bias");
  c.dropout = get<float>(vm, "dropout");
  try {
    c.validate();
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  return c;
}

std::unique_ptr<models::Model> make_model(const po::variables_map& vm) {
  std::string name = get<std::string>(vm, "model");
  if (name == "transformer") return models::make_transformer(transformer_config(vm));
  std::string known;
  for (const auto& n : models::model_names()) known += (known.empty() ? "" : ", ") + n;
  throw UsageError("--model: unknown architecture '" + name + "' (available: " + known + ")");
}

std::unique_ptr<models::Model> make_model_from_ini(const std::string& ini, int64_t* seq_len) {
  OptionSet set("model");
  add_model_options(set);
  std::vector<std::string> args;
  for (const auto& [key, value] : ini_section(ini, "model")) args.push_back("--" + key + "=" + value);
  po::variables_map vm = set.parse(args);
  if (seq_len) *seq_len = get<int64_t>(vm, "seq-len");
  return make_model(vm);
}

}  // namespace weft::launch
