// Flag declarations and typed access to flag values (text parsed with errors that name the flag).
#include "models/flags.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "runtime/check.h"

namespace weft::models {

Flag Flag::integer(std::string key, int64_t def, std::string help) {
  return Flag{std::move(key), Type::integer, std::to_string(def), std::move(help)};
}
Flag Flag::real(std::string key, double def, std::string help) {
  return Flag{std::move(key), Type::real, real_to_text(def), std::move(help)};
}
Flag Flag::text(std::string key, std::string def, std::string help) {
  return Flag{std::move(key), Type::text, std::move(def), std::move(help)};
}
Flag Flag::boolean(std::string key, bool def, std::string help) {
  return Flag{std::move(key), Type::boolean, def ? "true" : "false", std::move(help)};
}

const char* flag_type_name(Flag::Type t) {
  switch (t) {
    case Flag::Type::integer: return "integer";
    case Flag::Type::real: return "real";
    case Flag::Type::text: return "text";
    case Flag::Type::boolean: return "boolean";
  }
  return "?";
}

std::string real_to_text(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest representation that reads back exactly
  return std::string(buf, r.ptr);
}

FlagValues FlagValues::defaults(const std::vector<Flag>& flags, const std::map<std::string, std::string>& overrides) {
  FlagValues v;
  for (const Flag& f : flags) v.set(f.key, f.default_value);
  for (const auto& [key, value] : overrides) {
    WEFT_CHECK(v.has(key), "--", key, " is not a flag of this model");
    v.set(key, value);
  }
  return v;
}

const std::string& FlagValues::text(const std::string& key) const {
  auto it = values_.find(key);
  WEFT_CHECK(it != values_.end(), "--", key, " has no value (a flag the model reads but did not declare)");
  return it->second;
}

int64_t FlagValues::integer(const std::string& key) const {
  const std::string& s = text(key);
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  WEFT_CHECK(r.ec == std::errc() && r.ptr == s.data() + s.size(), "--", key, " must be an integer, got '", s, "'");
  return v;
}

double FlagValues::real(const std::string& key) const {
  const std::string& s = text(key);
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  WEFT_CHECK(r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(v), "--", key,
             " must be a finite number, got '", s, "'");
  return v;
}

bool FlagValues::boolean(const std::string& key) const {
  const std::string& s = text(key);
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  throw Error("--" + key + " must be true or false, got '" + s + "'");
}

}  // namespace weft::models
