// The small template language of the built-in stories (syntax on class Teller): alternatives, variables,
// word lists, bindings, capitals and articles. Expansion draws from a counter-based stream keyed by
// (seed, story index), so a story is a pure function of both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::data::story {

using Words = std::vector<std::string_view>;

// The word list `name`; throws for an unknown name (a template bug, caught by the tests).
const Words& word_list(std::string_view name);

// In a template:
//   {name}          the story's variable `name` (bound by the cast or by {=...})
//   {@list}         a fresh word from a word list (story_words.cpp)
//   {a|b|c}         one alternative, uniformly; alternatives nest and may be empty ({|very }big)
//   {^...}          the rest of the group with its first letter capitalised ({^he} -> "She")
//   {+...}          the rest of the group with "a " or "an " in front ({+@animal} -> "an owl")
//   {=x:a|b}        binds x to one alternative, expanded now; prints nothing
//   {=x,y:a,b|c,d}  binds x and y together from one alternative (values split at commas)
// Any other group is template text; an unbound name, unknown list or unbalanced brace throws.
class Teller {
 public:
  Teller(uint64_t seed, uint64_t index);

  uint64_t next();  // 64 random bits
  int roll(int n);  // uniform in [0, n)
  std::string_view pick(const Words& w) { return w[static_cast<size_t>(roll(static_cast<int>(w.size())))]; }
  std::string_view pick(std::string_view list) { return pick(word_list(list)); }

  void bind(std::string_view key, std::string value);
  const std::string& get(std::string_view key) const;  // throws for an unbound name
  bool has(std::string_view key) const;

  void expand(std::string_view tmpl, std::string& out);  // appends the expansion
  std::string expand(std::string_view tmpl) {
    std::string s;
    expand(tmpl, s);
    return s;
  }

 private:
  void group(std::string_view inner, std::string& out);
  void bind_group(std::string_view spec);

  uint32_t key_[2], index_[2];
  uint64_t draws_ = 0, cache_[2] = {0, 0};
  int cached_ = 0;
  std::vector<std::pair<std::string, std::string>> vars_;
};

// The number of distinct phrasings of a template, not counting variable and word-list fills: the
// product over its groups, an alternatives group counting the sum over its alternatives.
int64_t count_forms(std::string_view tmpl);

// Helpers of the language, exposed for the tests.
size_t matching_brace(std::string_view s, size_t open);                 // index of the '}' closing s[open] == '{'
std::vector<std::string_view> split_top(std::string_view s, char sep);  // at `sep` outside braces

}  // namespace weft::data::story
