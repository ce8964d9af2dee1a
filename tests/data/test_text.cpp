// JSON strings and JSONL lines, the document reader (.txt with separators or paragraphs, .jsonl, folders,
// CRLF and byte-order marks, errors naming file:line) and prepare_text (the validation rule, single and
// few documents, shard rolling, SentencePiece trained on the input).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/documents.h"
#include "data/jsonl.h"
#include "data/prepare.h"
#include "data/shard.h"
#include "data/split.h"
#include "data/tokenizer.h"
#include "data_test_util.h"

namespace weft::data {
namespace {

using test::expect_error;
using test::TempDir;

TEST(Jsonl, DecodesEscapesAndSurrogatePairs) {
  std::string out;
  EXPECT_EQ(json_string_field(
                R"({"id": -3.5e+2, "meta": {"a": [1, 0, true, null, "x}"]}, "text": "a\"b\\n\/\u00e9\ud83d\ude42\t"})",
                "text", out),
            "");
  EXPECT_EQ(out, "a\"b\\n/\xc3\xa9\xf0\x9f\x99\x82\t");
  EXPECT_EQ(json_string_field(R"(  {"text":"\u65e5\u672c","text2":1}  )", "text", out), "");
  EXPECT_EQ(out, "\xe6\x97\xa5\xe6\x9c\xac");
  EXPECT_EQ(json_string_field(R"({"text": "raw \u00e9 and é"})", "text", out), "");
  EXPECT_EQ(out, "raw \xc3\xa9 and \xc3\xa9");
  EXPECT_EQ(json_string_field(R"({"text": ""})", "text", out), "");
  EXPECT_EQ(out, "");
}

