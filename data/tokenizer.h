// Tokenizers: a built-in byte-level one (256 byte ids + end-of-text 256) and SentencePiece (BPE or
// unigram, trained here or loaded). A data folder names its tokenizer in tokenizer.txt ("byte", or
// "sentencepiece <model file>", the path relative to that folder), so `weft train --data DIR` knows the
// vocabulary without extra flags. A tokenizer's identity (kind, size, hash of its pieces) goes into
// checkpoints, so eval, sample and resume refuse data made with another tokenizer.
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
  // The text of one id as the vocabulary holds it (SentencePiece: the piece, with U+2581 for a space; the
  // byte tokenizer: the byte, "<|endoftext|>" for end-of-text). Default: decode({id}).
  virtual std::string piece(int32_t id) const { return decode({id}); }
};

// What a checkpoint records of the tokenizer its data used: kind (name()), vocabulary size, and a hash
// (FNV-1a 64, 16 hex digits) of every piece in id order and the end-of-text id.
struct TokenizerIdentity {
  std::string kind;
  int64_t vocab_size = 0;
  std::string hash;
  bool operator==(const TokenizerIdentity&) const = default;
};
TokenizerIdentity tokenizer_identity(const Tokenizer& tok);
// "sentencepiece (4096 pieces, hash 0123456789abcdef)".
std::string describe(const TokenizerIdentity& id);

std::unique_ptr<Tokenizer> make_byte_tokenizer();
std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path);

// SentencePiece trainer options weft exposes (flag --a-b for trainer option a_b). The defaults keep text
// exact and suit whitespace-heavy text (code, manuals): identity normalisation and kept whitespace, so
// decode(encode(t)) == t; byte fallback, so any byte (newlines, rare characters) has ids; runs of spaces
// may become pieces (allow_whitespace_only_pieces; without it every indentation space but the last is a
// lone-space token).
struct SentencePieceOptions {
  int vocab_size = 4096;
  std::string model_type = "bpe";     // bpe | unigram
  bool split_digits = true;           // every digit its own piece (MoEUT's tokenizer: BPE 8000, split digits)
  std::string normalization = "identity";  // normalization_rule_name: identity | nmt_nfkc | nfkc | ...
  bool remove_extra_whitespaces = false;
  bool byte_fallback = true;
  bool allow_whitespace_only_pieces = true;
  bool treat_whitespace_as_suffix = false;
  double character_coverage = 0.9995;  // rarer characters go through byte fallback
  int64_t max_sentences = 2'000'000;  // lines sampled from the input for training
  int threads = 2;
  std::string input_name;  // what messages call the input (the user's file when input_text is a copy)
};
// The options above that shape the model, as a JSON object ({"model_type": "bpe", "vocab_size": 8000,
// "split_digits": true, ...}) for data.json, so a data folder says how its tokenizer was trained.
std::string sentencepiece_options_json(const SentencePieceOptions& opt);
// Trains a SentencePiece model on a text file (one sentence or document per line); writes
// <prefix>.model and <prefix>.vocab; end-of-text = the model's </s>. Errors and SentencePiece's own
// warnings name weft's flags (--vocab-size for vocab_size) and opt.input_name. Returns SentencePiece's
// advice worth showing the user (lines of text, weft's flag names), e.g. that the corpus supports fewer
// pieces than --vocab-size.
std::vector<std::string> train_sentencepiece(const std::string& input_text, const std::string& model_prefix,
                                             const SentencePieceOptions& opt);
std::vector<std::string> train_sentencepiece(const std::string& input_text, const std::string& model_prefix,
                                             int vocab_size);

// tokenizer.txt of a data folder. Throws naming the file when it is missing or malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& data_dir);
// Writes data_dir/tokenizer.txt; a SentencePiece model outside data_dir is first copied to
// data_dir/tokenizer.model, so the folder is self-contained.
void save_tokenizer_description(const Tokenizer& tok, const std::string& data_dir);

}  // namespace weft::data
