// SentencePiece trainer options and tokenizer identity: on indented code the default options keep lone-space
// tokens rare (allow_whitespace_only_pieces; without it they are the commonest token), SentencePiece's advice comes
// back in weft's flag names and names the user's file, JSONL documents are made of the chosen text fields, and
// tokenizer identities (kind, size, hash of the pieces) tell tokenizers apart.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/documents.h"
#include "data/stories.h"
#include "data/tokenizer.h"
#include "data_test_util.h"

namespace weft::data {
namespace {

using test::expect_error;
using test::TempDir;

// Python-like functions with nested, space-indented blocks (deterministic).
std::string code_corpus(int functions, uint64_t seed) {
  const char* names[] = {"alpha", "beta", "gamma", "delta", "count", "total", "value", "index", "item", "result"};
  uint64_t s = seed;
  auto next = [&s](uint64_t n) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (s >> 33) % n;
  };
  std::string text;
  for (int f = 0; f < functions; ++f) {
    text += "def " + std::string(names[next(10)]) + "_" + std::to_string(f) + "(x, y):\n";
    int depth = 1;
    for (int line = 0, n = 5 + static_cast<int>(next(10)); line < n; ++line) {
      const std::string indent(4 * depth, ' ');
      const uint64_t r = next(10);
      if (r < 2 && depth < 4) {
        text += indent + "if " + names[next(10)] + " > " + std::to_string(next(100)) + ":\n";
        ++depth;
      } else if (r < 3 && depth > 1) {
        text += std::string(4 * (depth - 1), ' ') + "else:\n";
      } else {
        text += indent + names[next(10)] + " = " + names[next(10)] + " + " + std::to_string(next(10)) + "\n";
      }
    }
    text += "\n";
  }
  return text;
}

// The share of tokens of `text` that are a lone space (the piece U+2581 alone).
double lone_space_share(const Tokenizer& tok, const std::string& text) {
  const std::vector<int32_t> ids = tok.encode(text);
  int64_t lone = 0;
  for (int32_t id : ids) lone += tok.piece(id) == "\xe2\x96\x81";
  return static_cast<double>(lone) / static_cast<double>(ids.size());
}

TEST(SentencePieceOptions, IndentedCodeHasFewLoneSpaceTokensWithTheDefaults) {
  TempDir dir("spcode");
  test::write_text(dir / "code.txt", code_corpus(600, 1));
  const std::string held_out = code_corpus(50, 2);
  SentencePieceOptions opt;
  opt.vocab_size = 400;
  train_sentencepiece(dir / "code.txt", dir / "default", opt);
  opt.allow_whitespace_only_pieces = false;  // weft's earlier setting: every indentation space but the last alone
  train_sentencepiece(dir / "code.txt", dir / "lone", opt);
  auto with_default = load_sentencepiece(dir / "default.model"), without = load_sentencepiece(dir / "lone.model");
  const double good = lone_space_share(*with_default, held_out), bad = lone_space_share(*without, held_out);
  std::printf("[ info ] lone-space tokens on held-out code: %.1f%% (defaults), %.1f%% (allow_whitespace_only_pieces "
              "off); tokens %zu vs %zu\n",
              100 * good, 100 * bad, with_default->encode(held_out).size(), without->encode(held_out).size());
  // What remains is mostly the space before a number (split_digits keeps digits out of "\u2581 3"-like pieces).
  EXPECT_LT(good, 0.15);
  EXPECT_LT(3 * good, bad);
  EXPECT_GT(bad, 0.35) << "the corpus is whitespace-heavy enough to show the problem";
  EXPECT_EQ(with_default->decode(with_default->encode(held_out)), held_out) << "indentation and newlines kept exactly";
}

TEST(SentencePieceOptions, AdviceAndErrorsUseWeftsFlagsAndTheUsersFile) {
  TempDir dir("spadvice");
  test::write_text(dir / "copy.tmp", code_corpus(40, 3));
  SentencePieceOptions opt;
  opt.vocab_size = 4000;  // far more than 40 functions support
  opt.input_name = "my_code.txt";
  const std::vector<std::string> advice = train_sentencepiece(dir / "copy.tmp", dir / "big", opt);
  std::string all;
  for (const auto& a : advice) all += a + "\n";
  EXPECT_NE(all.find("fewer than --vocab-size 4000"), std::string::npos) << all;
  EXPECT_NE(all.find("my_code.txt"), std::string::npos) << all;
  EXPECT_EQ(all.find("copy.tmp"), std::string::npos) << all;
  EXPECT_EQ(all.find("vocab_size"), std::string::npos) << "SentencePiece's option names are translated: " << all;

  // A line beyond SentencePiece's 16384-byte training limit: said once, without the flag weft does not expose.
  test::write_text(dir / "long.tmp", code_corpus(40, 5) + std::string(20000, 'x') + "\n");
  all.clear();
  for (const auto& a : train_sentencepiece(dir / "long.tmp", dir / "long", opt)) all += a + "\n";
  EXPECT_NE(all.find("lines of my_code.txt longer than 16384 bytes out of its training"), std::string::npos) << all;
  EXPECT_EQ(all.find("max_sentence_length"), std::string::npos) << all;

  opt.vocab_size = 400;
  opt.character_coverage = 0.5;
  expect_error([&] { train_sentencepiece(dir / "copy.tmp", dir / "x", opt); }, {"--character-coverage", "0.98"});
  opt.character_coverage = 0.9995;
  opt.normalization = "no_such_rule";
  try {
    train_sentencepiece(dir / "copy.tmp", dir / "x", opt);
    ADD_FAILURE() << "an unknown normalization rule trains";
  } catch (const weft::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("my_code.txt"), std::string::npos) << m;
    EXPECT_EQ(m.find("copy.tmp"), std::string::npos) << m;
  }
  opt.input_name.clear();
  expect_error([&] { train_sentencepiece(dir / "absent.txt", dir / "x", opt); }, {"absent.txt", "does not exist"});
}

