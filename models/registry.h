// The model registry: every architecture is a family {name, summary, flags, build}, listed one line
// each in models/families.inc. A family's folder defines `ModelFamily <name>::family()`. launch/ reads
// the flags (shared_model_flags() plus the chosen family's) from the command line or a config file and
// calls build(); tests run the generic checks (tests/models/test_families.cpp) over every family.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/flags.h"
#include "models/model.h"

namespace weft::models {

// A tiny configuration the generic tests run a family at (in process and through `weft train`): overrides of
// the family's own flags. The tests set vocab-size and seq-len themselves.
struct TestConfig {
  std::string name;  // part of the test names: letters, digits, '_'
  std::map<std::string, std::string> flags;
};

struct ModelFamily {
  std::string name;     // the --model value
  std::string summary;  // one line for --help
  std::vector<Flag> (*flags)();                                // the family's own [model] flags
  std::unique_ptr<Model> (*build)(const FlagValues& values);   // values: shared + own flags; validates
  // Tiny configurations for tests/models/test_families.cpp and tests/cli/test_families_*.cpp, each run
  // through every generic test: small and fast, and together covering every hook the family implements
  // (a stateful option on, say). Null: one configuration at the defaults.
  std::vector<TestConfig> (*test_configs)() = nullptr;
  // True when one token's outputs may differ in the last bits with what else is in the batch: a mixture of
  // experts batches the rows routed to each expert into one GEMM, whose blocking (even gemv vs gemm)
  // follows the row count. The generic causality test then compares earlier positions to a tolerance
  // (relative 1e-6 in f32, 1e-12 in f64; a real leak moves them by far more) instead of bit for bit.
  bool batch_rounding = false;
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

// The family's test configurations (one named "default", all flags at their defaults, when it declares none).
inline std::vector<TestConfig> family_test_configs(const ModelFamily& family) {
  return family.test_configs ? family.test_configs() : std::vector<TestConfig>{{"default", {}}};
}

// Build the model of family `name` from flag values (missing keys take their defaults).
std::unique_ptr<Model> build_model(const std::string& name, const std::map<std::string, std::string>& values);

}  // namespace weft::models
