// Model registry: the family table (from families.inc) and its consistency check.
#include "models/registry.h"

#include <map>

#include "runtime/check.h"

namespace weft::models {

#define WEFT_MODEL_FAMILY(ns) \
  namespace ns {              \
  ModelFamily family();       \
  }
#include "models/families.inc"
#undef WEFT_MODEL_FAMILY

std::vector<Flag> shared_model_flags() {
  return {Flag::text("model", "transformer", "architecture (weft train --model NAME --help lists its flags)"),
          Flag::integer("vocab-size", 0, "vocabulary size (0: the data's tokenizer)"),
          Flag::integer("seq-len", 256, "training context length")};
}

const std::vector<ModelFamily>& model_families() {
  static const std::vector<ModelFamily> families = {
#define WEFT_MODEL_FAMILY(ns) ns::family(),
#include "models/families.inc"
#undef WEFT_MODEL_FAMILY
  };
  return families;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const ModelFamily& f : model_families()) names.push_back(f.name);
  return names;
}

const ModelFamily& find_model_family(const std::string& name) {
  std::string known;
  for (const ModelFamily& f : model_families()) {
    if (f.name == name) return f;
    known += (known.empty() ? "" : ", ") + f.name;
  }
  throw Error("--model: unknown architecture '" + name + "' (available: " + known + ")");
}

std::vector<Flag> model_flags(const ModelFamily& family) {
  std::vector<Flag> all = shared_model_flags();
  for (Flag& f : family.flags()) all.push_back(std::move(f));
  return all;
}

std::vector<std::string> registry_conflicts(const std::vector<ModelFamily>& families) {
  std::vector<std::string> problems;
  std::map<std::string, std::pair<Flag, std::string>> seen;  // key -> (first declaration, where)
  auto check = [&](const Flag& f, const std::string& where, std::map<std::string, int>& in_this) {
    if (++in_this[f.key] > 1) problems.push_back(where + " declares --" + f.key + " twice");
    auto [it, fresh] = seen.emplace(f.key, std::pair{f, where});
    if (fresh) return;
    const Flag& first = it->second.first;
    if (first.type != f.type || first.default_value != f.default_value || first.help != f.help)
      problems.push_back("--" + f.key + " means different things: " + it->second.second + " declares it " +
                         flag_type_name(first.type) + ", default '" + first.default_value + "', \"" + first.help +
                         "\"; " + where + " declares it " + flag_type_name(f.type) + ", default '" +
                         f.default_value + "', \"" + f.help + "\"");
  };
  std::map<std::string, int> shared_count;
  for (const Flag& f : shared_model_flags()) check(f, "the shared model flags", shared_count);
  for (const ModelFamily& fam : families) {
    std::map<std::string, int> count;
    for (const Flag& f : fam.flags()) check(f, "model '" + fam.name + "'", count);
  }
  return problems;
}

std::unique_ptr<Model> build_model(const std::string& name, const std::map<std::string, std::string>& values) {
  const ModelFamily& fam = find_model_family(name);
  std::map<std::string, std::string> v = values;
  v["model"] = name;
  return fam.build(FlagValues::defaults(model_flags(fam), v));
}

}  // namespace weft::models
