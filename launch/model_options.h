// The [model] flag group and its translation into a model: --model picks the architecture, the other
// flags fill its typed configuration (validated there, with errors naming the flag).
#pragma once

#include <memory>

#include "launch/options.h"
#include "models/model.h"
#include "models/transformer/config.h"

namespace weft::launch {

void add_model_options(OptionSet& set);
models::TransformerConfig transformer_config(const po::variables_map& vm);
std::unique_ptr<models::Model> make_model(const po::variables_map& vm);
// The model described by the [model] section of a stored configuration (a checkpoint's).
std::unique_ptr<models::Model> make_model_from_ini(const std::string& ini, int64_t* seq_len = nullptr);

}  // namespace weft::launch
