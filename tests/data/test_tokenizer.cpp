// Tokenizers: byte-level round trip (all bytes, UTF-8), SentencePiece BPE and unigram trained on a
// generated corpus (exact round trips incl. newlines, leading spaces and characters it never saw),
// split_digits on and off, training errors, and tokenizer.txt of a data folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/stories.h"
#include "data/tokenizer.h"
#include "data_test_util.h"

namespace weft::data {
namespace {

using test::expect_error;
using test::TempDir;

TEST(ByteTokenizer, RoundTripAllBytesAndUtf8) {
  auto t = make_byte_tokenizer();
  EXPECT_EQ(t->name(), "byte");
  EXPECT_EQ(t->vocab_size(), 257);
  EXPECT_EQ(t->eot(), 256);
  const std::string utf8 = "Hello, w\xc3\xb6rld \xf0\x9f\x99\x82! \xe6\x97\xa5\xe6\x9c\xac";
  auto ids = t->encode(utf8);
  ASSERT_EQ(ids.size(), utf8.size());
  EXPECT_EQ(ids[9], 0xb6);
  ids.push_back(t->eot());  // skipped by decode
  EXPECT_EQ(t->decode(ids), utf8);
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  auto all_ids = t->encode(all);
  for (int b = 0; b < 256; ++b) ASSERT_EQ(all_ids[b], b);
  EXPECT_EQ(t->decode(all_ids), all);
  EXPECT_TRUE(t->encode("").empty());
}

std::string story_corpus(const TempDir& dir, int stories) {
  const std::string path = dir / "corpus.txt";
  std::ofstream f(path);
  for (int i = 0; i < stories; ++i) f << generate_story(11, i).text << "\n";
  return path;
}

void expect_round_trips(const Tokenizer& tok) {
  const std::string story = generate_story(12, 3).text;  // not in the training corpus
  auto ids = tok.encode(story);
  EXPECT_LT(ids.size(), story.size() * 3 / 4) << "it compresses (256 of the ids are byte-fallback pieces)";
  EXPECT_EQ(tok.decode(ids), story);
  for (const std::string& s : {std::string("  two leading spaces"), std::string("line one\nline two\n\ttab"),
                               std::string("emoji \xf0\x9f\x99\x82 and \xc3\xa9t\xc3\xa9 and \xe6\x97\xa5"),
                               std::string("digits 12345, {braces} & <tags>"), std::string("")}) {
    auto v = tok.encode(s);
    for (int32_t id : v) ASSERT_TRUE(id >= 0 && id < tok.vocab_size() && id != tok.eot());
    EXPECT_EQ(tok.decode(v), s);
  }
  auto with_eot = tok.encode("a b");
  with_eot.push_back(tok.eot());
  EXPECT_EQ(tok.decode(with_eot), "a b") << "end-of-text is skipped";
}

TEST(SentencePiece, BpeTrainEncodeDecodeRoundTrip) {
  TempDir dir("spbpe");
  train_sentencepiece(story_corpus(dir, 1500), dir / "sp", 512);
  auto tok = load_sentencepiece(dir / "sp.model");
  EXPECT_EQ(tok->name(), "sentencepiece");
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->eot(), 1);
  EXPECT_EQ(tok->description(), "sentencepiece sp.model");
  expect_round_trips(*tok);
}

TEST(SentencePiece, UnigramTrainEncodeDecodeRoundTrip) {
  TempDir dir("spuni");
  SentencePieceOptions opt;
  opt.vocab_size = 400;
  opt.model_type = "unigram";
  train_sentencepiece(story_corpus(dir, 800), dir / "uni", opt);
  auto tok = load_sentencepiece(dir / "uni.model");
  EXPECT_LE(tok->vocab_size(), 400);
  EXPECT_GT(tok->vocab_size(), 300);
  expect_round_trips(*tok);
}

// The digit runs of tok.encode(text)'s pieces: each piece decoded alone, its digits counted.
std::vector<int> digits_per_piece(const Tokenizer& tok, const std::string& text) {
  std::vector<int> out;
  for (int32_t id : tok.encode(text)) {
    int n = 0;
    for (char ch : tok.decode({id})) n += ch >= '0' && ch <= '9';
    if (n > 0) out.push_back(n);
  }
  return out;
}

// split_digits (the default; MoEUT's tokenizer): "12345" is five one-digit pieces even when the corpus repeats
// it so often that BPE without the option learns a multi-digit piece.
TEST(SentencePiece, SplitDigitsGivesOneDigitPieces) {
  TempDir dir("spdigits");
  const std::string corpus = story_corpus(dir, 300);
  {
    std::ofstream f(corpus, std::ios::app);
    for (int i = 0; i < 2000; ++i) f << "Ticket 12345 costs 2024 coins, call 12345 now.\n";
  }
  SentencePieceOptions opt;
  opt.vocab_size = 400;
  train_sentencepiece(corpus, dir / "split", opt);
  opt.split_digits = false;
  train_sentencepiece(corpus, dir / "merged", opt);
  auto split = load_sentencepiece(dir / "split.model"), merged = load_sentencepiece(dir / "merged.model");
  for (const std::string& s : {std::string("12345"), std::string("Ticket 12345 costs 2024.")}) {
    SCOPED_TRACE(s);
    const std::vector<int> one = digits_per_piece(*split, s), many = digits_per_piece(*merged, s);
    EXPECT_EQ(one, std::vector<int>(s == "12345" ? 5 : 9, 1));
    EXPECT_LT(many.size(), one.size()) << "without split_digits BPE merges the frequent digit runs";
    EXPECT_EQ(split->decode(split->encode(s)), s);
    EXPECT_EQ(merged->decode(merged->encode(s)), s);
  }
  EXPECT_EQ(sentencepiece_options_json(opt),
            R"({"model_type": "bpe", "vocab_size": 400, "split_digits": false, "normalization_rule_name": "identity", )"
            R"("remove_extra_whitespaces": false, "byte_fallback": true, "allow_whitespace_only_pieces": true, )"
            R"("treat_whitespace_as_suffix": false, "character_coverage": 0.9995})");
}

TEST(SentencePiece, TrainingAndLoadingErrorsAreExplained) {
  TempDir dir("sperr");
  const std::string corpus = story_corpus(dir, 10);
  expect_error([&] { train_sentencepiece(corpus, dir / "x", 100); }, {"--vocab-size must be >= 320", "got 100"});
  SentencePieceOptions bad;
  bad.model_type = "word2vec";
  expect_error([&] { train_sentencepiece(corpus, dir / "x", bad); }, {"bpe or unigram", "word2vec"});
  expect_error([&] { train_sentencepiece(dir / "none.txt", dir / "x", 512); }, {"none.txt", "does not exist"});
  test::write_text(dir / "garbage.model", "not a model");
  expect_error([&] { load_sentencepiece(dir / "garbage.model"); },
               {"cannot load SentencePiece model", "garbage.model"});
  expect_error([&] { load_sentencepiece(dir / "absent.model"); }, {"absent.model", "does not exist"});
}

TEST(TokenizerDescription, LoadsByteAndSentencePieceFromADataFolder) {
  TempDir dir("desc");
  const std::string data = dir / "data";
  std::filesystem::create_directories(data);
  expect_error([&] { load_tokenizer(data); }, {"tokenizer.txt is missing", data});
  save_tokenizer_description(*make_byte_tokenizer(), data);
  EXPECT_EQ(load_tokenizer(data)->name(), "byte");
  test::write_text(data + "/tokenizer.txt", "# written by hand\n\n  byte  \n");
  EXPECT_EQ(load_tokenizer(data)->vocab_size(), 257);
  test::write_text(data + "/tokenizer.txt", "wordpiece vocab.txt\n");
  expect_error([&] { load_tokenizer(data); }, {"tokenizer.txt", "unknown tokenizer 'wordpiece'"});
  test::write_text(data + "/tokenizer.txt", "sentencepiece\n");
  expect_error([&] { load_tokenizer(data); }, {"needs a model file name"});
  test::write_text(data + "/tokenizer.txt", "\n# nothing\n");
  expect_error([&] { load_tokenizer(data); }, {"names no tokenizer"});
  // Found by tests/fuzz/fuzz_tokenizer: a model name the OS refuses escaped as std::filesystem_error (exit 1,
  // "fatal: filesystem error"); now a weft::Error naming the file.
  test::write_text(data + "/tokenizer.txt", "sentencepiece " + std::string(300, 'm') + ".model\n");
  expect_error([&] { load_tokenizer(data); }, {std::string(300, 'm'), "does not exist", "File name too long"});
  // A model trained elsewhere is copied in, so the folder is self-contained.
  train_sentencepiece(story_corpus(dir, 300), dir / "elsewhere", 400);
  save_tokenizer_description(*load_sentencepiece(dir / "elsewhere.model"), data);
  EXPECT_TRUE(std::filesystem::exists(data + "/tokenizer.model"));
  std::filesystem::remove(dir / "elsewhere.model");
  auto tok = load_tokenizer(data);
  EXPECT_EQ(tok->name(), "sentencepiece");
  EXPECT_EQ(tok->decode(tok->encode("Lily had a red ball.")), "Lily had a red ball.");
  std::filesystem::remove(data + "/tokenizer.model");
  expect_error([&] { load_tokenizer(data); }, {"tokenizer.model", "does not exist"});
}

}  // namespace
}  // namespace weft::data