TEST(Jsonl, RejectsMalformedLinesWithAReason) {
  std::string out;
  auto err = [&](const std::string& line) { return json_string_field(line, "text", out); };
  EXPECT_EQ(err(R"({"body": "x"})"), "missing field 'text'");
  EXPECT_NE(err(R"({"text": 5})").find("field 'text' is not a string"), std::string::npos);
  EXPECT_NE(err(R"({"text": "x\q"})").find("invalid escape \\q"), std::string::npos);
  EXPECT_NE(err(R"({"text": "x")").find("expected '}'"), std::string::npos);
  EXPECT_NE(err(R"({"text": "x)").find("unterminated string"), std::string::npos);
  EXPECT_NE(err(R"({"text": "\ud83d"})").find("unpaired surrogate"), std::string::npos);
  EXPECT_NE(err(R"({"text": "\ude42"})").find("unpaired surrogate"), std::string::npos);
  EXPECT_NE(err(R"({"text": "\ud83d\u0041"})").find("invalid low surrogate"), std::string::npos);
  EXPECT_NE(err(R"({"text": "\u12G4"})").find("invalid \\u escape"), std::string::npos);
  EXPECT_NE(err("{\"text\": \"tab\tinside\"}").find("control character"), std::string::npos);
  EXPECT_NE(err(R"({"text": "x"} extra)").find("trailing characters"), std::string::npos);
  EXPECT_NE(err(R"({"n": 01, "text": "x"})").find("expected"), std::string::npos);
  EXPECT_NE(err(R"({"n": 1., "text": "x"})").find("invalid number"), std::string::npos);
  EXPECT_NE(err(R"({"n": nan, "text": "x"})").find("invalid literal"), std::string::npos);
  EXPECT_NE(err(R"({"n": tru, "text": "x"})").find("invalid literal"), std::string::npos);
  EXPECT_NE(err(R"(["text", "x"])").find("expected '{'"), std::string::npos);
  EXPECT_NE(err(R"({"text": "x",})").find("expected '\"'"), std::string::npos);
  EXPECT_EQ(err(R"({"text": "x"})"), "") << "the valid line itself";
}

TEST(Jsonl, NumberFieldsNullAsNaNAndErrors) {
  double v = 0;
  EXPECT_EQ(json_number_field(R"({"error": "x", "bins": [0, 1], "length": 256})", "length", v), "");
  EXPECT_EQ(v, 256);
  EXPECT_EQ(json_number_field(R"({"loss": -3.5e-2})", "loss", v), "");
  EXPECT_EQ(v, -0.035);
  EXPECT_EQ(json_number_field(R"({"loss": null})", "loss", v), "");
  EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(json_number_field(R"({"loss": 2})", "length", v), "missing field 'length'");
  EXPECT_NE(json_number_field(R"({"length": "256"})", "length", v).find("field 'length' is not a number"),
            std::string::npos);
  EXPECT_NE(json_number_field(R"({"length": 256)", "length", v).find("expected '}'"), std::string::npos);
}

TEST(Jsonl, EscapeRoundTripsEveryByte) {
  std::string all;
  for (int b = 1; b < 256; ++b) all += static_cast<char>(b);
  all += std::string("\0end", 4);
  std::string out;
  ASSERT_EQ(json_string_field("{\"text\": \"" + json_escape_string(all) + "\"}", "text", out), "");
  EXPECT_EQ(out, all);
}

TEST(Documents, TxtWithSeparatorsCrlfAndByteOrderMark) {
  TempDir dir("docsep");
  test::write_text(dir / "a.txt",
                   "\xEF\xBB\xBFOne\r\n\r\nstill one\r\n<|endoftext|>\r\n  \n<|endoftext|>\nTwo\n<|endoftext|>\nThree");
  DocumentReader r(dir / "a.txt");
  std::string d;
  std::vector<std::string> docs;
  while (r.next(d)) docs.push_back(d);
  EXPECT_EQ(docs, (std::vector<std::string>{"One\n\nstill one", "Two", "Three"}));
  EXPECT_EQ(r.skipped_empty(), 1);
  test::write_text(dir / "b.txt", "First paragraph\nline two\n\n\n\nSecond\n  \nThird\n");
  EXPECT_EQ(read_documents(dir / "b.txt"), (std::vector<std::string>{"First paragraph\nline two", "Second", "Third"}));
}

TEST(Documents, JsonlAndFoldersWithErrorsNamingFileAndLine) {
  TempDir dir("docjson");
  test::write_text(dir / "in.jsonl", "{\"text\": \"a\"}\n\n{\"text\": \"\"}\r\n{\"text\": \"b\\nc\"}\n");
  DocumentReader r(dir / "in.jsonl");
  std::string d;
  std::vector<std::string> docs;
  while (r.next(d)) docs.push_back(d);
  EXPECT_EQ(docs, (std::vector<std::string>{"a", "b\nc"}));
  EXPECT_EQ(r.skipped_empty(), 1);
  test::write_text(dir / "bad.jsonl", "{\"text\": \"a\"}\n\n{\"text\": \"b\"\n");
  expect_error([&] { read_documents(dir / "bad.jsonl"); }, {"bad.jsonl:3: expected '}' at column 13"});
  expect_error([&] { read_documents(dir / "missing.txt"); }, {"missing.txt", "no such file"});
  test::write_text(dir / "x.csv", "a,b");
  expect_error([&] { read_documents(dir / "x.csv"); }, {"x.csv", "must be a .txt or .jsonl"});
  // A folder: files in name order; a .txt without separators is one document.
  std::filesystem::create_directories(dir / "folder");
  test::write_text(dir / "folder/b_book.txt", "Chapter one.\n\nChapter two.\n");
  test::write_text(dir / "folder/a.jsonl", "{\"text\": \"from jsonl\"}\n");
  test::write_text(dir / "folder/c.txt", "x\n<|endoftext|>\ny\n");
  test::write_text(dir / "folder/notes.md", "ignored");
  EXPECT_EQ(read_documents(dir / "folder"),
            (std::vector<std::string>{"from jsonl", "Chapter one.\n\nChapter two.", "x", "y"}));
  std::filesystem::create_directories(dir / "empty");
  expect_error([&] { read_documents(dir / "empty"); }, {"holds no .txt or .jsonl files"});
}

std::vector<int32_t> all_tokens(const std::vector<std::shared_ptr<const Shard>>& shards) {
  std::vector<int32_t> t;
  for (const auto& s : shards)
    for (int64_t i = 0; i < s->size(); ++i) t.push_back(s->at(i));
  return t;
}

std::vector<std::string> decode_documents(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<std::string> docs(1);
  std::vector<int32_t> cur;
  for (int32_t id : ids) {
    if (id != tok.eot()) {
      cur.push_back(id);
      continue;
    }
    docs.back() = tok.decode(cur);
    docs.emplace_back();
    cur.clear();
  }
  docs.pop_back();
  return docs;
}

TEST(PrepareText, ValidationRuleAndExactContents) {
  TempDir dir("prep");
  const std::string in = dir / "in.jsonl";
  {
    std::ofstream f(in);
    for (int i = 0; i < 40; ++i) f << "{\"text\": \"document " << i << " caf\\u00e9\"}\n";
  }
  TextPrepareOptions o;
  o.input = in;
  o.out_dir = dir / "out";
  o.val_fraction = 0.1;
  TextPrepareStats st = prepare_text(o);
  EXPECT_EQ(st.documents, 40);
  auto tok = load_tokenizer(o.out_dir);
  auto train = decode_documents(*tok, all_tokens(open_split(o.out_dir, "train")));
  auto val = decode_documents(*tok, all_tokens(open_split(o.out_dir, "val")));
  ASSERT_EQ(val.size(), 4u);  // documents 9, 19, 29, 39
  EXPECT_EQ(val[0], "document 9 caf\xc3\xa9");
  EXPECT_EQ(val[3], "document 39 caf\xc3\xa9");
  ASSERT_EQ(train.size(), 36u);
  EXPECT_EQ(train[9], "document 10 caf\xc3\xa9");
  EXPECT_EQ(st.train_tokens + st.val_tokens, static_cast<int64_t>(all_tokens(open_split(o.out_dir, "train")).size() +
                                                                  all_tokens(open_split(o.out_dir, "val")).size()));
  EXPECT_TRUE(std::filesystem::exists(o.out_dir + "/data.json"));
  o.val_fraction = 0;
  prepare_text(o);
  EXPECT_FALSE(std::filesystem::exists(o.out_dir + "/val.bin")) << "a stale val.bin is removed";
  std::ofstream(in, std::ios::app) << "{\"text\": 5}\n";
  expect_error([&] { prepare_text(o); }, {"in.jsonl:41: field 'text' is not a string"});
}

TEST(PrepareText, FewDocumentsStillGetAValidationSplit) {
  TempDir dir("few");
  TextPrepareOptions o;
  o.out_dir = dir / "out";
  o.input = dir / "two.txt";
  test::write_text(o.input, "first document\n\nsecond document\n");
  TextPrepareStats st = prepare_text(o);
  EXPECT_EQ(st.val_tokens, 16) << "the last document and its end-of-text";
  o.input = dir / "one.txt";
  test::write_text(o.input, std::string(1000, 'x') + "\n");
  st = prepare_text(o);
  EXPECT_EQ(st.val_tokens, 50 + 1);
  EXPECT_EQ(st.train_tokens, 950 + 1);
  test::write_text(o.input, "\n\n");
  expect_error([&] { prepare_text(o); }, {"one.txt holds no documents"});
}

TEST(PrepareText, ShardRollingAndSentencePieceTrainedOnTheInput) {
  TempDir dir("sp");
  TextPrepareOptions o;
  o.input = dir / "corpus.txt";
  {
    std::ofstream f(o.input);
    for (int i = 0; i < 300; ++i)
      f << "Story " << i << ": the little fox found a shiny stone by the river and showed it to a friend.\n"
        << "They laughed and went home.\n<|endoftext|>\n";
  }
  o.out_dir = dir / "out";
  o.tokenizer = "sentencepiece";
  o.sp.vocab_size = 400;
  o.shard_tokens = 2000;
  TextPrepareStats st = prepare_text(o);
  EXPECT_EQ(st.documents, 300);
  EXPECT_GT(st.train_shards, 2);
  EXPECT_FALSE(std::filesystem::exists(o.out_dir + "/tokenizer_corpus.txt.tmp"));
  auto tok = load_tokenizer(o.out_dir);
  ASSERT_EQ(tok->name(), "sentencepiece");
  auto train = decode_documents(*tok, all_tokens(open_split(o.out_dir, "train", tok->vocab_size())));
  ASSERT_EQ(train.size(), 285u);
  EXPECT_EQ(train[0],
            "Story 0: the little fox found a shiny stone by the river and showed it to a friend.\nThey laughed and "
            "went home.");
  // An existing model: --sp-model is copied in, nothing is trained.
  TextPrepareOptions again = o;
  again.out_dir = dir / "again";
  again.sp_model = o.out_dir + "/tokenizer.model";
  again.shard_tokens = 0;
  prepare_text(again);
  EXPECT_EQ(test::read_bytes(again.out_dir + "/tokenizer.model"), test::read_bytes(o.out_dir + "/tokenizer.model"));
  EXPECT_EQ(split_files(again.out_dir, "train"), std::vector<std::string>{again.out_dir + "/train.bin"});
  again.tokenizer = "byte";
  expect_error([&] { prepare_text(again); }, {"--sp-model needs --tokenizer sentencepiece"});
  again.sp_model.clear();
  again.tokenizer = "bpe";
  expect_error([&] { prepare_text(again); }, {"--tokenizer must be byte or sentencepiece", "'bpe'"});
}

}  // namespace
}  // namespace weft::data
