// Tokenizers: a built-in byte-level one (256 byte ids + end-of-text 256) and SentencePiece. A data folder
// names its tokenizer in tokenizer.txt ("byte", or "sentencepiece <model file>"), so `weft train --data DIR`
// knows the vocabulary without extra flags.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace weft::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;  // "byte" or "sentencepiece"
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;  // end-of-text ids are skipped
  virtual int64_t vocab_size() const = 0;
  virtual int32_t eot() const = 0;  // separates documents
  // The line written to a data folder's tokenizer.txt (paths relative to that folder).
  virtual std::string description() const = 0;
};

std::unique_ptr<Tokenizer> make_byte_tokenizer();
std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path);
// Trains a SentencePiece model (BPE) on a text file; writes <prefix>.model and <prefix>.vocab.
void train_sentencepiece(const std::string& input_text, const std::string& model_prefix, int vocab_size);

// tokenizer.txt of a data folder. Throws naming the file when it is missing or malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& data_dir);
void save_tokenizer_description(const Tokenizer& tok, const std::string& data_dir);

}  // namespace weft::data
