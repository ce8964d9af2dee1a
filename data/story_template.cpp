// Expansion of story templates (the language is described in story_template.h).
// Groups are found by brace matching at expansion time; templates are short, so this is cheap.
#include "data/story_template.h"

#include "runtime/check.h"
#include "runtime/math/philox.h"

namespace weft::data::story {

namespace {

bool is_identifier(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

void capitalise_from(std::string& s, size_t from) {
  for (size_t i = from; i < s.size(); ++i) {
    if (s[i] >= 'a' && s[i] <= 'z') s[i] = static_cast<char>(s[i] - 'a' + 'A');
    if ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')) return;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

size_t matching_brace(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  WEFT_FAIL("[stories] unbalanced '{' in template: ", s);
}

std::vector<std::string_view> split_top(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}') --depth;
    if (s[i] == sep && depth == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

Teller::Teller(uint64_t seed, uint64_t index)
    : key_{uint32_t(seed), uint32_t(seed >> 32)}, index_{uint32_t(index), uint32_t(index >> 32)} {
  vars_.reserve(48);
}

uint64_t Teller::next() {
  if (cached_ == 0) {  // Philox4x32-10 of counter (draw, index): two 64-bit draws per block
    const uint32_t ctr[4] = {uint32_t(draws_), uint32_t(draws_ >> 32), index_[0], index_[1]};
    uint32_t out[4];
    philox4x32_block(out, ctr, PhiloxKey{key_[0], key_[1]});
    ++draws_;
    cache_[0] = (uint64_t(out[0]) << 32) | out[1];
    cache_[1] = (uint64_t(out[2]) << 32) | out[3];
    cached_ = 2;
  }
  return cache_[--cached_];
}

int Teller::roll(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }

void Teller::bind(std::string_view key, std::string value) {
  for (auto& kv : vars_)
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  vars_.emplace_back(std::string(key), std::move(value));
}

bool Teller::has(std::string_view key) const {
  for (const auto& kv : vars_)
    if (kv.first == key) return true;
  return false;
}

const std::string& Teller::get(std::string_view key) const {
  for (const auto& kv : vars_)
    if (kv.first == key) return kv.second;
  WEFT_FAIL("[stories] template variable '", key, "' is not bound");
}

void Teller::expand(std::string_view t, std::string& out) {
  size_t i = 0;
  while (i < t.size()) {
    const size_t open = t.find('{', i);
    const std::string_view text = t.substr(i, open == std::string_view::npos ? std::string_view::npos : open - i);
    WEFT_CHECK(text.find('}') == std::string_view::npos, "[stories] unbalanced '}' in template: ", t);
    out.append(text);
    if (open == std::string_view::npos) return;
    const size_t close = matching_brace(t, open);
    group(t.substr(open + 1, close - open - 1), out);
    i = close + 1;
  }
}

void Teller::group(std::string_view in, std::string& out) {
  if (!in.empty() && in[0] == '=') return bind_group(in.substr(1));
  if (!in.empty() && in[0] == '^') {
    const size_t from = out.size();
    group(in.substr(1), out);
    return capitalise_from(out, from);
  }
  if (!in.empty() && in[0] == '+') {
    std::string word;
    group(in.substr(1), word);
    const char c = word.empty() ? 'x' : static_cast<char>(word[0] | 0x20);
    out += (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') ? "an " : "a ";
    out += word;
    return;
  }
  if (!in.empty() && in[0] == '@') {
    out.append(pick(in.substr(1)));
    return;
  }
  std::vector<std::string_view> alts = split_top(in, '|');
  if (alts.size() > 1) return expand(alts[static_cast<size_t>(roll(static_cast<int>(alts.size())))], out);
  if (is_identifier(in)) {
    out += get(in);
    return;
  }
  expand(in, out);
}

void Teller::bind_group(std::string_view spec) {
  const size_t colon = spec.find(':');
  WEFT_CHECK(colon != std::string_view::npos, "[stories] binding without ':': {=", spec, "}");
  std::vector<std::string_view> names = split_top(spec.substr(0, colon), ',');
  std::vector<std::string_view> alts = split_top(spec.substr(colon + 1), '|');
  std::string chosen;
  expand(alts[static_cast<size_t>(roll(static_cast<int>(alts.size())))], chosen);
  if (names.size() == 1) return bind(trim(names[0]), std::move(chosen));
  std::vector<std::string_view> values = split_top(chosen, ',');
  WEFT_CHECK(values.size() == names.size(), "[stories] binding of ", names.size(), " names got ", values.size(),
             " values: {=", spec, "}");
  for (size_t k = 0; k < names.size(); ++k) bind(trim(names[k]), std::string(trim(values[k])));
}

int64_t count_forms(std::string_view t) {
  int64_t forms = 1;
  size_t i = 0;
  while ((i = t.find('{', i)) != std::string_view::npos) {
    const size_t close = matching_brace(t, i);
    std::string_view in = t.substr(i + 1, close - i - 1);
    i = close + 1;
    while (!in.empty() && (in[0] == '^' || in[0] == '+')) in.remove_prefix(1);
    if (in.empty() || in[0] == '=' || in[0] == '@' || is_identifier(in)) continue;
    int64_t sum = 0;
    for (std::string_view alt : split_top(in, '|')) sum += count_forms(alt);
    forms *= sum;
  }
  return forms;
}

}  // namespace weft::data::story
