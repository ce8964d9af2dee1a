// Byte-level and SentencePiece tokenizers; tokenizer.txt of a data folder.
// The tokenizer identity checkpoints record. SentencePiece training: tokenizer_train.cpp.
#include "data/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/sorting.h"
#include "runtime/check.h"

namespace weft::data {

namespace fs = std::filesystem;

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
  std::string piece(int32_t id) const override {
    return id == eot() ? "<|endoftext|>" : std::string(1, static_cast<char>(id));
  }
};

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : path_(path) {
    std::error_code ec;  // a name the OS refuses (too long: found by fuzz_tokenizer) is a message, not a throw
    WEFT_CHECK(fs::exists(path, ec), "[tokenizer] SentencePiece model '", path, "' does not exist",
               ec ? " (" + ec.message() + ")" : std::string());
    auto st = sp_.Load(path);
    WEFT_CHECK(st.ok(), "[tokenizer] cannot load SentencePiece model '", path, "': ", st.ToString());
    WEFT_CHECK(sp_.eos_id() >= 0, "[tokenizer] SentencePiece model '", path,
               "' has no end-of-sentence piece (train it with --eos_id >= 0; weft uses </s> as end-of-text)");
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
    keep.reserve(ids.size());
    for (int32_t id : ids)
      if (id != eot() && id >= 0 && id < vocab_size()) keep.push_back(id);
    std::string s;
    auto st = sp_.Decode(keep, &s);
    WEFT_CHECK(st.ok(), "[tokenizer] SentencePiece decode failed: ", st.ToString());
    return s;
  }
  int64_t vocab_size() const override { return sp_.GetPieceSize(); }
  int32_t eot() const override { return sp_.eos_id(); }
  std::string description() const override { return "sentencepiece " + fs::path(path_).filename().string(); }
  std::string model_file() const override { return path_; }
  std::string piece(int32_t id) const override { return sp_.IdToPiece(id); }

 private:
  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer() { return std::make_unique<ByteTokenizer>(); }

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& path) {
  return std::make_unique<SentencePieceTokenizer>(path);
}

TokenizerIdentity tokenizer_identity(const Tokenizer& tok) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  auto mix = [&h](const std::string& bytes) {
    for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  };
  for (int64_t id = 0; id < tok.vocab_size(); ++id) {
    const std::string p = tok.piece(static_cast<int32_t>(id));
    mix(std::to_string(p.size()) + ":" + p);  // the length first: pieces may hold any byte
  }
  mix("eot:" + std::to_string(tok.eot()));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return TokenizerIdentity{tok.name(), tok.vocab_size(), hex};
}

std::string describe(const TokenizerIdentity& id) {
  return id.kind + " (" + std::to_string(id.vocab_size) + " pieces, hash " + id.hash + ")";
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir) {
  const std::string path = (fs::path(dir) / "tokenizer.txt").string();
  std::ifstream in(path);
  WEFT_CHECK(in, "[data] ", path, " is missing: is '", dir, "' a folder written by `weft prepare`?");
  std::string line;
  while (std::getline(in, line)) {  // the first line that is not blank or a # comment
    const size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    const size_t e = line.find_last_not_of(" \t\r");
    line = line.substr(b, e - b + 1);
    const size_t sp = line.find_first_of(" \t");
    const std::string kind = line.substr(0, sp);
    const std::string file = sp == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", sp));
    if (kind == "byte") {
      WEFT_CHECK(file.empty(), "[data] ", path, ": 'byte' takes no argument, got '", file, "'");
      return make_byte_tokenizer();
    }
    if (kind == "sentencepiece") {
      WEFT_CHECK(!file.empty(), "[data] ", path, ": 'sentencepiece' needs a model file name");
      return load_sentencepiece(fs::path(file).is_absolute() ? file : (fs::path(dir) / file).string());
    }
    if (kind == "symbols") {  // the sorting task's (data/sorting.h): "symbols N"
      int n = 0;
      try {
        n = std::stoi(file);
      } catch (const std::exception&) {
        WEFT_FAIL("[data] ", path, ": 'symbols' needs a symbol count, got '", file, "'");
      }
      return make_symbol_tokenizer(n);
    }
    WEFT_FAIL("[data] ", path, ": unknown tokenizer '", kind, "' (expected byte, sentencepiece or symbols)");
  }
  WEFT_FAIL("[data] ", path, " names no tokenizer (expected 'byte' or 'sentencepiece <model file>')");
}

void save_tokenizer_description(const Tokenizer& tok, const std::string& dir) {
  fs::create_directories(dir);
  std::string line = tok.description();
  if (!tok.model_file().empty()) {
    std::error_code ec;
    const fs::path model = tok.model_file();
    if (!fs::equivalent(model.parent_path().empty() ? "." : model.parent_path(), dir, ec)) {
      fs::copy_file(model, fs::path(dir) / "tokenizer.model", fs::copy_options::overwrite_existing);
      line = tok.name() + " tokenizer.model";
    }
  }
  std::ofstream out(fs::path(dir) / "tokenizer.txt");
  out << line << "\n";
  out.close();
  WEFT_CHECK(out.good(), "[data] cannot write ", dir, "/tokenizer.txt");
}

}  // namespace weft::data
