// The [model] flag group, built from the registry: the shared flags plus the chosen family's own
// (models/registry.h), and the translation of parsed values into a model. The family is chosen before
// parsing (--model on the command line, else `model` under [model] in the --config file, else the
// default), so `weft train --model NAME --help` lists exactly that family's flags and a flag of another
// family is an unknown flag.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "launch/options.h"
#include "models/model.h"
#include "models/registry.h"

namespace weft::launch {

// The family the arguments ask for (without parsing the other flags).
std::string chosen_model(const std::vector<std::string>& args);
// The [model] group: shared flags + the family's; throws UsageError for an unknown family.
void add_model_options(OptionSet& set, const std::string& family);
// set.parse(args), where an unknown flag that belongs to another family says so ("--n-heads is a flag of
// model 'transformer', not of --model bag").
po::variables_map parse_model_args(const OptionSet& set, const std::vector<std::string>& args, const std::string& family);
// The model of the parsed [model] group (configuration errors become UsageErrors naming the flag).
std::unique_ptr<models::Model> make_model(const po::variables_map& vm);
// The model described by the [model] section of a stored configuration (a checkpoint's); keys the
// stored text lacks (written by an older weft) take their defaults.
std::unique_ptr<models::Model> make_model_from_ini(const std::string& ini, int64_t* seq_len = nullptr);

}  // namespace weft::launch
