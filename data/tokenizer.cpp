// Byte-level and SentencePiece tokenizers.
#include "data/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/check.h"

namespace weft::data {

namespace {

class ByteTokenizer final : public Tokenizer {
 public:
  std::string name() const override { return "byte"; }
  std::vector<int32_t> encode(const std::string& text) const override {
    std::vector<int32_t> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
    return ids;
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string s;
    s.reserve(ids.size());
    for (int32_t id : ids)
      if (id >= 0 && id < 256) s += static_cast<char>(id);
    return s;
  }
  int64_t vocab_size() const override { return 257; }
  int32_t eot() const override { return 256; }
  std::string description() const override { return "byte"; }
};

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : path_(path) {
    auto st = sp_.Load(path);
    WEFT_CHECK(st.ok(), "[tokenizer] cannot load SentencePiece model '", path, "': ", st.ToString());
    WEFT_CHECK(sp_.eos_id() >= 0, "[tokenizer] SentencePiece model '", path, "' has no end-of-sentence piece");
  }
  std::string name() const override { return "sentencepiece"; }
  std::vector<int32_t> encode(const std::string& text) const override {
    std::vector<int> ids;
    auto st = sp_.Encode(text, &ids);
    WEFT_CHECK(st.ok(), "[tokenizer] SentencePiece encode failed: ", st.ToString());
    return std::vector<int32_t>(ids.begin(), ids.end());
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::vector<int> keep;
    for (int32_t id : ids)
      if (id != eot() && id >= 0 && id < vocab_size()) keep.push_back(id);
    std::string s;
    auto st = sp_.Decode(keep, &s);
    WEFT_CHECK(st.ok(), "[tokenizer] SentencePiece decode failed: ", st.ToString());
    return s;
  }
  int64_t vocab_size() const override { return sp_.GetPieceSize(); }
  int32_t eot() const override { return sp_.eos_id(); }
  std::string description() const override {
    return "sentencepiece " + std::filesystem::path(path_).filename().string();
  }

 private:
  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer() { return std::make_unique<ByteTokenizer>(); }

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& path) {
  return std::make_unique<SentencePieceTokenizer>(path);
}

void train_sentencepiece(const std::string& input, const std::string& prefix, int vocab_size) {
  WEFT_CHECK(vocab_size >= 16, "--vocab-size must be >= 16 for a SentencePiece model, got ", vocab_size);
  WEFT_CHECK(std::filesystem::exists(input), "[tokenizer] input '", input, "' does not exist");
  std::ostringstream args;
  args << "--input=" << input << " --model_prefix=" << prefix << " --vocab_size=" << vocab_size
       << " --model_type=bpe --character_coverage=1.0 --byte_fallback=true --unk_id=0 --bos_id=-1 --eos_id=1"
       << " --pad_id=-1 --input_sentence_size=2000000 --shuffle_input_sentence=true --minloglevel=2"
       << " --num_threads=2 --max_sentence_length=16384"
       << " --normalization_rule_name=identity --remove_extra_whitespaces=false";
  auto st = sentencepiece::SentencePieceTrainer::Train(args.str());
  WEFT_CHECK(st.ok(), "[tokenizer] SentencePiece training on '", input, "' failed: ", st.ToString());
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir) {
  std::string path = dir + "/tokenizer.txt";
  std::ifstream in(path);
  WEFT_CHECK(in, "[data] ", path, " is missing: is '", dir, "' a folder written by `weft prepare`?");
  std::string kind, file;
  in >> kind >> file;
  if (kind == "byte") return make_byte_tokenizer();
  if (kind == "sentencepiece") {
    WEFT_CHECK(!file.empty(), "[data] ", path, ": 'sentencepiece' needs a model file name");
    return load_sentencepiece(dir + "/" + file);
  }
  WEFT_FAIL("[data] ", path, ": unknown tokenizer '", kind, "' (expected byte or sentencepiece)");
}

void save_tokenizer_description(const Tokenizer& tok, const std::string& dir) {
  std::ofstream out(dir + "/tokenizer.txt");
  out << tok.description() << "\n";
  WEFT_CHECK(out.good(), "[data] cannot write ", dir, "/tokenizer.txt");
}

}  // namespace weft::data
