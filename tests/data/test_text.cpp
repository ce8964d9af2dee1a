// Tokenizers, the built-in story corpus and text/JSONL preparation.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "data/jsonl.h"
#include "data/prepare.h"
#include "data/shard.h"
#include "runtime/check.h"
#include "data/stories.h"
#include "data/tokenizer.h"

namespace weft::data {
namespace {

std::string tmp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("weft_text_" + std::to_string(::getpid())) / name;
  std::filesystem::create_directories(dir);
  return dir.string();
}

TEST(ByteTokenizer, RoundTripIncludingUtf8) {
  auto t = make_byte_tokenizer();
  std::string s = "Hello, w\xc3\xb6rld \xf0\x9f\x99\x82!";
  auto ids = t->encode(s);
  EXPECT_EQ(ids.size(), s.size());
  ids.push_back(t->eot());
  EXPECT_EQ(t->decode(ids), s);
  EXPECT_EQ(t->vocab_size(), 257);
}

TEST(Stories, DeterministicVariedWithSummaries) {
  Story a = generate_story(1, 5), b = generate_story(1, 5), c = generate_story(2, 5);
  EXPECT_EQ(a.text, b.text);
  EXPECT_NE(a.text, c.text);
  std::set<std::string> texts, first_sentences;
  for (int i = 0; i < 500; ++i) {
    Story s = generate_story(3, i);
    EXPECT_FALSE(s.summary.empty());
    EXPECT_EQ(s.summary.back(), '.');
    EXPECT_GT(s.text.size(), 150u);
    texts.insert(s.text);
    first_sentences.insert(s.text.substr(0, s.text.find(". ")));
  }
  EXPECT_GT(texts.size(), 495u);
  EXPECT_GT(first_sentences.size(), 100u);
}

TEST(Stories, PrepareWritesShardsPairsAndTokenizer) {
  std::string dir = tmp_dir("stories");
  auto t0 = std::chrono::steady_clock::now();
  PrepareStats st = prepare_builtin_stories(dir, 7, 2'000'000);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ info ] 2M-token story corpus in %.2f s (%lld documents)\n", s, (long long)st.documents);
  EXPECT_GE(st.train_tokens, 2'000'000);
  EXPECT_GT(st.val_tokens, 50'000);
  Shard train(dir + "/train.bin", 257), val(dir + "/val.bin", 257);
  EXPECT_EQ(train.size(), st.train_tokens);
  auto tok = load_tokenizer(dir);
  EXPECT_EQ(tok->name(), "byte");
  std::ifstream pairs(dir + "/pairs.jsonl");
  std::string line;
  int64_t n = 0;
  while (std::getline(pairs, line)) {
    std::string summary, story;
    ASSERT_EQ(json_string_field(line, "summary", summary), "") << line;
    ASSERT_EQ(json_string_field(line, "story", story), "") << line;
    ++n;
  }
  EXPECT_EQ(n, st.documents);
}

TEST(Jsonl, StringsEscapesAndErrors) {
  std::string out;
  EXPECT_EQ(json_string_field(R"({"id": 3, "meta": {"a": [1, 2.5e3, null]}, "text": "a\"b\\n\u00e9\ud83d\ude42"})", "text", out), "");
  EXPECT_EQ(out, "a\"b\\n\xc3\xa9\xf0\x9f\x99\x82");
  EXPECT_EQ(json_string_field(R"({"text": "x"})", "body", out), "missing field 'body'");
  EXPECT_NE(json_string_field(R"({"text": "x\q"})", "text", out).find("invalid escape"), std::string::npos);
  EXPECT_NE(json_string_field(R"({"text": "x")", "text", out).find("expected"), std::string::npos);
  EXPECT_NE(json_string_field(R"({"text": "\ud83d"})", "text", out).find("surrogate"), std::string::npos);
  std::string round = "tab\there \"q\" \x01";
  EXPECT_EQ(json_string_field("{\"text\": \"" + json_escape_string(round) + "\"}", "text", out), "");
  EXPECT_EQ(out, round);
}

TEST(PrepareText, JsonlWithLineNumberedErrors) {
  std::string dir = tmp_dir("jsonl");
  std::string in = dir + "/in.jsonl";
  {
    std::ofstream f(in);
    for (int i = 0; i < 40; ++i) f << "{\"text\": \"document number " << i << " is here.\"}\n";
  }
  TextPrepareOptions o;
  o.input = in;
  o.out_dir = dir + "/out";
  TextPrepareStats st = prepare_text(o);
  EXPECT_EQ(st.documents, 40);
  EXPECT_GT(st.val_tokens, 0);
  {
    std::ofstream f(in, std::ios::app);
    f << "{\"text\": 5}\n";
  }
  try {
    prepare_text(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("in.jsonl:41: field 'text' is not a string"), std::string::npos) << e.what();
  }
}

TEST(SentencePiece, TrainEncodeDecodeRoundTrip) {
  std::string dir = tmp_dir("sp");
  std::string corpus = dir + "/corpus.txt";
  {
    std::ofstream f(corpus);
    for (int i = 0; i < 400; ++i) f << generate_story(11, i).text << "\n";
  }
  train_sentencepiece(corpus, dir + "/sp", 512);
  auto tok = load_sentencepiece(dir + "/sp.model");
  EXPECT_EQ(tok->vocab_size(), 512);
  std::string text = generate_story(12, 3).text;
  auto ids = tok->encode(text);
  EXPECT_LT(ids.size(), text.size() / 2);  // it compresses
  EXPECT_EQ(tok->decode(ids), text);
}

}  // namespace
}  // namespace weft::data
