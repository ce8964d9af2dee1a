// `weft prepare --input FILE`: user text to token shards. A .jsonl file has one JSON object per line
// with a "text" field; a .txt file holds documents separated by lines containing only <|endoftext|>
// (a file without such lines is one document per blank-line-separated paragraph). Documents end with
// the tokenizer's end-of-text id; every k-th document goes to validation (val_fraction ~ 1/k).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::data {

struct TextPrepareOptions {
  std::string input, out_dir;
  std::string tokenizer = "byte";   // byte | sentencepiece
  std::string sp_model;             // existing SentencePiece model; empty: train one
  int sp_vocab_size = 4096;
  double val_fraction = 0.05;
};

struct TextPrepareStats {
  int64_t documents = 0, train_tokens = 0, val_tokens = 0;
};

// Reads the documents of a .txt or .jsonl file; errors name the file and line.
std::vector<std::string> read_documents(const std::string& path);
TextPrepareStats prepare_text(const TextPrepareOptions& opt);

}  // namespace weft::data
