// `weft prepare` end to end: the built-in story corpus with the byte tokenizer and with SentencePiece
// (trained on the stories, or an existing model reused bit for bit), and a model that trains and evaluates
// on the SentencePiece folder; --split-digits recorded in data.json and shown in --help; contradicting flags
// give one line and exit code 2.
#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;

using Result = weft::test::ProcessResult;
Result run(const std::string& args) { return weft::test::run_shell(std::string(WEFT_BINARY) + " " + args); }

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class Prepare : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_prepare_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
};
std::string Prepare::dir_;

TEST_F(Prepare, BuiltinStoriesByteTokenizer) {
  Result r = run("prepare --builtin stories --out " + dir_ + "/byte --tokens 20000");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("(byte tokenizer)"), std::string::npos) << r.out;
  EXPECT_EQ(read(dir_ + "/byte/tokenizer.txt"), "byte\n");
  EXPECT_TRUE(fs::is_regular_file(dir_ + "/byte/pairs.jsonl"));
}

TEST_F(Prepare, BuiltinStoriesSentencePieceTrainsEvaluatesAndReusesTheModel) {
  const std::string sp = dir_ + "/sp";
  Result r = run("prepare --builtin stories --tokenizer sentencepiece --vocab-size 400 --tokens 30000 --out " + sp);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("(sentencepiece tokenizer)"), std::string::npos) << r.out;
  EXPECT_EQ(read(sp + "/tokenizer.txt").rfind("sentencepiece ", 0), 0u) << read(sp + "/tokenizer.txt");
  EXPECT_TRUE(fs::is_regular_file(sp + "/tokenizer.model"));
  EXPECT_TRUE(fs::is_regular_file(sp + "/pairs.jsonl"));
  const std::string summary = read(sp + "/data.json");
  EXPECT_NE(summary.find("\"tokenizer\": \"sentencepiece"), std::string::npos) << summary;
  EXPECT_FALSE(fs::exists(sp + "/tokenizer_corpus.txt.tmp"));

  // The vocabulary comes from the folder's tokenizer; a tiny model trains, evaluates and samples text.
  const std::string tiny = " --d-model 16 --n-layers 1 --n-heads 2 --seq-len 16 --batch-size 2 --steps 2 --threads 1";
  r = run("train --data " + sp + " --out " + dir_ + "/run" + tiny + " --eval-every 0 --eval-batches 0");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(read(dir_ + "/run/config.ini").find("vocab-size = "), std::string::npos);
  EXPECT_EQ(read(dir_ + "/run/config.ini").find("vocab-size = 257\n"), std::string::npos) << "not the byte vocabulary";
  r = run("eval --checkpoint " + dir_ + "/run --batches 2 --batch-size 2 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"loss\""), std::string::npos) << r.out;
  r = run("sample --checkpoint " + dir_ + "/run --prompt 'Once upon a time' --max-new-tokens 5 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("Once upon a time"), std::string::npos) << r.out;

  // An existing model is copied and reused: the same seed and size give the same shards, bit for bit.
  const std::string model = sp + "/tokenizer.model";
  r = run("prepare --builtin stories --tokenizer sentencepiece --sp-model " + model + " --tokens 30000 --out " + dir_ +
          "/sp2");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read(dir_ + "/sp2/tokenizer.model"), read(model));
  EXPECT_EQ(read(dir_ + "/sp2/train.bin"), read(sp + "/train.bin"));
  EXPECT_EQ(read(dir_ + "/sp2/val.bin"), read(sp + "/val.bin"));
}

// How the SentencePiece model was trained goes into data.json (split_digits on by default, off with
// --split-digits=false); a copied model records its source instead.
TEST_F(Prepare, SplitDigitsIsRecordedAndDocumented) {
  Result r = run("prepare --help");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("--split-digits"), std::string::npos) << r.out;
  r = run("tokenizer train --help");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("--split-digits"), std::string::npos) << r.out;

  const std::string base = "prepare --builtin stories --tokenizer sentencepiece --vocab-size 400 --tokens 5000 --out ";
  r = run(base + dir_ + "/digits_on --split-digits");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(read(dir_ + "/digits_on/data.json")
                .find(R"("sentencepiece_training": {"model_type": "bpe", "vocab_size": 400, "split_digits": true,)"),
            std::string::npos)
      << read(dir_ + "/digits_on/data.json");
  r = run(base + dir_ + "/digits_off --split-digits=false");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(read(dir_ + "/digits_off/data.json").find(R"("split_digits": false,)"), std::string::npos)
      << read(dir_ + "/digits_off/data.json");
  r = run("prepare --builtin stories --tokenizer sentencepiece --sp-model " + dir_ +
          "/digits_off/tokenizer.model --tokens 5000 --out " + dir_ + "/digits_copied");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(read(dir_ + "/digits_copied/data.json").find("\"sentencepiece_model\": \""), std::string::npos)
      << read(dir_ + "/digits_copied/data.json");
}

TEST_F(Prepare, ContradictingFlagsNameTheFlag) {
  Result r = run("prepare --builtin stories --sp-model x.model --out " + dir_ + "/bad1 --tokens 1000");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--sp-model needs --tokenizer sentencepiece"), std::string::npos) << r.out;
  r = run("prepare --builtin stories --tokenizer wordpiece --out " + dir_ + "/bad2 --tokens 1000");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--tokenizer must be byte or sentencepiece"), std::string::npos) << r.out;
  r = run("prepare --builtin novels --out " + dir_ + "/bad3");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--builtin: unknown corpus 'novels'"), std::string::npos) << r.out;
  r = run("prepare --builtin stories --split-digits=false --out " + dir_ + "/bad4 --tokens 1000");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--split-digits applies when a SentencePiece model is trained"), std::string::npos) << r.out;
}

}  // namespace
