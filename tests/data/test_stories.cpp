// The built-in story corpus: the template language, determinism per seed, variety (every plot, many
// distinct sentences, hundreds of sentence forms), summaries consistent with their stories, and
// prepare_builtin_stories (shards, pairs.jsonl, tokenizer, thread-count independence, speed, SentencePiece).
#include <gtest/gtest.h>
#include <omp.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "data/jsonl.h"
#include "data/shard.h"
#include "data/stories.h"
#include "data/story_template.h"
#include "data/tokenizer.h"
#include "data_test_util.h"

namespace weft::data {
namespace {

using test::TempDir;

TEST(StoryTemplate, AlternativesBindingsCapitalsAndArticles) {
  story::Teller t(1, 2);
  t.bind("he", "she");
  EXPECT_EQ(t.expand("{^he} ran."), "She ran.");
  EXPECT_EQ(t.expand("{=w:owl}{+w} and {=v:cat}{+v}"), "an owl and a cat");
  EXPECT_EQ(t.expand("{=a,b:one,two}{b}-{a}"), "two-one");
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) seen.insert(story::Teller(1, i).expand("{a|b{|c}}d"));
  EXPECT_EQ(seen, (std::set<std::string>{"ad", "bd", "bcd"}));
  EXPECT_EQ(story::count_forms("{a|b{|c}} {x} {@girl} {p|q}"), 3 * 2);
  EXPECT_THROW(t.expand("{unbound}"), Error);
  EXPECT_THROW(t.expand("{@no_such_list}"), Error);
  EXPECT_THROW(t.expand("{open"), Error);
  EXPECT_THROW(t.expand("close}"), Error);
}

TEST(Stories, DeterministicPerSeedAndDifferentAcrossSeeds) {
  for (uint64_t i : {0, 5, 123456}) {
    Story a = generate_story(1, i), b = generate_story(1, i), c = generate_story(2, i);
    EXPECT_EQ(a.text, b.text);
    EXPECT_EQ(a.summary, b.summary);
    EXPECT_NE(a.text, c.text);
  }
}

std::vector<std::string> sentences(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    cur += text[i];
    auto ends = [&](const std::string& x) {
      return cur.size() >= x.size() && cur.compare(cur.size() - x.size(), x.size(), x) == 0;
    };
    const bool title = ends(" Mr.") || ends(" Mrs.");
    if ((text[i] == '.' || text[i] == '!' || text[i] == '?') && !title &&
        (i + 1 == text.size() || text[i + 1] == ' ')) {
      out.push_back(cur);
      cur.clear();
      ++i;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

TEST(Stories, VariedWellFormedAndSummariesMatchTheirStories) {
  std::map<std::string, int> plots;
  std::set<std::string> texts, distinct_sentences, openings;
  for (int i = 0; i < 3000; ++i) {
    Story s = generate_story(3, i);
    ++plots[s.plot];
    texts.insert(s.text);
    openings.insert(s.text.substr(0, s.text.find_first_of(".!")));
    for (const auto& x : sentences(s.text)) distinct_sentences.insert(x);
    ASSERT_GT(s.text.size(), 250u) << s.text;
    ASSERT_EQ(s.text.find_first_of("{}"), std::string::npos) << s.text;
    ASSERT_EQ(s.text.find("  "), std::string::npos) << s.text;
    ASSERT_EQ(s.text.find(" ,"), std::string::npos) << s.text;
    ASSERT_EQ(s.text.find(" a a"), std::string::npos) << s.text;
    ASSERT_TRUE(s.text[0] >= 'A' && s.text[0] <= 'Z') << s.text;
    ASSERT_NE(std::string(".!?\"").find(s.text.back()), std::string::npos) << s.text;
    ASSERT_FALSE(s.summary.empty());
    EXPECT_EQ(s.summary.back(), '.') << s.summary;
    EXPECT_EQ(sentences(s.summary).size(), 1u) << s.summary;
    // Every capitalised word of the summary after its first (names, mostly) occurs in the story.
    std::istringstream words(s.summary);
    std::string w;
    words >> w;
    while (words >> w) {
      while (!w.empty() && std::string(".,!?'s").find(w.back()) != std::string::npos) w.pop_back();
      if (!w.empty() && w[0] >= 'A' && w[0] <= 'Z') {
        EXPECT_NE(s.text.find(w), std::string::npos) << w << " | " << s.summary << " | " << s.text;
      }
    }
  }
  const StoryTemplateStats st = story_template_stats();
  std::printf(
      "[ info ] %lld plots, %lld sentence templates, %lld sentence forms; 3000 stories: %zu distinct sentences, %zu "
      "openings\n",
      (long long)st.plots, (long long)st.sentence_templates, (long long)st.sentence_forms, distinct_sentences.size(),
      openings.size());
  EXPECT_EQ(static_cast<int64_t>(plots.size()), st.plots) << "every plot occurs";
  for (const auto& [name, n] : plots) EXPECT_GT(n, 3000 / st.plots / 3) << name;
  EXPECT_GE(st.plots, 19);
  EXPECT_GT(st.sentence_forms, 500);
  EXPECT_EQ(texts.size(), 3000u);
  EXPECT_GT(distinct_sentences.size(), 5000u);
  EXPECT_GT(openings.size(), 500u);
}

TEST(Stories, PrepareWritesShardsPairsAndTokenizerQuickly) {
  TempDir dir("prep");
  auto t0 = std::chrono::steady_clock::now();
  StoriesOptions opt;
  opt.out_dir = dir.path();
  opt.seed = 7;
  opt.target_tokens = 4'000'000;
  PrepareStats st = prepare_builtin_stories(opt);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ info ] 4M-token story corpus: %lld stories, %lld + %lld tokens in %.2f s (%.1f M tokens/s)\n",
              (long long)st.documents, (long long)st.train_tokens, (long long)st.val_tokens, s,
              (st.train_tokens + st.val_tokens) / s / 1e6);
  EXPECT_LT(s, 60.0) << "generous bound: millions of tokens take well under a second on one core";
  EXPECT_GE(st.train_tokens, 4'000'000);
  EXPECT_NEAR(static_cast<double>(st.val_tokens) / (st.train_tokens + st.val_tokens), 0.05, 0.01);
  Shard train(dir / "train.bin", 257), val(dir / "val.bin", 257);
  EXPECT_EQ(train.size(), st.train_tokens);
  EXPECT_EQ(train.documents() + val.documents(), st.documents);
  EXPECT_EQ(train.eot(), 256);
  EXPECT_EQ(train.at(train.size() - 1), 256);
  EXPECT_EQ(load_tokenizer(dir.path())->name(), "byte");
  EXPECT_TRUE(std::filesystem::exists(dir / "data.json"));
  // pairs.jsonl: one object per story, in order, its story equal to the decoded tokens.
  std::ifstream pairs(dir / "pairs.jsonl");
  std::string line, summary, story, split;
  int64_t n = 0, n_val = 0, train_pos = 0;
  auto tok = make_byte_tokenizer();
  while (std::getline(pairs, line)) {
    ASSERT_EQ(json_string_field(line, "summary", summary), "") << line;
    ASSERT_EQ(json_string_field(line, "story", story), "") << line;
    ASSERT_EQ(json_string_field(line, "split", split), "") << line;
    ASSERT_EQ(line.rfind("{\"id\": " + std::to_string(n) + ",", 0), 0u) << line;
    n_val += split == "val";
    if (split == "train" && train_pos < 200000) {
      std::vector<int32_t> ids(story.size());
      train.copy(train_pos, static_cast<int64_t>(ids.size()), ids.data());
      ASSERT_EQ(tok->decode(ids), story);
      ASSERT_EQ(train.at(train_pos + static_cast<int64_t>(ids.size())), 256);
      train_pos += static_cast<int64_t>(ids.size()) + 1;
    }
    ++n;
  }
  EXPECT_EQ(n, st.documents);
  EXPECT_EQ(n_val, val.documents());
}

TEST(Stories, OutputIsAPureFunctionOfTheSeedWhateverTheThreadCount) {
  TempDir dir("same");
  StoriesOptions opt;
  opt.stories = 3000;
  opt.seed = 4;
  opt.out_dir = dir / "a";
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  PrepareStats a = prepare_builtin_stories(opt);
  omp_set_num_threads(std::max(2, threads));
  opt.out_dir = dir / "b";
  prepare_builtin_stories(opt);
  opt.out_dir = dir / "c";
  opt.seed = 5;
  prepare_builtin_stories(opt);
  omp_set_num_threads(threads);
  EXPECT_EQ(a.documents, 3000);
  for (const char* f : {"train.bin", "val.bin", "pairs.jsonl"}) {
    EXPECT_EQ(test::read_bytes(dir / "a/" + f), test::read_bytes(dir / "b/" + f)) << f;
    EXPECT_NE(test::read_bytes(dir / "a/" + f), test::read_bytes(dir / "c/" + f)) << f;
  }
}

TEST(Stories, SentencePieceCorpusDecodesToTheStories) {
  TempDir dir("spstories");
  StoriesOptions opt;
  opt.out_dir = dir.path();
  opt.stories = 1000;
  opt.tokenizer = "sentencepiece";
  opt.sp.vocab_size = 600;
  PrepareStats st = prepare_builtin_stories(opt);
  auto tok = load_tokenizer(dir.path());
  ASSERT_EQ(tok->name(), "sentencepiece");
  Shard val(dir / "val.bin", tok->vocab_size());
  EXPECT_EQ(val.eot(), tok->eot());
  EXPECT_EQ(val.documents(), 50);
  std::printf("[ info ] 1000 stories: %lld SentencePiece tokens (vocabulary %lld)\n", (long long)st.train_tokens,
              (long long)tok->vocab_size());
  EXPECT_LT(st.train_tokens, 1000 * 545 / 2) << "far fewer tokens than bytes";
  std::vector<int32_t> first;  // the first validation story is story 19
  for (int64_t i = 0; val.at(i) != tok->eot(); ++i) first.push_back(val.at(i));
  EXPECT_EQ(tok->decode(first), generate_story(1, 19).text);
}

}  // namespace
}  // namespace weft::data