TEST(JsonlTextFields, DocumentsAreTheChosenFieldsJoined) {
  TempDir dir("jsonlfields");
  test::write_text(dir / "pairs.jsonl", "{\"summary\": \"A cat.\", \"story\": \"The cat sat.\", \"id\": 1}\n"
                                        "{\"summary\": \"\", \"story\": \"Only a story.\"}\n");
  EXPECT_EQ(read_documents(dir / "pairs.jsonl", {"story"}),
            (std::vector<std::string>{"The cat sat.", "Only a story."}));
  EXPECT_EQ(read_documents(dir / "pairs.jsonl", {"summary", "story"}),
            (std::vector<std::string>{"A cat.\nThe cat sat.", "Only a story."}));
  expect_error([&] { read_documents(dir / "pairs.jsonl"); }, {"pairs.jsonl:1", "missing field 'text'", "--text-field"});
  expect_error([&] { read_documents(dir / "pairs.jsonl", {"id"}); }, {"pairs.jsonl:1", "'id'"});
  EXPECT_TRUE(has_jsonl_input(dir / "pairs.jsonl"));
  EXPECT_TRUE(has_jsonl_input(dir.path()));
  EXPECT_FALSE(has_jsonl_input(dir / "a.txt"));
}

TEST(TokenizerIdentity, TellsTokenizersApart) {
  TempDir dir("identity");
  const TokenizerIdentity byte = tokenizer_identity(*make_byte_tokenizer());
  EXPECT_EQ(byte.kind, "byte");
  EXPECT_EQ(byte.vocab_size, 257);
  EXPECT_EQ(byte.hash.size(), 16u);
  EXPECT_EQ(tokenizer_identity(*make_byte_tokenizer()), byte) << "deterministic";
  EXPECT_EQ(describe(byte), "byte (257 pieces, hash " + byte.hash + ")");

  std::string stories;
  for (int i = 0; i < 800; ++i) stories += generate_story(11, i).text + "\n";
  test::write_text(dir / "stories.txt", stories);
  test::write_text(dir / "mixed.txt", stories + code_corpus(300, 4));
  SentencePieceOptions opt;
  opt.vocab_size = 400;
  train_sentencepiece(dir / "stories.txt", dir / "a", opt);
  train_sentencepiece(dir / "mixed.txt", dir / "b", opt);  // the same size, other pieces
  const TokenizerIdentity a = tokenizer_identity(*load_sentencepiece(dir / "a.model"));
  const TokenizerIdentity b = tokenizer_identity(*load_sentencepiece(dir / "b.model"));
  EXPECT_EQ(a.kind, "sentencepiece");
  EXPECT_EQ(a, tokenizer_identity(*load_sentencepiece(dir / "a.model"))) << "the same model, loaded again";
  std::filesystem::copy_file(dir / "a.model", dir / "a_copy.model");
  EXPECT_EQ(a, tokenizer_identity(*load_sentencepiece(dir / "a_copy.model"))) << "a copy (another path)";
  ASSERT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_NE(a.hash, b.hash);
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(a == byte);
}

}  // namespace
}  // namespace weft::data
