// Tokenizer identity and the data options, through the binary: a checkpoint trained on byte data refuses a
// SentencePiece data folder in eval, sample and train --resume (exit 2, both tokenizers named); a checkpoint
// without the record passes with a note; JSONL tokenizers learn the chosen text fields, never the JSON syntax;
// --vocab-size below the tokenizer's is refused, above it noted; a data folder without val.bin is noted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "data/tokenizer.h"
#include "launch/options.h"
#include "launch/tokenizer_check.h"
#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;

using Result = weft::test::ProcessResult;
Result run(const std::string& args) { return weft::test::run_shell(std::string(WEFT_BINARY) + " " + args + " 2>&1"); }

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

bool has(const std::string& out, const std::string& text) { return out.find(text) != std::string::npos; }

const std::string kTiny = " --d-model 16 --n-layers 1 --n-heads 2 --seq-len 16 --batch-size 2 --threads 1 --eval-every 0";

// Two data folders of the built-in stories (byte and a 400-piece SentencePiece) and a 2-step run on the byte one.
class TokenizerIdentity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_tokid_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    Result r = run("prepare --builtin stories --tokens 20000 --out " + dir_ + "/byte");
    ASSERT_EQ(r.code, 0) << r.out;
    r = run("prepare --builtin stories --tokenizer sentencepiece --vocab-size 400 --tokens 20000 --out " + dir_ + "/sp");
    ASSERT_EQ(r.code, 0) << r.out;
    r = run("train --data " + dir_ + "/byte --out " + dir_ + "/run --steps 2" + kTiny);
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
};
std::string TokenizerIdentity::dir_;

void expect_refused_naming_both(const Result& r, const std::string& sp_dir) {
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, "checkpoints/step_00000002 was trained with tokenizer byte (257 pieces, hash ")) << r.out;
  EXPECT_TRUE(has(r.out, "but --data " + sp_dir + " has sentencepiece (400 pieces, hash ")) << r.out;
}

TEST_F(TokenizerIdentity, EvalSampleAndResumeRefuseAnotherTokenizersData) {
  const std::string sp = dir_ + "/sp";
  expect_refused_naming_both(run("eval --checkpoint " + dir_ + "/run --data " + sp + " --batches 1 --threads 1"), sp);
  expect_refused_naming_both(
      run("sample --checkpoint " + dir_ + "/run --data " + sp + " --max-new-tokens 2 --threads 1"), sp);
  const std::string before = read(dir_ + "/run/metrics.jsonl");
  expect_refused_naming_both(run("train --data " + sp + " --out " + dir_ + "/run --steps 4 --resume latest" + kTiny), sp);
  EXPECT_TRUE(fs::is_directory(dir_ + "/run/checkpoints/step_00000002")) << "the checkpoint is kept";
  EXPECT_FALSE(fs::exists(dir_ + "/run/checkpoints/step_00000004")) << "nothing trained";

  // The right data: no refusal, no note (the checkpoint records its tokenizer).
  Result r = run("eval --checkpoint " + dir_ + "/run --batches 1 --threads 1");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(has(r.out, "records no tokenizer")) << r.out;
  r = run("eval --checkpoint " + dir_ + "/run --data " + dir_ + "/byte --batches 1 --threads 1");
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(TokenizerIdentity, ACheckpointWithoutTheRecordPassesWithANote) {
  using namespace weft;
  auto tok = data::make_byte_tokenizer();
  ::testing::internal::CaptureStderr();
  launch::check_tokenizer_identity(data::TokenizerIdentity{}, "old/step_00000100", *tok, "D", "--data", true);
  const std::string note = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has(note, "note: checkpoint old/step_00000100 records no tokenizer")) << note;
  EXPECT_TRUE(has(note, "--data D")) << note;
  launch::check_tokenizer_identity(data::tokenizer_identity(*tok), "c", *tok, "D", "", false);  // the same: passes
  data::TokenizerIdentity other = data::tokenizer_identity(*tok);
  other.hash = "0000000000000000";  // same kind and size, other pieces
  try {
    launch::check_tokenizer_identity(other, "c", *tok, "D", "", false);
    ADD_FAILURE() << "another hash passes";
  } catch (const launch::UsageError& e) {
    EXPECT_TRUE(has(e.what(), "hash 0000000000000000")) << e.what();
    EXPECT_TRUE(has(e.what(), "its training data folder D")) << e.what();
  }
}

