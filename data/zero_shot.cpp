// The story-based zero-shot sets (plot-consistency pairs, choice items), their JSON lines, and the
// `weft prepare --builtin zero-shot` writer. Stories come from generate_story at held-out indices
// (kZeroShotIndexBase + set * 2^32 + item); each item draws its choices from a Teller of its own index.
//   plot_consistency: a beat k >= 2 of the story that names the hero, or repeats the object or the place the
//     earlier beats introduced; bad = that beat with every such mention swapped for a word of the same list
//     (same gender of name, same place list so "in/at the" stays right, same first-letter class so "a/an"
//     stays right; the same length where the list allows) that the story never uses. Context = beats 0..k-1.
//   choice: context = beats 0..k-1 (k >= 2), choices = beat k and one beat (not the opening) of each of
//     three other held-out stories, in a random order.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>

#include "data/jsonl.h"
#include "data/stories.h"
#include "data/story_template.h"
#include "data/zero_shot.h"
#include "runtime/check.h"

namespace weft::data {

namespace fs = std::filesystem;
using story::Teller;

namespace {

// Index sets 0-2 are the template phenomena (zero_shot_pairs.cpp).
constexpr uint64_t kPlotSet = 3, kPlotDrawSet = 4, kChoiceSet = 5, kChoiceDrawSet = 6, kDistractorSet = 7;

uint64_t held_out_index(uint64_t set, uint64_t item) { return kZeroShotIndexBase + (set << 32) + item; }

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Start offsets of `word` in s as a whole word (not inside a longer one; "Lily's" counts).
std::vector<size_t> find_word(const std::string& s, const std::string& word) {
  std::vector<size_t> at;
  for (size_t p = s.find(word); p != std::string::npos; p = s.find(word, p + 1)) {
    const size_t e = p + word.size();
    if ((p == 0 || !word_char(s[p - 1])) && (e >= s.size() || !word_char(s[e]))) at.push_back(p);
  }
  return at;
}

std::string replace_word(const std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  size_t last = 0;
  for (size_t p : find_word(s, from)) {
    out.append(s, last, p - last);
    out += to;
    last = p + from.size();
  }
  out.append(s, last, std::string::npos);
  return out;
}

bool vowel_initial(const std::string& w) {
  const char c = static_cast<char>(w.empty() ? 'x' : w[0] | 0x20);
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

const std::string& cast_value(const Story& s, const std::string& key) {
  for (const auto& [k, v] : s.cast)
    if (k == key) return v;
  WEFT_FAIL("[zero-shot] story cast has no '", key, "'");
}

// The list a cast word comes from, among `lists`; empty when none holds it.
std::string_view list_of(const std::string& word, std::initializer_list<std::string_view> lists) {
  for (std::string_view l : lists)
    for (std::string_view w : story::word_list(l))
      if (w == word) return l;
  return {};
}

// A word of `list` other than `word`, used nowhere in `text`, with the same first-letter class; the same
// length when one exists. Empty when none.
std::string replacement(Teller& t, std::string_view list, const std::string& word, const std::string& text) {
  std::vector<std::string> same_len, any;
  for (std::string_view w : story::word_list(list)) {
    const std::string c(w);
    if (c == word || vowel_initial(c) != vowel_initial(word) || !find_word(text, c).empty()) continue;
    any.push_back(c);
    if (c.size() == word.size()) same_len.push_back(c);
  }
  const std::vector<std::string>& from = same_len.empty() ? any : same_len;
  return from.empty() ? std::string() : from[static_cast<size_t>(t.roll(static_cast<int>(from.size())))];
}

std::string join(const std::vector<std::string>& beats, size_t end) {
  std::string s;
  for (size_t i = 0; i < end; ++i) s += (i ? " " : "") + beats[i];
  return s;
}

}  // namespace

bool make_plot_pair(uint64_t seed, uint64_t item, MinimalPair& out) {
  const Story s = generate_story(seed, held_out_index(kPlotSet, item));
  Teller t(seed, held_out_index(kPlotDrawSet, item));
  struct Swap {
    size_t beat;
    const char* what;
    std::string word;
    std::string_view list;
  };
  // The toy noun of the object ("red ball": ball); the hero's name unless it is also an English word
  // ("May I try", "Will you share" start sentences).
  const std::string& hero = cast_value(s, "H");
  std::string obj = cast_value(s, "obj");
  obj = obj.substr(obj.find(' ') == std::string::npos || list_of(obj, {"toy"}).size() ? 0 : obj.find(' ') + 1);
  const std::string& place = cast_value(s, "place");
  const std::vector<std::pair<const char*, std::pair<std::string, std::string_view>>> kinds = {
      {"name", {hero, hero == "May" || hero == "Will" ? std::string_view() : list_of(hero, {"girl", "boy", "pet_name"})}},
      {"object", {obj, list_of(obj, {"toy"})}},
      {"place", {place, list_of(place, {"place_in", "place_at"})}},
  };
  std::vector<Swap> swaps;
  for (size_t k = 2; k < s.beats.size(); ++k)
    for (const auto& [what, wl] : kinds) {
      const auto& [word, list] = wl;
      if (list.empty() || find_word(s.beats[k], word).empty()) continue;
      bool earlier = false;
      for (size_t i = 0; i < k && !earlier; ++i) earlier = !find_word(s.beats[i], word).empty();
      if (earlier) swaps.push_back({k, what, word, list});
    }
  if (swaps.empty()) return false;
  // A kind first (names are mentioned far more often than objects and places), then one of its beats.
  std::vector<const char*> offered;
  for (const Swap& sw : swaps)
    if (std::find(offered.begin(), offered.end(), sw.what) == offered.end()) offered.push_back(sw.what);
  const char* kind = offered[static_cast<size_t>(t.roll(static_cast<int>(offered.size())))];
  std::erase_if(swaps, [&](const Swap& sw) { return sw.what != kind; });
  const Swap& sw = swaps[static_cast<size_t>(t.roll(static_cast<int>(swaps.size())))];
  const std::string other = replacement(t, sw.list, sw.word, s.text);
  if (other.empty()) return false;
  out.phenomenon = "plot_consistency";
  out.detail = sw.what;
  out.context = join(s.beats, sw.beat);
  out.good = " " + s.beats[sw.beat];
  out.bad = " " + replace_word(s.beats[sw.beat], sw.word, other);
  return true;
}

ChoiceItem make_choice_item(uint64_t seed, uint64_t item) {
  const Story s = generate_story(seed, held_out_index(kChoiceSet, item));
  Teller t(seed, held_out_index(kChoiceDrawSet, item));
  WEFT_CHECK(s.beats.size() >= 3, "[zero-shot] story ", item, " has fewer than 3 beats");
  const size_t k = 2 + static_cast<size_t>(t.roll(static_cast<int>(s.beats.size() - 2)));
  ChoiceItem c;
  c.context = join(s.beats, k);
  std::vector<std::string> choices = {" " + s.beats[k]};
  for (uint64_t d = 0; choices.size() < 4; ++d) {
    WEFT_CHECK(d < 64, "[zero-shot] no distinct distractors for choice item ", item);
    const Story o = generate_story(seed, held_out_index(kDistractorSet, item * 64 + d));
    const std::string beat = " " + o.beats[1 + static_cast<size_t>(t.roll(static_cast<int>(o.beats.size() - 1)))];
    if (std::find(choices.begin(), choices.end(), beat) == choices.end()) choices.push_back(beat);
  }
  c.answer = t.roll(4);
  std::swap(choices[0], choices[static_cast<size_t>(c.answer)]);
  c.choices = std::move(choices);
  return c;
}

std::string minimal_pair_json(const MinimalPair& p) {
  std::string s = "{\"phenomenon\": \"" + json_escape_string(p.phenomenon) + "\", \"detail\": \"" +
                  json_escape_string(p.detail) + "\"";
  if (!p.context.empty()) s += ", \"context\": \"" + json_escape_string(p.context) + "\"";
  return s + ", \"good\": \"" + json_escape_string(p.good) + "\", \"bad\": \"" + json_escape_string(p.bad) + "\"}";
}

std::string choice_item_json(const ChoiceItem& c) {
  std::string s = "{\"context\": \"" + json_escape_string(c.context) + "\", \"choices\": [";
  for (size_t i = 0; i < c.choices.size(); ++i) s += (i ? ", \"" : "\"") + json_escape_string(c.choices[i]) + "\"";
  return s + "], \"answer\": " + std::to_string(c.answer) + "}";
}

ZeroShotStats prepare_zero_shot(const ZeroShotOptions& opt) {
  WEFT_CHECK(opt.examples > 0, "--examples must be positive, got ", opt.examples);
  fs::create_directories(opt.out_dir);
  ZeroShotStats st;
  st.pairs_path = (fs::path(opt.out_dir) / "minimal_pairs.jsonl").string();
  st.choice_path = (fs::path(opt.out_dir) / "choice.jsonl").string();
  auto write = [](const std::string& path, const std::function<void(std::ostream&)>& body) {
    std::ofstream f(path + ".tmp", std::ios::binary);
    WEFT_CHECK(f, "[prepare] cannot write ", path, ".tmp");
    body(f);
    f.close();
    WEFT_CHECK(f.good(), "[prepare] writing ", path, " failed (disk full?)");
    fs::rename(path + ".tmp", path);
  };
  write(st.pairs_path, [&](std::ostream& f) {
    for (int ph = 0; ph < 3; ++ph)
      for (int64_t i = 0; i < opt.examples; ++i, ++st.pairs)
        f << minimal_pair_json(make_template_pair(opt.seed, ph, static_cast<uint64_t>(i))) << '\n';
    MinimalPair p;
    for (uint64_t item = 0, n = 0; static_cast<int64_t>(n) < opt.examples; ++item) {
      WEFT_CHECK(item < static_cast<uint64_t>(opt.examples) * 16 + 64, "[zero-shot] too few stories with a swap");
      if (!make_plot_pair(opt.seed, item, p)) continue;
      f << minimal_pair_json(p) << '\n';
      ++n, ++st.pairs;
    }
  });
  write(st.choice_path, [&](std::ostream& f) {
    for (int64_t i = 0; i < opt.examples; ++i, ++st.choices)
      f << choice_item_json(make_choice_item(opt.seed, static_cast<uint64_t>(i))) << '\n';
  });
  return st;
}

}  // namespace weft::data
