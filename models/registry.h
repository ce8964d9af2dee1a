// The model registry: every architecture is a family {name, summary, flags, build}, listed one line
// each in models/families.inc. A family's folder defines `ModelFamily <name>::family()`. launch/ reads
// the flags (shared_model_flags() plus the chosen family's) from the command line or a config file and
// calls build(); tests run the generic checks (tests/models/test_families.cpp) over every family.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/flags.h"
#include "models/model.h"

namespace weft::models {

struct ModelFamily {
  std::string name;     // the --model value
  std::string summary;  // one line for --help
  std::vector<Flag> (*flags)();                                // the family's own [model] flags
  std::unique_ptr<Model> (*build)(const FlagValues& values);   // values: shared + own flags; validates
};

// Flags every family has: model, vocab-size, seq-len (the training context length).
std::vector<Flag> shared_model_flags();
// The registered families, in families.inc order.
const std::vector<ModelFamily>& model_families();
std::vector<std::string> model_names();
// The family called `name`; throws weft::Error naming --model and the known names.
const ModelFamily& find_model_family(const std::string& name);
// shared_model_flags() followed by the family's flags.
std::vector<Flag> model_flags(const ModelFamily& family);

// Keys declared twice with different types, defaults or help (across the families and the shared flags),
// or twice within one family: one message per conflict, empty when the registry is consistent.
std::vector<std::string> registry_conflicts(const std::vector<ModelFamily>& families);

// Build the model of family `name` from flag values (missing keys take their defaults).
std::unique_ptr<Model> build_model(const std::string& name, const std::map<std::string, std::string>& values);

}  // namespace weft::models
