// The zero-shot sets of the story grammar (data/zero_shot.h): determinism per seed, minimal pairs that differ
// in exactly the contrast word (agreement phenomena) or only in the swapped mentions (plot consistency), a
// wrong form that really is the wrong one, choice items with distinct choices, held-out stories, and the
// JSON lines that `weft eval --task` reads back.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "data/jsonl.h"
#include "data/stories.h"
#include "data/story_template.h"
#include "data/zero_shot.h"
#include "data_test_util.h"

namespace weft::data {
namespace {

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

// The positions at which two equally long word lists differ.
std::vector<size_t> differing(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<size_t> d;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) d.push_back(i);
  return d;
}

bool has_word(const std::string& s, const std::string& w) {
  for (size_t p = s.find(w); p != std::string::npos; p = s.find(w, p + 1)) {
    const size_t e = p + w.size();
    if ((p == 0 || !std::isalnum(static_cast<unsigned char>(s[p - 1]))) &&
        (e == s.size() || !std::isalnum(static_cast<unsigned char>(s[e]))))
      return true;
  }
  return false;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(ZeroShot, TemplatePairsAreDeterministicAndDifferInOneWord) {
  for (int ph = 0; ph < 3; ++ph) {
    std::set<std::string> distinct;
    for (uint64_t i = 0; i < 300; ++i) {
      const MinimalPair p = make_template_pair(1, ph, i), again = make_template_pair(1, ph, i);
      EXPECT_EQ(p.good, again.good);
      EXPECT_EQ(p.bad, again.bad);
      EXPECT_EQ(p.phenomenon, kTemplatePhenomena[ph]);
      EXPECT_TRUE(p.context.empty());
      const auto g = words(p.good), b = words(p.bad);
      ASSERT_EQ(g.size(), b.size()) << p.good << " / " << p.bad;
      const std::vector<size_t> d = differing(g, b);
      ASSERT_EQ(d.size(), 1u) << p.good << " / " << p.bad;
      const std::string wg = lower(g[d[0]]), wb = lower(b[d[0]]);
      if (ph == 0) {  // the detail names the pair: "was/were"
        EXPECT_EQ(p.detail, wg + "/" + wb) << p.good;
      } else if (ph == 1) {  // the other gender's form of the same pronoun
        static const std::set<std::pair<std::string, std::string>> ok = {
            {"he", "she"}, {"she", "he"}, {"him", "her"}, {"her", "him"}, {"himself", "herself"}, {"herself", "himself"},
            {"himself.", "herself."}, {"herself.", "himself."}};
        EXPECT_TRUE(ok.count({wg, wb})) << p.good << " / " << p.bad;
        // The hero (the item's only name) is a girl exactly when the good pronoun is feminine.
        const bool girl = wg.rfind("she", 0) == 0 || wg.rfind("her", 0) == 0;
        bool girl_name = false, boy_name = false;
        for (const std::string& w : g) {
          const std::string bare = w.substr(0, w.find_first_of(".,!?'\""));
          for (std::string_view n : story::word_list("girl")) girl_name = girl_name || n == bare;
          for (std::string_view n : story::word_list("boy")) boy_name = boy_name || n == bare;
        }
        EXPECT_NE(girl_name, boy_name) << p.good;
        EXPECT_EQ(girl_name, girl) << p.good;
      } else {  // a/an: the good article is the one the next word's first letter asks for
        ASSERT_LT(d[0] + 1, g.size());
        const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(g[d[0] + 1][0])));
        const bool vowel = std::string("aeiou").find(c) != std::string::npos;
        EXPECT_EQ(wg, vowel ? "an" : "a") << p.good;
        EXPECT_EQ(wb, vowel ? "a" : "an") << p.bad;
      }
      distinct.insert(p.good);
    }
    EXPECT_GT(distinct.size(), 250u) << kTemplatePhenomena[ph];  // varied, not a handful of sentences
  }
  EXPECT_NE(make_template_pair(1, 0, 5).good + make_template_pair(1, 1, 5).good,
            make_template_pair(2, 0, 5).good + make_template_pair(2, 1, 5).good);
}

TEST(ZeroShot, SubjectVerbPairsPutTheLongerFormOnBothSides) {
  // Half the templates have the longer verb as the good one, so preferring short strings scores about 50%.
  int good_shorter = 0, n = 400;
  for (int i = 0; i < n; ++i) {
    const MinimalPair p = make_template_pair(3, 0, static_cast<uint64_t>(i));
    good_shorter += p.good.size() < p.bad.size();
  }
  EXPECT_GT(good_shorter, n * 35 / 100);
  EXPECT_LT(good_shorter, n * 65 / 100);
}

