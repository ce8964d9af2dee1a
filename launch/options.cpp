// OptionSet: Boost.Program_options groups, INI config files, effective configuration.
#include "launch/options.h"

#include <algorithm>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "models/flags.h"

namespace weft::launch {

namespace {
std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

po::options_description& OptionSet::group(const std::string& name) {
  auto it = groups_.find(name);
  if (it == groups_.end()) {
    order_.push_back(name);
    it = groups_.emplace(name, po::options_description("[" + name + "]", 100)).first;
  }
  return it->second;
}

po::options_description OptionSet::all() const {
  po::options_description d;
  d.add_options()("config", po::value<std::string>(), "INI file with [group] flag = value lines")(
      "help,h", "print the flags of this command");
  for (const auto& name : order_) d.add(groups_.at(name));
  return d;
}

std::vector<std::string> OptionSet::ini_to_args(const std::string& path) const {
  std::ifstream in(path);
  if (!in) throw UsageError("--config: cannot open '" + path + "'");
  std::vector<std::string> args;
  std::string line, section;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    std::string where = path + ":" + std::to_string(lineno) + ": ";
    if (t.front() == '[') {
      if (t.back() != ']') throw UsageError(where + "malformed section header '" + t + "'");
      section = trim(t.substr(1, t.size() - 2));
      if (!groups_.count(section))
        throw UsageError(where + "unknown section [" + section + "] for 'weft " + command_ + "'");
      continue;
    }
    size_t eq = t.find('=');
    if (eq == std::string::npos) throw UsageError(where + "expected 'key = value', got '" + t + "'");
    std::string key = trim(t.substr(0, eq)), value = trim(t.substr(eq + 1));
    if (section.empty()) throw UsageError(where + "key '" + key + "' outside any [section]");
    const po::option_description* opt = groups_.at(section).find_nothrow(key, false);
    if (!opt) throw UsageError(where + "unknown key '" + section + "." + key + "'");
    if (opt->semantic()->max_tokens() == 0) {  // a switch: effective_ini writes it as true / false
      if (value == "false" || value == "0") continue;
      if (value != "true" && value != "1" && !value.empty())
        throw UsageError(where + "'" + key + "' is a switch: true or false, got '" + value + "'");
      args.push_back("--" + key);
    } else if (value.empty()) {
      args.push_back("--" + key);  // two tokens: `--resume=` would be a missing value, `--resume ""` is empty
      args.push_back("");
    } else {
      args.push_back("--" + key + "=" + value);
    }
  }
  return args;
}

namespace {
// Boost.Program_options fills "%value%", "%option%", ... into its messages in a loop that never ends when the
// user's text itself holds such a placeholder (`weft train --steps %value%` hung: found by fuzz_options).
// Then the message is worded here, without calling what().
std::string error_message(const po::error& e, const std::vector<std::string>& args) {
  const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
  const bool placeholder = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    const size_t p = a.find('%');
    return p != std::string::npos && a.find('%', p + 1) != std::string::npos;
  });
  if (!named || !placeholder) return e.what();
  return "invalid flag or value for '" + named->get_option_name() + "'";
}
}  // namespace

po::variables_map OptionSet::parse(const std::vector<std::string>& args) const {
  po::options_description desc = all();
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("config")) {
      std::string path = vm["config"].as<std::string>();
      std::vector<std::string> ini_args;
      try {
        ini_args = ini_to_args(path);
        po::store(po::command_line_parser(ini_args).options(desc).run(), vm);
      } catch (const po::error& e) {
        throw UsageError("--config " + path + ": " + error_message(e, ini_args));
      }
    }
    if (vm.count("help")) return vm;
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(error_message(e, args));
  }
  return vm;
}

std::string value_to_string(const po::variable_value& v) {
  if (v.empty()) return "";
  const std::type_info& t = v.value().type();
  std::ostringstream os;
  if (t == typeid(std::string)) os << v.as<std::string>();
  else if (t == typeid(int)) os << v.as<int>();
  else if (t == typeid(int64_t)) os << v.as<int64_t>();
  else if (t == typeid(uint64_t)) os << v.as<uint64_t>();
  else if (t == typeid(float)) os << v.as<float>();
  else if (t == typeid(double)) os << models::real_to_text(v.as<double>());  // reads back exactly
  else if (t == typeid(bool)) os << (v.as<bool>() ? "true" : "false");
  return os.str();
}

po::typed_value<double>* real_value(double default_value) {
  return po::value<double>()->default_value(default_value, models::real_to_text(default_value));
}

std::map<std::string, std::string> ini_section(const std::string& ini, const std::string& section) {
  std::map<std::string, std::string> kv;
  std::istringstream in(ini);
  std::string line, current;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '[') {
      current = line.substr(1, line.find(']') - 1);
      continue;
    }
    size_t eq = line.find(" = ");
    if (current == section && eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return kv;
}

std::string OptionSet::effective_ini(const po::variables_map& vm) const {
  std::ostringstream os;
  for (const auto& name : order_) {
    os << "[" << name << "]\n";
    for (const auto& opt : groups_.at(name).options()) {
      const std::string& key = opt->long_name();
      if (!vm.count(key) || std::find(one_shot_.begin(), one_shot_.end(), key) != one_shot_.end()) continue;
      os << key << " = " << value_to_string(vm[key]) << "\n";
    }
  }
  return os.str();
}

std::string OptionSet::help() const {
  std::ostringstream os;
  os << "usage: weft " << command_ << " [flags]\n" << all();
  return os.str();
}

}  // namespace weft::launch
