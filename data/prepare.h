// `weft prepare --input PATH`: user text to a data folder (train/val token shards, tokenizer.txt,
// data.json). Inputs are read by DocumentReader (documents.h: .txt, .jsonl, folders). Documents end with
// the tokenizer's end-of-text id; document i goes to validation when floor((i + 1) f) > floor(i f), an
// exact, evenly spread fraction f. With fewer than 1 / f documents the last one is the validation
// split, and a single document is cut: its last f of tokens. Also the helpers the built-in corpus shares.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "data/split.h"
#include "data/tokenizer.h"

namespace weft::data {

struct TextPrepareOptions {
  std::string input, out_dir;
  std::string tokenizer = "byte";  // byte | sentencepiece
  std::string sp_model;            // existing SentencePiece model; empty: train one on the input
  SentencePieceOptions sp;                      // when one is trained (sp.input_name: set from input)
  std::vector<std::string> text_fields = {"text"};  // JSONL: the fields a document is made of (documents.h)
  int64_t sp_train_bytes = int64_t(256) << 20;  // the first documents up to this size train the model
  double val_fraction = 0.05;
  int64_t shard_tokens = 0;  // > 0: shards of about this many tokens (split.h)
};

struct TextPrepareStats {
  int64_t documents = 0, train_tokens = 0, val_tokens = 0;
  int64_t skipped_empty = 0, train_shards = 0, val_shards = 0;
  double seconds = 0;
  std::vector<std::string> notes;  // SentencePiece's advice when one was trained (train_sentencepiece)
};

TextPrepareStats prepare_text(const TextPrepareOptions& opt);

// --- shared with the built-in corpus -------------------------------------------------------------------

bool is_validation_document(int64_t index, double val_fraction);

// Sends documents, in order, to the train and val splits of out_dir by the rule above. Holds the latest
// document back until the next one arrives, so finish() can still give it to validation.
class DocumentRouter {
 public:
  DocumentRouter(const std::string& out_dir, const Tokenizer& tok, double val_fraction, int64_t shard_tokens);
  void add(std::vector<int32_t>&& ids);
  void finish();  // closes both splits
  int64_t documents() const { return n_; }
  int64_t train_tokens() const { return train_.tokens(); }
  int64_t val_tokens() const { return val_.tokens(); }
  const std::vector<std::string>& train_files() const { return train_files_; }
  const std::vector<std::string>& val_files() const { return val_files_; }

 private:
  SplitWriter train_, val_;
  double f_;
  int64_t n_ = 0;
  std::vector<int32_t> pending_;
  std::vector<std::string> train_files_, val_files_;
};

// "byte", or "sentencepiece" from an existing model (copied into out_dir as tokenizer.model) or trained
// on the text that write_corpus writes (one document or sentence per line) into a temporary file
// (messages name sp.input_name); SentencePiece's advice is appended to *notes.
std::unique_ptr<Tokenizer> setup_tokenizer(const std::string& kind, const std::string& sp_model,
                                           const SentencePieceOptions& sp, const std::string& out_dir,
                                           std::vector<std::string>* notes,
                                           const std::function<void(std::ostream&)>& write_corpus);

// The data.json member that says where the tokenizer came from, so a folder can be rebuilt: trained here,
// "sentencepiece_training": {"model_type", "vocab_size", "split_digits", ...} (sentencepiece_options_json);
// copied, "sentencepiece_model": the --sp-model path given; "" for the byte tokenizer.
std::string tokenizer_origin_json(const std::string& kind, const std::string& sp_model,
                                  const SentencePieceOptions& sp);

// Encodes documents in parallel (OpenMP); the result does not depend on the thread count.
std::vector<std::vector<int32_t>> encode_documents(const Tokenizer& tok, const std::vector<std::string>& docs);

// Writes out_dir/data.json: what the folder holds, for people and tools (`weft train` needs only
// tokenizer.txt and the shards). extra: more "key": value members, already JSON.
void write_data_summary(const std::string& out_dir, const std::string& source, const Tokenizer& tok, int64_t documents,
                        int64_t train_tokens, int64_t val_tokens, const std::vector<std::string>& train_files,
                        const std::vector<std::string>& val_files, const std::string& extra = "");

}  // namespace weft::data
