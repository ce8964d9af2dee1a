// Tokenizers: a built-in byte-level one (256 byte ids + end-of-text 256) and SentencePiece (BPE or
// unigram, trained here or loaded). A data folder names its tokenizer in tokenizer.txt ("byte", or
// "sentencepiece <model file>", the path relative to that folder), so `weft train --data DIR` knows the
// vocabulary without extra flags.
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
  virtual std::string model_file() const { return ""; }  // the file a description refers to, if any
};

std::unique_ptr<Tokenizer> make_byte_tokenizer();
std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path);

struct SentencePieceOptions {
  int vocab_size = 4096;
  std::string model_type = "bpe";     // bpe | unigram
  bool split_digits = true;           // every digit its own piece (MoEUT's tokenizer: BPE 8000, split digits)
  int64_t max_sentences = 2'000'000;  // lines sampled from the input for training
  int threads = 2;
};
// The options above that shape the model, as a JSON object ({"model_type": "bpe", "vocab_size": 8000,
// "split_digits": true}) for data.json, so a data folder says how its tokenizer was trained.
std::string sentencepiece_options_json(const SentencePieceOptions& opt);
// Trains a SentencePiece model on a text file (one sentence or document per line); writes
// <prefix>.model and <prefix>.vocab. Identity normalisation and kept whitespace, so decode(encode(t)) ==
// t; byte fallback, so any byte (newlines, rare characters) has ids; end-of-text = the model's </s>;
// digits split into single-digit pieces unless opt.split_digits is false.
void train_sentencepiece(const std::string& input_text, const std::string& model_prefix,
                         const SentencePieceOptions& opt);
void train_sentencepiece(const std::string& input_text, const std::string& model_prefix, int vocab_size);

// tokenizer.txt of a data folder. Throws naming the file when it is missing or malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& data_dir);
// Writes data_dir/tokenizer.txt; a SentencePiece model outside data_dir is first copied to
// data_dir/tokenizer.model, so the folder is self-contained.
void save_tokenizer_description(const Tokenizer& tok, const std::string& data_dir);

}  // namespace weft::data
