// Model registry.
#include "models/registry.h"

#include "models/transformer/transformer.h"

namespace weft::models {

std::vector<std::string> model_names() { return {"transformer"}; }

std::unique_ptr<Model> make_transformer(const TransformerConfig& cfg) { return std::make_unique<Transformer>(cfg); }

}  // namespace weft::models
