// The one place that lists the model architectures: make_model(name, options).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/transformer/config.h"

namespace weft::models {

std::vector<std::string> model_names();  // "transformer", ...

// Build a model from its typed configuration; name is the --model flag value.
std::unique_ptr<Model> make_transformer(const TransformerConfig& cfg);

}  // namespace weft::models