TEST_F(TokenizerIdentity, VocabSizeBelowTheTokenizersIsRefusedAboveItNoted) {
  Result r = run("train --data " + dir_ + "/byte --out " + dir_ + "/small --steps 1 --vocab-size 100" + kTiny);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, "--vocab-size 100 is smaller than the 257 ids of the byte tokenizer")) << r.out;
  r = run("train --data " + dir_ + "/byte --out " + dir_ + "/large --steps 1 --vocab-size 300" + kTiny);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "note: --vocab-size 300 exceeds the 257 ids")) << r.out;
  EXPECT_TRUE(has(r.out, "43 ids no token uses")) << r.out;
}

TEST_F(TokenizerIdentity, AFolderWithoutValSplitIsNoted) {
  const std::string noval = dir_ + "/noval";
  fs::create_directories(noval);
  fs::copy_file(dir_ + "/byte/train.bin", noval + "/train.bin");
  fs::copy_file(dir_ + "/byte/tokenizer.txt", noval + "/tokenizer.txt");
  Result r = run("train --data " + noval + " --out " + dir_ + "/noval_run --steps 2" + kTiny);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "note: --data " + noval + " has no val split (val.bin)")) << r.out;
  EXPECT_TRUE(has(r.out, "--val-fraction")) << r.out;
  r = run("train --data " + dir_ + "/byte --out " + dir_ + "/val_run --steps 1" + kTiny);
  EXPECT_FALSE(has(r.out, "has no val split")) << r.out;
}

// The pairs file: {"summary", "story"} objects, no "text" field.
void write_pairs(const std::string& path) {
  std::ofstream f(path);
  const char* words[] = {"cat", "dog", "ball", "tree", "house", "river", "garden", "window", "friend", "little"};
  for (int i = 0; i < 300; ++i) {
    std::string story;
    for (int w = 0; w < 40; ++w) story += std::string(w ? " " : "") + words[(i * 7 + w * 3) % 10];
    f << "{\"summary\": \"A tale about a " << words[i % 10] << ".\", \"story\": \"" << story << ".\"}\n";
  }
}

TEST_F(TokenizerIdentity, JsonlTokenizersLearnTheTextFieldsNotTheJson) {
  const std::string pairs = dir_ + "/pairs.jsonl";
  write_pairs(pairs);
  Result r = run("tokenizer train --input " + pairs + " --out " + dir_ + "/nofield --vocab-size 400");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, pairs + ":1: missing field 'text' (choose the fields with --text-field)")) << r.out;
  EXPECT_FALSE(fs::exists(dir_ + "/nofield.corpus.tmp"));

  r = run("tokenizer train --input " + pairs + " --text-field summary,story --out " + dir_ + "/fields --vocab-size 400");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string vocab = read(dir_ + "/fields.vocab");
  EXPECT_FALSE(has(vocab, "\":")) << "JSON syntax in the vocabulary";
  EXPECT_FALSE(has(vocab, "summary")) << "a field name in the vocabulary";
  EXPECT_TRUE(has(vocab, "garden")) << "the text is learned";
  EXPECT_FALSE(fs::exists(dir_ + "/fields.corpus.tmp"));

  r = run("prepare --input " + pairs + " --text-field story --tokenizer sentencepiece --vocab-size 400 --out " + dir_ +
          "/pairs_data");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "300 documents")) << r.out;
  auto tok = weft::data::load_tokenizer(dir_ + "/pairs_data");
  for (int32_t id = 0; id < tok->vocab_size(); ++id) ASSERT_FALSE(has(tok->piece(id), "\":")) << tok->piece(id);

  r = run("prepare --input " + dir_ + "/nothing.txt --text-field story --out " + dir_ + "/bad");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, "--text-field applies to .jsonl inputs")) << r.out;
  r = run("prepare --input " + pairs + " --allow-whitespace-only-pieces=false --out " + dir_ + "/bad2");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, "--allow-whitespace-only-pieces applies when a SentencePiece model is trained")) << r.out;
}

TEST_F(TokenizerIdentity, SentencePieceAdviceNamesWeftsFlagAndTheUsersFile) {
  const std::string small = dir_ + "/small.txt";
  {
    std::ofstream f(small);
    for (int i = 0; i < 30; ++i) f << "    if value > limit:\n        return value\n\n";
  }
  Result r = run("tokenizer train --input " + small + " --out " + dir_ + "/small --vocab-size 4096");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "fewer than --vocab-size 4096: " + small + " supports no more")) << r.out;
  EXPECT_FALSE(has(r.out, "corpus.tmp")) << r.out;
  r = run("tokenizer train --help");
  for (const char* flag : {"--allow-whitespace-only-pieces", "(allow_whitespace_only_pieces)", "--normalization-rule-name",
                           "--remove-extra-whitespaces", "--byte-fallback", "--treat-whitespace-as-suffix",
                           "--character-coverage", "--model-type", "--text-field"})
    EXPECT_TRUE(has(r.out, flag)) << flag << "\n" << r.out;
}

}  // namespace
