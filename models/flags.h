// Model flags without a command-line library: each family lists its flags (key, type, default, help)
// and reads its typed configuration from FlagValues, text values keyed by flag name. launch/ turns
// these lists into Boost.Program_options flags and the [model] section of config files; models/ stays
// free of Boost. A key means one thing everywhere: two families that declare the same key must give it
// the same type, default and help (checked by registry_conflicts()).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace weft::models {

struct Flag {
  enum class Type { integer, real, text, boolean };
  std::string key;            // "d-model": --d-model on the command line, `d-model = ...` under [model]
  Type type = Type::text;
  std::string default_value;  // as a config file writes it: "128", "0.5", "gelu", "true"
  std::string help;

  static Flag integer(std::string key, int64_t def, std::string help);
  static Flag real(std::string key, double def, std::string help);
  static Flag text(std::string key, std::string def, std::string help);
  static Flag boolean(std::string key, bool def, std::string help);
};
const char* flag_type_name(Flag::Type t);

// Canonical text of a value: integers in decimal, reals in the shortest form that reads back exactly,
// booleans as true/false. Launch and tests write values through these so text round-trips bit for bit.
std::string real_to_text(double v);

// Flag values as text, keyed by flag name; typed getters parse and throw weft::Error naming the flag.
class FlagValues {
 public:
  FlagValues() = default;
  explicit FlagValues(std::map<std::string, std::string> values) : values_(std::move(values)) {}
  // Every flag of `flags` at its default, then `overrides` on top (keys must be among `flags`).
  static FlagValues defaults(const std::vector<Flag>& flags, const std::map<std::string, std::string>& overrides = {});

  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  const std::string& text(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  double real(const std::string& key) const;
  bool boolean(const std::string& key) const;
  const std::map<std::string, std::string>& all() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace weft::models
