// [model] flags from the registry's flag lists.
#include "launch/model_options.h"

#include <fstream>

namespace weft::launch {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// `model = NAME` under [model] in an INI file, or "".
std::string model_in_config(const std::string& path) {
  std::ifstream in(path);
  std::string line, section;
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.size() > 1 && t.front() == '[' && t.back() == ']') section = trim(t.substr(1, t.size() - 2));
    size_t eq = t.find('=');
    if (section == "model" && eq != std::string::npos && trim(t.substr(0, eq)) == "model") return trim(t.substr(eq + 1));
  }
  return "";
}

const models::ModelFamily& family_or_usage_error(const std::string& name) {
  try {
    return models::find_model_family(name);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

void add_flag(po::options_description& group, const models::Flag& f, const std::string& help) {
  using T = models::Flag::Type;
  models::FlagValues defaults(std::map<std::string, std::string>{{f.key, f.default_value}});
  const char* key = f.key.c_str();
  switch (f.type) {
    case T::integer: group.add_options()(key, po::value<int64_t>()->default_value(defaults.integer(f.key)), help.c_str()); break;
    case T::real:
      group.add_options()(key, po::value<double>()->default_value(defaults.real(f.key), f.default_value), help.c_str());
      break;
    case T::text: group.add_options()(key, po::value<std::string>()->default_value(f.default_value), help.c_str()); break;
    case T::boolean:
      group.add_options()(key, po::value<bool>()->default_value(defaults.boolean(f.key))->implicit_value(true),
                          help.c_str());
      break;
  }
}

}  // namespace

std::string chosen_model(const std::vector<std::string>& args) {
  std::string from_flag, config;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--model" && i + 1 < args.size()) from_flag = args[i + 1];
    else if (a.rfind("--model=", 0) == 0) from_flag = a.substr(8);
    else if (a == "--config" && i + 1 < args.size()) config = args[i + 1];
    else if (a.rfind("--config=", 0) == 0) config = a.substr(9);
  }
  if (!from_flag.empty()) return from_flag;
  if (!config.empty()) {
    std::string stored = model_in_config(config);
    if (!stored.empty()) return stored;
  }
  return models::shared_model_flags().front().default_value;
}

void add_model_options(OptionSet& set, const std::string& family) {
  const models::ModelFamily& fam = family_or_usage_error(family);
  std::string names;
  for (const std::string& n : models::model_names()) names += (names.empty() ? "" : " | ") + n;
  po::options_description& group = set.group("model");
  for (const models::Flag& f : models::model_flags(fam))
    add_flag(group, f, f.key == "model" ? "architecture: " + names + " (--model NAME --help lists its flags)" : f.help);
}

po::variables_map parse_model_args(const OptionSet& set, const std::vector<std::string>& args, const std::string& family) {
  try {
    return set.parse(args);
  } catch (const UsageError& e) {
    const std::string msg = e.what(), marker = "unrecognised option '--";
    const size_t at = msg.find(marker);
    if (at == std::string::npos) throw;
    const std::string key = msg.substr(at + marker.size(), msg.find('\'', at + marker.size()) - at - marker.size());
    for (const models::ModelFamily& other : models::model_families())
      for (const models::Flag& f : other.flags())
        if (f.key == key && other.name != family)
          throw UsageError("--" + key + " is a flag of model '" + other.name + "', not of --model " + family +
                           " (weft train --model " + family + " --help lists its flags)");
    throw;
  }
}

std::unique_ptr<models::Model> make_model(const po::variables_map& vm) {
  const models::ModelFamily& fam = family_or_usage_error(get<std::string>(vm, "model"));
  models::FlagValues values;
  for (const models::Flag& f : models::model_flags(fam)) values.set(f.key, value_to_string(vm[f.key]));
  try {
    return fam.build(values);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

std::unique_ptr<models::Model> make_model_from_ini(const std::string& ini, int64_t* seq_len) {
  std::map<std::string, std::string> stored = ini_section(ini, "model");
  const std::string family = stored.count("model") ? stored["model"] : chosen_model({});
  OptionSet set("model");
  add_model_options(set, family);
  std::vector<std::string> args;
  for (const auto& [key, value] : stored) args.push_back("--" + key + "=" + value);
  po::variables_map vm = set.parse(args);
  if (seq_len) *seq_len = get<int64_t>(vm, "seq-len");
  return make_model(vm);
}

}  // namespace weft::launch