TEST(ZeroShot, PlotPairsSwapOnlyMentionsTheContextIntroduced) {
  std::set<std::string> kinds;
  int made = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    MinimalPair p;
    if (!make_plot_pair(1, i, p)) continue;
    ++made;
    kinds.insert(p.detail);
    EXPECT_EQ(p.phenomenon, "plot_consistency");
    ASSERT_FALSE(p.context.empty());
    ASSERT_EQ(p.good[0], ' ');  // continues the context verbatim
    ASSERT_NE(p.good, p.bad);
    // Exactly one word of the cast lists leaves (it is in the context) and one comes in (new to the story).
    std::vector<std::string> gone, added;
    for (const char* list : {"girl", "boy", "pet_name", "toy", "place_in", "place_at"})
      for (std::string_view w : story::word_list(list)) {
        const bool in_good = has_word(p.good, std::string(w)), in_bad = has_word(p.bad, std::string(w));
        if (in_good && !in_bad) gone.emplace_back(w);
        if (in_bad && !in_good) added.emplace_back(w);
      }
    ASSERT_EQ(gone.size(), 1u) << p.good << " / " << p.bad;
    ASSERT_EQ(added.size(), 1u) << p.good << " / " << p.bad;
    EXPECT_TRUE(has_word(p.context, gone[0])) << gone[0];
    EXPECT_FALSE(has_word(p.context, added[0])) << added[0];
    MinimalPair again;
    ASSERT_TRUE(make_plot_pair(1, i, again));
    EXPECT_EQ(again.bad, p.bad);
  }
  EXPECT_GT(made, 150);
  EXPECT_EQ(kinds, (std::set<std::string>{"name", "object", "place"}));
}

TEST(ZeroShot, ChoiceItemsHaveTheTrueNextBeatAndDistinctDistractors) {
  std::vector<int> answers(4, 0);
  for (uint64_t i = 0; i < 100; ++i) {
    const ChoiceItem c = make_choice_item(1, i);
    ASSERT_EQ(c.choices.size(), 4u);
    ASSERT_GE(c.answer, 0);
    ASSERT_LT(c.answer, 4);
    ++answers[static_cast<size_t>(c.answer)];
    EXPECT_EQ(std::set<std::string>(c.choices.begin(), c.choices.end()).size(), 4u);
    for (const std::string& ch : c.choices) EXPECT_EQ(ch[0], ' ');
    const ChoiceItem again = make_choice_item(1, i);
    EXPECT_EQ(again.context, c.context);
    EXPECT_EQ(again.choices, c.choices);
    // The context ends where a beat ends.
    EXPECT_NE(std::string(".!?\"").find(c.context.back()), std::string::npos) << c.context;
  }
  for (int a : answers) EXPECT_GT(a, 10);  // the right answer is not always in one slot
}

TEST(ZeroShot, StoriesAreHeldOutFromTheTrainingCorpus) {
  // The stories `weft prepare --builtin stories --seed 1` writes are indices 0, 1, ...; none begins like a
  // choice context.
  std::set<std::string> train_openings;
  for (uint64_t i = 0; i < 3000; ++i) train_openings.insert(generate_story(1, i).text.substr(0, 200));
  for (uint64_t i = 0; i < 200; ++i) {
    const ChoiceItem c = make_choice_item(1, i);
    if (c.context.size() >= 200) {
      EXPECT_FALSE(train_openings.count(c.context.substr(0, 200))) << c.context;
    }
  }
}

TEST(ZeroShot, PrepareWritesJsonLinesEvalReadsBack) {
  test::TempDir dir("zero_shot");
  ZeroShotOptions o;
  o.out_dir = dir.path();
  o.examples = 40;
  const ZeroShotStats st = prepare_zero_shot(o);
  EXPECT_EQ(st.pairs, 4 * 40);
  EXPECT_EQ(st.choices, 40);
  std::ifstream pairs(st.pairs_path), choice(st.choice_path);
  std::string line, good, bad, phenomenon, context;
  std::set<std::string> phenomena;
  int n = 0;
  while (std::getline(pairs, line)) {
    ++n;
    ASSERT_EQ(json_string_field(line, "good", good), "") << line;
    ASSERT_EQ(json_string_field(line, "bad", bad), "") << line;
    ASSERT_EQ(json_string_field(line, "phenomenon", phenomenon), "") << line;
    phenomena.insert(phenomenon);
    EXPECT_EQ(json_string_field(line, "context", context).empty(), phenomenon == "plot_consistency");
  }
  EXPECT_EQ(n, 160);
  EXPECT_EQ(phenomena.size(), 4u);
  n = 0;
  while (std::getline(choice, line)) {
    ++n;
    std::vector<std::string> choices;
    double answer = -1;
    ASSERT_EQ(json_string_array_field(line, "choices", choices), "") << line;
    ASSERT_EQ(json_number_field(line, "answer", answer), "") << line;
    EXPECT_EQ(choices.size(), 4u);
    EXPECT_GE(answer, 0);
  }
  EXPECT_EQ(n, 40);
  // Same seed, same files.
  test::TempDir again("zero_shot_again");
  o.out_dir = again.path();
  prepare_zero_shot(o);
  for (const char* f : {"minimal_pairs.jsonl", "choice.jsonl"}) {
    std::ifstream a(dir.path() + "/" + f), b(again.path() + "/" + f);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}), std::string(std::istreambuf_iterator<char>(b), {}));
  }
}

}  // namespace
}  // namespace weft::data
